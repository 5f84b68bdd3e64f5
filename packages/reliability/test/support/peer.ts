/**
 * A TCP peer on 127.0.0.1 that plays a Faktory server badly, for what a real server never
 * does. It greets, reads command lines, and lets the scenario answer each as it likes. It is
 * closed, with every socket it accepted, when the scope closes.
 */
import { Effect } from "effect"
import * as Net from "node:net"

export interface Peer {
  readonly port: number
  /** With a password, so that a salted greeting gets a HELLO rather than an AuthenticationError. */
  readonly url: string
  readonly accepted: () => number
}

export const listen = (onConnection: (socket: Net.Socket) => void) =>
  Effect.acquireRelease(
    Effect.async<{ readonly server: Net.Server; readonly sockets: Set<Net.Socket>; readonly peer: Peer }>((resume) => {
      const sockets = new Set<Net.Socket>()
      let accepted = 0
      const server = Net.createServer((socket) => {
        accepted++
        sockets.add(socket)
        socket.on("error", () => {})
        socket.on("close", () => sockets.delete(socket))
        onConnection(socket)
      })
      server.listen(0, "127.0.0.1", () => {
        const address = server.address()
        const port = typeof address === "object" && address !== null ? address.port : 0
        resume(Effect.succeed({
          server,
          sockets,
          peer: { port, url: `tcp://:peer-password@127.0.0.1:${port}`, accepted: () => accepted }
        }))
      })
    }),
    ({ server, sockets }) =>
      Effect.async<void>((resume) => {
        for (const socket of sockets) socket.destroy()
        server.close(() => resume(Effect.void))
      })
  ).pipe(Effect.map(({ peer }) => peer))

/** Greets with `greeting` (bytes are written as they are), then hands each command line to `answer`. */
export const speaking = (
  greeting: string | Uint8Array | ((socket: Net.Socket) => void),
  answer: (line: string, socket: Net.Socket) => void = helloThen(() => {})
) =>
  listen((socket) => {
    if (typeof greeting === "function") greeting(socket)
    else socket.write(greeting)
    let buffered = ""
    socket.on("data", (data: Buffer) => {
      buffered += data.toString("latin1")
      let end = buffered.indexOf("\r\n")
      while (end !== -1) {
        answer(buffered.slice(0, end), socket)
        buffered = buffered.slice(end + 2)
        end = buffered.indexOf("\r\n")
      }
    })
  })

export const GREETING = "+HI {\"v\":2}\r\n"

/** Answers HELLO with OK, and every other command with `rest`. */
export const helloThen = (rest: (line: string, socket: Net.Socket) => void) => (line: string, socket: Net.Socket) => {
  if (line.startsWith("HELLO ")) socket.write("+OK\r\n")
  else rest(line, socket)
}

const alive = (socket: Net.Socket) => !socket.destroyed && socket.writable

/** Writes `bytes` one byte at a time, `everyMillis` apart (0: one per turn of the event loop). */
export const trickle = (socket: Net.Socket, bytes: string | Uint8Array, everyMillis = 0): void => {
  const all = typeof bytes === "string" ? Buffer.from(bytes, "utf8") : Buffer.from(bytes)
  let at = 0
  const step = () => {
    if (at >= all.byteLength || !alive(socket)) return
    socket.write(all.subarray(at, at + 1))
    at++
    if (everyMillis === 0) setImmediate(step)
    else setTimeout(step, everyMillis)
  }
  step()
}

/** Writes `fill` for ever (64 KiB at a time, as fast as the client reads) until the socket closes. */
export const flood = (socket: Net.Socket, prefix: string, fill: number): { readonly written: () => number } => {
  const block = Buffer.alloc(64 * 1024, fill)
  let written = 0
  const pump = () => {
    while (alive(socket)) {
      written += block.byteLength
      if (!socket.write(block)) return
    }
  }
  socket.on("drain", pump)
  socket.write(prefix)
  pump()
  return { written: () => written }
}
