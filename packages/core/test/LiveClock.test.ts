import { expect, layer } from "@effect/vitest"
import { Client, Connection, FaktoryUrl, Job, Worker } from "@effect-faktory/core"
import { NodeTransport } from "@effect-faktory/node"
import { FaktoryServer } from "@effect-faktory/testing"
import { Clock, Deferred, Effect, Either, Exit, Layer, Schedule, Schema, Scope, TestClock } from "effect"
import * as Net from "node:net"
import { Env } from "./support.js"

// Under @effect/vitest's layer(...) with its default test services every fiber starts with the
// TestClock, which moves only when a test adjusts it. The library's own timers must pass in real
// time all the same (a connect's retries and deadline, a handshake's timeout, heartbeats,
// backoffs, shutdown), while a handler keeps the clock of whoever made the worker.

/** The test's own waits, in real time. */
const live = <A, E, R>(self: Effect.Effect<A, E, R>) => Effect.withClock(self, Clock.make())

const waitFor = (what: string, condition: () => boolean, seconds = 10) =>
  Effect.suspend(() => (condition() ? Effect.void : Effect.fail(what))).pipe(
    Effect.retry(Schedule.spaced("20 millis").pipe(Schedule.upTo(`${seconds} seconds`))),
    Effect.orElse(() => Effect.dieMessage(`timed out after ${seconds} s waiting for: ${what}`)),
    live
  )

/** Real milliseconds `self` took. */
const timed = <A, E, R>(self: Effect.Effect<A, E, R>) =>
  Effect.suspend(() => {
    const started = Date.now()
    return Effect.map(self, (value) => [value, Date.now() - started] as const)
  })

const Slow = Job.define("Slow", { args: Schema.Tuple(), queue: "lc-slow" })
const Quick = Job.define("Quick", { args: Schema.Tuple(Schema.Number), queue: "lc-quick" })

layer(Env, { timeout: "60 seconds" })("the library's timers under the TestClock", (it) => {
  it.effect("the clock here is the TestClock", () =>
    Effect.gen(function*() {
      const before = yield* Clock.currentTimeMillis
      yield* TestClock.adjust("1 hour")
      expect((yield* Clock.currentTimeMillis) - before).toBe(3_600_000)
    }))

  it.effect("a connect that keeps failing gives up at its deadline, in real time", () =>
    Effect.gen(function*() {
      const port = yield* FaktoryServer.freePort
      const client = yield* Client.make({ url: `tcp://127.0.0.1:${port}`, connectDeadline: "1 second" })
      const [error, millis] = yield* timed(Effect.flip(client.info))
      expect(error._tag).toBe("ConnectionError")
      expect(millis).toBeLessThan(5000)
    }).pipe(Effect.scoped, Effect.provide(NodeTransport.layer)), { timeout: 15_000 })

  it.effect("a server that accepts but never greets fails the handshake at its timeout", () =>
    Effect.gen(function*() {
      const silent = Net.createServer(() => {})
      yield* Effect.acquireRelease(
        Effect.async<void>((resume) => {
          silent.listen(0, "127.0.0.1", () => resume(Effect.void))
        }),
        () => Effect.sync(() => silent.close())
      )
      const address = silent.address() as Net.AddressInfo
      const url = Either.getOrThrow(FaktoryUrl.parse(`tcp://127.0.0.1:${address.port}`))
      const [error, millis] = yield* timed(Effect.flip(Effect.scoped(Connection.make({ url, handshakeTimeout: "300 millis" }))))
      expect(error).toMatchObject({ _tag: "ConnectionError", reason: "Timeout" })
      expect(error.message).toContain("the handshake did not finish within 300 ms")
      expect(millis).toBeLessThan(3000)
    }).pipe(Effect.scoped, Effect.provide(NodeTransport.layer)), { timeout: 15_000 })

  it.effect("a worker beats in real time, runs again after its server restarts, and stops within its shutdown timeout", () =>
    Effect.gen(function*() {
      const server = yield* FaktoryServer.FaktoryServer
      const client = yield* Client.Client
      let beats = 0
      const ran: Array<number> = []
      const slowStarted = yield* Deferred.make<void>()
      const scope = yield* Scope.make()
      yield* Worker.make({
        queues: ["lc-quick", "lc-slow"],
        concurrency: 2,
        heartbeatInterval: "1 second",
        shutdownTimeout: "1 second",
        // Called with every heartbeat.
        rssKb: () => ++beats,
        client: server.clientOptions
      }).pipe(
        Effect.provide(Layer.mergeAll(
          Quick.handle(([n]) => Effect.sync(() => ran.push(n))),
          // Sleeps on the handler's clock, the TestClock: it never ends unless the test moves it.
          Slow.handle(() => Effect.zipRight(Deferred.succeed(slowStarted, undefined), Effect.sleep("1 hour"))),
          NodeTransport.layer
        )),
        Scope.extend(scope)
      )
      yield* waitFor("three heartbeats (the first and two more a second apart)", () => beats >= 3)

      // The processors back off after the server goes away, and come back in real time.
      yield* server.stop
      yield* server.start
      yield* client.push({ jobtype: "Quick", args: [1], queue: "lc-quick" })
      yield* waitFor("the job pushed after the restart", () => ran.length === 1, 20)

      // A handler stuck on the TestClock holds the shutdown only for the shutdown timeout.
      yield* client.push({ jobtype: "Slow", args: [], queue: "lc-slow" })
      yield* Deferred.await(slowStarted)
      const [, millis] = yield* timed(Scope.close(scope, Exit.void))
      expect(millis).toBeLessThan(4000)
    }), { timeout: 40_000 })
})
