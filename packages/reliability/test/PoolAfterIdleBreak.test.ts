import { describe, expect, it } from "@effect/vitest"
import { Client } from "@effect-faktory/core"
import { NodeTransport } from "@effect-faktory/node"
import { FaktoryServer } from "@effect-faktory/testing"
import { Effect } from "effect"

// A client idle through a server restart: every pooled connection breaks while nobody uses it.
// The next command must open a fresh connection, within connectDeadline.
//
// DEFECT (reported, not fixed here): when the pool is full (`poolSize` connections open, as
// after any burst of that many concurrent commands), the next command hangs for ever.
// ConnectionPool.acquireShared/acquireExclusive find no open connection and no room, so they
// call `awaitChange` (packages/core/src/ConnectionPool.ts), which first `prune`s: it drops the
// broken connections, and `drop` calls `signal()` — but no waiter has made the `changed`
// Deferred yet, so the signal is lost; `awaitChange` then makes a fresh Deferred and waits on
// it, and nothing will ever complete it (nothing is opening, nothing is in use). No deadline
// covers that wait: connectDeadline bounds opening a connection, not waiting for room.

const elapsed = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.gen(function*() {
    const started = Date.now()
    const result = yield* Effect.either(effect.pipe(Effect.timeout("15 seconds")))
    return { result, millis: Date.now() - started }
  })

describe("a client idle through a server restart", () => {
  it.live("with room left in its pool, the next command opens a fresh connection", () =>
    Effect.gen(function*() {
      const server = yield* FaktoryServer.make({ webUi: false })
      const client = yield* Client.make({ ...server.clientOptions, poolSize: 4 }).pipe(Effect.provide(NodeTransport.layer))
      yield* client.info
      yield* server.stop
      yield* server.start
      const { millis, result } = yield* elapsed(client.info)
      expect(result._tag).toBe("Right")
      expect(millis).toBeLessThan(10_000)
    }).pipe(Effect.scoped))

  it.live.fails("with its pool full, the next command opens a fresh connection (fails: hangs for ever, pool defect above)", () =>
    Effect.gen(function*() {
      const server = yield* FaktoryServer.make({ webUi: false })
      const client = yield* Client.make({ ...server.clientOptions, poolSize: 2 }).pipe(Effect.provide(NodeTransport.layer))
      // Three at once: both connections open.
      yield* Effect.all([client.info, client.info, client.info], { concurrency: "unbounded" })
      yield* server.stop
      yield* server.start
      const { millis, result } = yield* elapsed(client.info)
      expect(result._tag, "the command after the restart timed out after 15 s").toBe("Right")
      expect(millis).toBeLessThan(10_000)
    }).pipe(Effect.scoped), 60_000)
})
