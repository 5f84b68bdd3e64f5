import { describe, expect, it } from "@effect/vitest"
import { type ConnectionError } from "@effect-faktory/core"
import { NodeTransport } from "@effect-faktory/node"
import { FaktoryServer } from "@effect-faktory/testing"
import { Effect, Fiber, Schedule } from "effect"
import * as Fs from "node:fs"
import * as Net from "node:net"
import { client } from "./support/server.js"

/** A TCP peer that accepts and then does what `onConnection` says: not a Faktory server. */
const peer = (onConnection: (socket: Net.Socket) => void) =>
  Effect.acquireRelease(
    Effect.async<{ server: Net.Server; port: number }>((resume) => {
      const server = Net.createServer(onConnection)
      server.listen(0, "127.0.0.1", () => {
        const address = server.address()
        resume(Effect.succeed({ server, port: typeof address === "object" && address !== null ? address.port : 0 }))
      })
    }),
    ({ server }) =>
      Effect.async<void>((resume) => {
        server.close(() => resume(Effect.void))
      })
  )

describe("connection failures", () => {
  it.live("a server stopped mid-push gives a typed error, loses no acknowledged job, and is reconnected to", () =>
    Effect.gen(function*() {
      const server = yield* FaktoryServer.make({ webUi: false })
      const faktory = yield* client({ ...server.clientOptions, poolSize: 2, connectRetry: Schedule.recurs(2) })
      let acknowledged = 0
      const pusher = yield* Effect.fork(
        Effect.forever(
          Effect.tap(faktory.push({ jobtype: "Durable", queue: "stop-q" }), () => Effect.sync(() => acknowledged++))
        )
      )
      yield* Effect.sleep("300 millis")
      const stoppedAt = Date.now()
      yield* server.stop
      const exit = yield* Fiber.join(pusher).pipe(Effect.flip, Effect.timeout("15 seconds"))
      expect(exit._tag).toBe("ConnectionError")
      expect(Date.now() - stoppedAt).toBeLessThan(15_000)
      expect(acknowledged).toBeGreaterThan(0)

      yield* server.start
      // Every push the server acknowledged survived the restart (Redis saves on shutdown).
      const info = yield* faktory.info
      expect(info.faktory.queues["stop-q"] ?? 0).toBeGreaterThanOrEqual(acknowledged)
      yield* faktory.push({ jobtype: "AfterRestart", queue: "stop-q" })
    }).pipe(Effect.scoped))

  it.live("a stalled server trips the reply timeout instead of hanging", () =>
    Effect.gen(function*() {
      const server = yield* FaktoryServer.make({ webUi: false })
      const faktory = yield* client({ ...server.clientOptions, poolSize: 1, replyTimeout: "1 second", connectRetry: Schedule.recurs(0) })
      yield* faktory.push({ jobtype: "Warmup" })
      const pid = server.pid()
      expect(pid).toBeDefined()
      process.kill(pid!, "SIGSTOP")
      yield* Effect.addFinalizer(() => Effect.sync(() => process.kill(pid!, "SIGCONT")))
      // The signal takes effect asynchronously: wait until the kernel reports it stopped.
      yield* Effect.repeat(
        Effect.sync(() => Fs.readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]?.startsWith("T") ?? false),
        { until: (stopped) => stopped, schedule: Schedule.spaced("10 millis") }
      )
      const started = Date.now()
      const error = yield* Effect.flip(faktory.push({ jobtype: "Stalled" }))
      expect(error).toMatchObject({ _tag: "ConnectionError", reason: "Timeout" })
      expect(error.message).toContain("no reply to PUSH")
      expect(Date.now() - started).toBeLessThan(5000)
    }).pipe(Effect.scoped))

  it.live("nothing listening: Refused, after a short backoff, within the deadline", () =>
    Effect.gen(function*() {
      const port = yield* FaktoryServer.freePort
      const faktory = yield* client({ url: `tcp://127.0.0.1:${port}` })
      const started = Date.now()
      const error = yield* Effect.flip(faktory.push({ jobtype: "Nowhere" }))
      const elapsed = Date.now() - started
      expect(error).toMatchObject({ _tag: "ConnectionError", reason: "Refused", address: `127.0.0.1:${port}` })
      expect(error.message).toContain("is Faktory running?")
      // Four retries with doubling, jittered waits: not a busy loop, not a long hang.
      expect(elapsed).toBeGreaterThan(200)
      expect(elapsed).toBeLessThan(6000)
    }).pipe(Effect.scoped))

  it.live("a peer that never greets: handshake Timeout within the deadline", () =>
    Effect.gen(function*() {
      const { port } = yield* peer(() => {})
      const faktory = yield* client({
        url: `tcp://127.0.0.1:${port}`,
        handshakeTimeout: "500 millis",
        connectRetry: Schedule.recurs(0)
      })
      const started = Date.now()
      const error = (yield* Effect.flip(faktory.info)) as ConnectionError
      expect(error).toMatchObject({ _tag: "ConnectionError", reason: "Timeout" })
      expect(error.message).toContain("handshake")
      expect(Date.now() - started).toBeLessThan(3000)
    }).pipe(Effect.scoped))

  it.live("a peer that is not Faktory: ProtocolError", () =>
    Effect.gen(function*() {
      const { port } = yield* peer((socket) => socket.end("HTTP/1.1 400 Bad Request\r\n\r\n"))
      const faktory = yield* client({ url: `tcp://127.0.0.1:${port}`, connectRetry: Schedule.recurs(0) })
      const error = yield* Effect.flip(faktory.info)
      expect(error._tag).toBe("ProtocolError")
    }).pipe(Effect.scoped))

  it("classifies connect errors", () => {
    const error = (code: string) => Object.assign(new Error(code), { code })
    expect(NodeTransport.classifyConnectError(error("ECONNREFUSED"), "a:1", false).reason).toBe("Refused")
    expect(NodeTransport.classifyConnectError(error("ENOTFOUND"), "a:1", false).reason).toBe("Dns")
    expect(NodeTransport.classifyConnectError(error("ETIMEDOUT"), "a:1", false).reason).toBe("Timeout")
    expect(NodeTransport.classifyConnectError(error("DEPTH_ZERO_SELF_SIGNED_CERT"), "a:1", true).reason).toBe("Tls")
    expect(NodeTransport.classifyConnectError(error("ERR_SSL_WRONG_VERSION_NUMBER"), "a:1", true).reason).toBe("Tls")
    expect(NodeTransport.classifyConnectError(error("ECONNRESET"), "a:1", false).reason).toBe("Closed")
  })
})
