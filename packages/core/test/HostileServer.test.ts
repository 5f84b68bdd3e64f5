import { describe, expect, it } from "@effect/vitest"
import { Client, type ConnectionError, type ProtocolError, Worker } from "@effect-faktory/core"
import { NodeTransport } from "@effect-faktory/node"
import { Effect, Logger, Schedule } from "effect"
import * as Net from "node:net"

// Peers that do what a real Faktory server never does: greet with absurd or unknown values,
// stay silent, send bytes that are not a greeting, announce enormous replies. Each is a plain
// TCP server on a free port, closed (with its sockets) when the test's scope closes.

const client = (options: Client.ClientOptions) => Client.make(options).pipe(Effect.provide(NodeTransport.layer))

const peer = (onConnection: (socket: Net.Socket) => void) =>
  Effect.acquireRelease(
    Effect.async<{ server: Net.Server; sockets: Set<Net.Socket>; url: string }>((resume) => {
      const sockets = new Set<Net.Socket>()
      const server = Net.createServer((socket) => {
        sockets.add(socket)
        socket.on("error", () => {})
        socket.on("close", () => sockets.delete(socket))
        onConnection(socket)
      })
      server.listen(0, "127.0.0.1", () => {
        const address = server.address()
        const port = typeof address === "object" && address !== null ? address.port : 0
        resume(Effect.succeed({ server, sockets, url: `tcp://:not-the-password@127.0.0.1:${port}` }))
      })
    }),
    ({ server, sockets }) =>
      Effect.async<void>((resume) => {
        for (const socket of sockets) socket.destroy()
        server.close(() => resume(Effect.void))
      })
  )

/** A peer that greets with `greeting`, then answers each command line with `answer(line)`. */
const speaking = (greeting: string, answer: (line: string) => string | undefined) =>
  peer((socket) => {
    socket.write(greeting)
    let buffered = ""
    socket.on("data", (data) => {
      buffered += data.toString("utf8")
      let end = buffered.indexOf("\r\n")
      while (end !== -1) {
        const reply = answer(buffered.slice(0, end))
        if (reply !== undefined) socket.write(reply)
        buffered = buffered.slice(end + 2)
        end = buffered.indexOf("\r\n")
      }
    })
  })

const elapsed = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.gen(function*() {
    const started = Date.now()
    const value = yield* effect
    return { value, millis: Date.now() - started }
  })

