/**
 * A TCP proxy on 127.0.0.1 between a client and a real server that, at random (seeded),
 * refuses connections, cuts them (after passing on part of a chunk, so a command or a reply
 * arrives half-written) and stalls them (holds a direction's bytes for a while, then passes
 * them on in order). Decisions are drawn per chunk from one seeded generator: the same seed
 * gives the same sequence of decisions, though the chunks they fall on depend on timing.
 */
import { Effect } from "effect"
import * as Net from "node:net"
import type * as Random from "./random.js"

export interface ChaosOptions {
  readonly random: Random.Random
  /** Chance that a new connection is closed at once. */
  readonly refuse: number
  /** Chance, per chunk, that the connection is cut after part of the chunk. */
  readonly cut: number
  /** Chance, per chunk, that its direction stalls before the chunk. */
  readonly stall: number
  readonly stallMillis: readonly [number, number]
}

export interface ChaosStats {
  connections: number
  refused: number
  cuts: number
  stalls: number
  bytesUp: number
  bytesDown: number
}

export interface ChaosProxy {
  readonly port: number
  readonly stats: ChaosStats
  /** Chaos on or off (off: a plain proxy), for warming up and checking afterwards. */
  readonly setEnabled: (enabled: boolean) => void
  /** Other chances from now on (fewer, larger chunks need higher chances per chunk). */
  readonly configure: (chances: Partial<Omit<ChaosOptions, "random">>) => void
}

export const make = (upstreamPort: number, initial: ChaosOptions) =>
  Effect.acquireRelease(
    Effect.async<{ readonly server: Net.Server; readonly sockets: Set<Net.Socket>; readonly proxy: ChaosProxy }>((resume) => {
      const { random } = initial
      let options = initial
      const stats: ChaosStats = { connections: 0, refused: 0, cuts: 0, stalls: 0, bytesUp: 0, bytesDown: 0 }
      const sockets = new Set<Net.Socket>()
      let enabled = true
      const track = (socket: Net.Socket) => {
        sockets.add(socket)
        socket.on("error", () => {})
        socket.on("close", () => sockets.delete(socket))
      }
      const server = Net.createServer((client) => {
        stats.connections++
        track(client)
        if (enabled && random.chance(options.refuse)) {
          stats.refused++
          client.destroy()
          return
        }
        const upstream = Net.connect({ host: "127.0.0.1", port: upstreamPort })
        track(upstream)
        let dead = false
        const kill = () => {
          if (dead) return
          dead = true
          client.destroy()
          upstream.destroy()
        }
        client.on("close", kill)
        upstream.on("close", kill)
        const relay = (from: Net.Socket, to: Net.Socket, count: (bytes: number) => void) => {
          const queue: Array<Buffer> = []
          let held = false
          const pump = () => {
            while (!held && !dead && queue.length > 0) {
              const chunk = queue.shift()!
              if (enabled && random.chance(options.cut)) {
                stats.cuts++
                held = true
                const keep = random.int(0, chunk.byteLength - 1)
                if (keep === 0) kill()
                else to.write(chunk.subarray(0, keep), kill)
                return
              }
              if (enabled && random.chance(options.stall)) {
                stats.stalls++
                held = true
                queue.unshift(chunk)
                setTimeout(() => {
                  held = false
                  pump()
                }, random.int(options.stallMillis[0], options.stallMillis[1]))
                return
              }
              count(chunk.byteLength)
              to.write(chunk)
            }
          }
          from.on("data", (chunk: Buffer) => {
            queue.push(chunk)
            pump()
          })
        }
        relay(client, upstream, (bytes) => (stats.bytesUp += bytes))
        relay(upstream, client, (bytes) => (stats.bytesDown += bytes))
      })
      server.listen(0, "127.0.0.1", () => {
        const address = server.address()
        const port = typeof address === "object" && address !== null ? address.port : 0
        resume(Effect.succeed({ server, sockets, proxy: {
            port,
            stats,
            setEnabled: (on) => (enabled = on),
            configure: (chances) => (options = { ...options, ...chances })
          }
        }))
      })
    }),
    ({ server, sockets }) =>
      Effect.async<void>((resume) => {
        for (const socket of sockets) socket.destroy()
        server.close(() => resume(Effect.void))
      })
  ).pipe(Effect.map(({ proxy }) => proxy))
