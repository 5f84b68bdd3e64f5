import { describe, expect, it } from "@effect/vitest"
import { Client } from "@effect-faktory/core"
import { NodeTransport } from "@effect-faktory/node"
import { FaktoryServer } from "@effect-faktory/testing"
import { Effect } from "effect"

// A client idle through a server restart: every pooled connection breaks while nobody uses it.
// The next command must open a fresh connection, within connectDeadline.
//
// With the pool full (`poolSize` connections open, as after any burst of that many concurrent
// commands), the next command must not hang: `awaitChange` prunes the broken connections, whose
// `signal()` finds no waiter, so it looks again when pruning made room rather than wait for a
// change that has already happened.

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

  it.live("with its pool full, the next command opens a fresh connection", () =>
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