describe("a hostile or broken server", () => {
  it.live("a greeting asking for 1,000,000 hash rounds is refused at once, not hashed for seconds", () =>
    Effect.gen(function*() {
      const { url } = yield* speaking("+HI {\"v\":2,\"s\":\"1f2e3d4c5b6a7988\",\"i\":1000000}\r\n", () => "+OK\r\n")
      const faktory = yield* client({ url, handshakeTimeout: "2 seconds", connectRetry: Schedule.recurs(0) })
      const { millis, value: error } = yield* elapsed(Effect.flip(faktory.info))
      expect(error._tag).toBe("ProtocolError")
      expect(error.message).toContain("1000000")
      expect(millis).toBeLessThan(1000)
    }).pipe(Effect.scoped))

  for (const version of [1, 99]) {
    it.live(`a greeting of protocol version ${version} fails with a ProtocolError naming it`, () =>
      Effect.gen(function*() {
        const { url } = yield* speaking(`+HI {"v":${version}}\r\n`, () => "+OK\r\n")
        const faktory = yield* client({ url, connectRetry: Schedule.recurs(0) })
        const error = (yield* Effect.flip(faktory.push({ jobtype: "Versioned" }))) as ProtocolError
        expect(error._tag).toBe("ProtocolError")
        expect(error.message).toContain(`version ${version}`)
      }).pipe(Effect.scoped))
  }

  it.live("a server that accepts and never answers fails a push within connectDeadline, all retries included", () =>
    Effect.gen(function*() {
      const { url } = yield* peer(() => {})
      const faktory = yield* client({ url, handshakeTimeout: "1 second", connectDeadline: "1500 millis" })
      const { millis, value: error } = yield* elapsed(Effect.flip(faktory.push({ jobtype: "Silent" })))
      expect(error).toMatchObject({ _tag: "ConnectionError", reason: "Timeout" })
      expect(error.message).toContain("1500 ms")
      // Without the connect deadline: five tries of one second each, plus the backoff between them.
      expect(millis).toBeLessThan(2500)
      expect(millis).toBeGreaterThanOrEqual(1400)
    }).pipe(Effect.scoped))

  it.live("by default a silent server fails a push after about 10 s, not five handshake timeouts (26 s)", () =>
    Effect.gen(function*() {
      const { url } = yield* peer(() => {})
      const faktory = yield* client({ url })
      const { millis, value: error } = yield* elapsed(Effect.flip(faktory.push({ jobtype: "Silent" })))
      expect(error).toMatchObject({ _tag: "ConnectionError", reason: "Timeout" })
      expect(millis).toBeLessThan(11_500)
    }).pipe(Effect.scoped), { timeout: 40_000 })

  it.live("a silent plaintext peer: the handshake timeout says nothing came, and suggests TLS", () =>
    Effect.gen(function*() {
      const { url } = yield* peer(() => {})
      const faktory = yield* client({ url, handshakeTimeout: "300 millis", connectRetry: Schedule.recurs(0) })
      const error = (yield* Effect.flip(faktory.info)) as ConnectionError
      expect(error).toMatchObject({ _tag: "ConnectionError", reason: "Timeout" })
      expect(error.message).toContain("sent nothing")
      expect(error.message).toContain("TLS")
    }).pipe(Effect.scoped))

  it.live("a peer that sends bytes that are no greeting: the timeout says so, and does not blame TLS", () =>
    Effect.gen(function*() {
      const { url } = yield* peer((socket) => socket.write("SSH-2.0-OpenSSH_9.6"))
      const faktory = yield* client({ url, handshakeTimeout: "300 millis", connectRetry: Schedule.recurs(0) })
      const error = (yield* Effect.flip(faktory.info)) as ConnectionError
      expect(error).toMatchObject({ _tag: "ConnectionError", reason: "Timeout" })
      expect(error.message).toContain("19 bytes")
      expect(error.message).not.toContain("TLS")
    }).pipe(Effect.scoped))

  it.live("a server that greets but never answers HELLO: the timeout says which step hung", () =>
    Effect.gen(function*() {
      const { url } = yield* speaking("+HI {\"v\":2}\r\n", () => undefined)
      const faktory = yield* client({ url, handshakeTimeout: "300 millis", connectRetry: Schedule.recurs(0) })
      const error = (yield* Effect.flip(faktory.info)) as ConnectionError
      expect(error).toMatchObject({ _tag: "ConnectionError", reason: "Timeout" })
      expect(error.message).toContain("HELLO")
      expect(error.message).not.toContain("TLS")
    }).pipe(Effect.scoped))

  it.live("a reply announced beyond maxReplyBytes fails with BulkTooLarge as soon as it is announced", () =>
    Effect.gen(function*() {
      const { url } = yield* speaking("+HI {\"v\":2}\r\n", (line) => line.startsWith("HELLO") ? "+OK\r\n" : "$536870000\r\n")
      const faktory = yield* client({ url, maxReplyBytes: 1_000_000, replyTimeout: "2 seconds", connectRetry: Schedule.recurs(0) })
      const { millis, value: error } = yield* elapsed(Effect.flip(faktory.info))
      expect(error).toMatchObject({ _tag: "ProtocolError", reason: "BulkTooLarge" })
      expect(error.message).toContain("1000000")
      expect(millis).toBeLessThan(1000)
    }).pipe(Effect.scoped))
  it.live("a ProtocolError names the server: from the greeting, the framing, and a reply of the wrong shape", () =>
    Effect.gen(function*() {
      const peers = [
        yield* speaking("+HI {\"v\":99}\r\n", () => "+OK\r\n"),
        yield* speaking("+HI {\"v\":2}\r\n", (line) => line.startsWith("HELLO") ? "+OK\r\n" : "!what\r\n"),
        yield* speaking("+HI {\"v\":2}\r\n", (line) => line.startsWith("HELLO") ? "+OK\r\n" : ":42\r\n")
      ]
      for (const { url } of peers) {
        const faktory = yield* client({ url, connectRetry: Schedule.recurs(0) })
        const error = yield* Effect.flip(faktory.info)
        expect(error._tag).toBe("ProtocolError")
        const address = url.slice(url.lastIndexOf("@") + 1)
        expect(error.message).toContain(`(${address})`)
        expect(error.message).not.toContain("not-the-password")
      }
    }).pipe(Effect.scoped))

  it.live("a server that answers every FETCH with an error is one outage: one WARN, no INFO back and forth", () =>
    Effect.gen(function*() {
      // What a Faktory whose Redis is going away does: HELLO and BEAT succeed, FETCH errs.
      let fetches = 0
      const { url } = yield* speaking("+HI {\"v\":2}\r\n", (line) => {
        if (line.startsWith("FETCH")) {
          fetches++
          return "-ERR redis: client is closed\r\n"
        }
        return line.startsWith("END") ? undefined : "+OK\r\n"
      })
      const lines: Array<string> = []
      const logger = Logger.make(({ message }) => {
        lines.push(Array.isArray(message) ? message.join(" ") : String(message))
      })
      yield* Effect.scoped(Effect.gen(function*() {
        yield* Worker.make({ queues: ["outage"], concurrency: 3, shutdownTimeout: "1 second", client: { url } }).pipe(
          Effect.provide(NodeTransport.layer)
        )
        yield* Effect.sleep("2500 millis")
      })).pipe(Effect.provide(Logger.replace(Logger.defaultLogger, logger)))
      expect(fetches).toBeGreaterThanOrEqual(6)
      expect(lines.filter((line) => line.includes("cannot fetch"))).toHaveLength(1)
      expect(lines.filter((line) => line.includes("fetching from"))).toHaveLength(0)
    }).pipe(Effect.scoped))
})
