import { expect, layer } from "@effect/vitest"
import { Connection, ConnectionPool, FaktoryUrl, Protocol } from "@effect-faktory/core"
import { NodeTransport } from "@effect-faktory/node"
import { FaktoryServer } from "@effect-faktory/testing"
import { Effect, Either, Exit, Fiber } from "effect"

const makePool = (size: number) =>
  Effect.gen(function*() {
    const server = yield* FaktoryServer.FaktoryServer
    const url = Either.getOrThrow(FaktoryUrl.parse(server.url))
    return yield* ConnectionPool.make({
      open: Connection.make({ url }).pipe(Effect.provide(NodeTransport.layer)),
      size
    })
  })

/** Blocks on the server for its 2 s FETCH wait: this queue is never pushed to. */
const blockingFetch = Either.getOrThrow(Protocol.fetch(["pool-never-pushed"]))

/** A command read as `+OK` succeeds with nothing: PUSH, ACK and FLUSH read their reply so. */
const isOk = (reply: unknown) => expect(reply).toBeUndefined()

layer(FaktoryServer.layer({ webUi: false }), { excludeTestServices: true, timeout: "60 seconds" })(
  "ConnectionPool.send against a real Faktory server",
  (it) => {
    it.scoped("opens connections only as concurrent commands need them, up to the size", () =>
      Effect.gen(function*() {
        const pool = yield* makePool(3)
        expect(pool.openCount()).toBe(0)
        isOk(yield* pool.send(Protocol.flush))
        expect(pool.openCount()).toBe(1)
        for (let i = 0; i < 5; i++) isOk(yield* pool.send(Protocol.flush))
        expect(pool.openCount()).toBe(1)
        const replies = yield* Effect.forEach(Array.from({ length: 60 }), () => pool.send(Protocol.flush), {
          concurrency: "unbounded"
        })
        expect(replies).toHaveLength(60)
        for (const reply of replies) isOk(reply)
        expect(pool.openCount()).toBeLessThanOrEqual(3)
      }))

    it.scoped("a burst on a fresh pool is spread over the connections it opens, not piled on the first", () =>
      Effect.gen(function*() {
        const pool = yield* makePool(3)
        const waiting = yield* Effect.forEach(Array.from({ length: 6 }), () => Effect.fork(pool.send(blockingFetch)))
        yield* Effect.sleep("300 millis")
        expect(pool.openCount()).toBe(3)
        expect([...pool.inFlight()].sort()).toEqual([2, 2, 2])
        yield* Effect.forEach(waiting, Fiber.interrupt)
      }))

    it.scoped("an interrupted command keeps its connection busy until the reply it is owed arrives", () =>
      Effect.gen(function*() {
        const pool = yield* makePool(3)
        const waiting = yield* Effect.fork(pool.send(blockingFetch))
        yield* Effect.sleep("200 millis")
        expect(pool.openCount()).toBe(1)
        yield* Fiber.interrupt(waiting)
        // The first connection still owes the FETCH reply: a command queued behind it would
        // wait the server's 2 s, so the next one opens a second connection.
        isOk(yield* pool.send(Protocol.flush))
        expect(pool.openCount()).toBe(2)
        // Once the owed reply has arrived, both connections are free again: two concurrent
        // commands take one each, and no third connection is opened.
        yield* Effect.sleep("2500 millis")
        const both = yield* Effect.all([pool.send(Protocol.flush), pool.send(Protocol.flush)], {
          concurrency: "unbounded"
        })
        for (const reply of both) isOk(reply)
        expect(pool.openCount()).toBe(2)
      }))

    it.scoped("a command on a connection that closes fails with ConnectionError; the pool drops it and opens anew", () =>
      Effect.gen(function*() {
        const pool = yield* makePool(2)
        const connection = yield* pool.useExclusive((connection) => Effect.succeed(connection))
        const waiting = yield* Effect.fork(pool.send(blockingFetch))
        yield* Effect.sleep("200 millis")
        yield* connection.close
        const exit = yield* Fiber.await(waiting)
        expect(Exit.isFailure(exit)).toBe(true)
        if (Exit.isFailure(exit)) {
          expect(exit.cause).toMatchObject({ _tag: "Fail", error: { _tag: "ConnectionError", reason: "Closed" } })
        }
        expect(pool.openCount()).toBe(0)
        isOk(yield* pool.send(Protocol.flush))
        expect(pool.openCount()).toBe(1)
      }))
  }
)
