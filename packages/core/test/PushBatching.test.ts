import { describe, expect, it, layer } from "@effect/vitest"
import { Client, Connection, ConnectionPool, FaktoryUrl, type JobPayload, type Protocol, Replies } from "@effect-faktory/core"
import { NodeTransport } from "@effect-faktory/node"
import { FaktoryServer } from "@effect-faktory/testing"
import { Cause, Effect, Either, Exit, Fiber, Option } from "effect"
import * as PushBatcher from "../dist/internal/client/pushBatcher.js"

const commandCount = (client: Client.Service) => Effect.map(client.info, (info) => info.server.command_count)

const makeClient = (options: Client.ClientOptions) =>
  Effect.flatMap(FaktoryServer.FaktoryServer, (server) =>
    Client.make({ ...server.clientOptions, ...options }).pipe(Effect.provide(NodeTransport.layer)))

/** Drains a queue in order, returning each job's first argument. */
/** What the client passes the batcher: a command over the pool, its reply read by the command. */
const sendOver = (pool: ConnectionPool.ConnectionPool) => <A, E>(command: Protocol.Command<A, E>) => pool.send(command)

const drain = (client: Client.Service, queue: string) =>
  Effect.gen(function*() {
    const seen: Array<unknown> = []
    while (true) {
      const job = yield* client.fetch([queue])
      if (Option.isNone(job)) return seen
      seen.push(job.value.args[0])
      yield* client.ack(job.value.jid)
    }
  })

/** A job our own checks would refuse (blank jobtype), built by hand to reach the server. */
const refusedByServer = (jid: string): JobPayload.PushableJob => ({
  jid,
  jobtype: "",
  args: [],
  queue: "batcher-q",
  created_at: new Date().toISOString()
})
const accepted = (jid: string): JobPayload.PushableJob => ({
  jid,
  jobtype: "Fine",
  args: [jid],
  queue: "batcher-q",
  created_at: new Date().toISOString()
})

describe("a PUSHB refusal read as PUSH's error", () => {
  it("keeps the server's code for coded refusals", () => {
    expect(Replies.pushRefusal("BUSY try later")).toMatchObject({ _tag: "ServerError", code: "BUSY", detail: "try later" })
  })
  it("reads Enterprise's NOTUNIQUE as NotUniqueError, naming the job when it is known", () => {
    expect(Replies.pushRefusal("NOTUNIQUE Job not unique")).toMatchObject({ _tag: "NotUniqueError", detail: "Job not unique" })
    expect(Replies.pushRefusal("NOTUNIQUE Job not unique", { jid: "0123456789ab", jobtype: "Sync" })).toMatchObject({
      _tag: "NotUniqueError",
      jid: "0123456789ab",
      jobtype: "Sync"
    })
    expect(Replies.pushRefusal("NOTUNIQUE")._tag).toBe("NotUniqueError")
  })
  it("is ERR with the whole text otherwise, as the server writes -ERR before it", () => {
    expect(Replies.pushRefusal("jobs must have a jobtype parameter")).toMatchObject({
      code: "ERR",
      detail: "jobs must have a jobtype parameter"
    })
    expect(Replies.pushRefusal("invalid timestamp for 'at': \"x\"")).toMatchObject({ code: "ERR" })
  })
})

layer(FaktoryServer.layer({ webUi: false }), { excludeTestServices: true, timeout: "60 seconds" })(
  "pushes made while others are in flight",
  (it) => {
    it.scoped("travel as a few PUSHB commands, one per pooled connection, each push returning its own jid", () =>
      Effect.gen(function*() {
        const client = yield* makeClient({ poolSize: 4 })
        const before = yield* commandCount(client)
        const jids = yield* Effect.forEach(
          Array.from({ length: 300 }, (_, i) => i),
          (i) => client.push({ jobtype: "Batched", queue: "batched-q", args: [i] }),
          { concurrency: "unbounded" }
        )
        // 300 PUSHes would be 300 commands; the INFO is the one after them.
        const commands = (yield* commandCount(client)) - before - 1
        expect(commands).toBeGreaterThanOrEqual(1)
        expect(commands).toBeLessThanOrEqual(8)
        expect(new Set(jids).size).toBe(300)
        const args = yield* drain(client, "batched-q")
        expect([...args].sort((a, b) => Number(a) - Number(b))).toEqual(Array.from({ length: 300 }, (_, i) => i))
      }))

    it.scoped("go as a plain PUSH when pushed one at a time", () =>
      Effect.gen(function*() {
        const client = yield* makeClient({ poolSize: 4 })
        const before = yield* commandCount(client)
        for (let i = 0; i < 20; i++) yield* client.push({ jobtype: "Alone", queue: "alone-q", args: [i] })
        expect((yield* commandCount(client)) - before - 1).toBe(20)
        expect(yield* drain(client, "alone-q")).toEqual(Array.from({ length: 20 }, (_, i) => i))
      }))

    it.scoped("a push interrupted while it is gathered is not sent", () =>
      Effect.gen(function*() {
        const client = yield* makeClient({ poolSize: 2 })
        // The first goes at once; the second, pushed while the first is in flight, is
        // gathered until the replies of this turn are in, and is interrupted before that.
        const first = yield* Effect.fork(client.push({ jobtype: "Kept", queue: "interrupted-q", args: [1] }))
        const second = yield* Effect.fork(client.push({ jobtype: "Dropped", queue: "interrupted-q", args: [2] }))
        yield* Effect.yieldNow()
        yield* Fiber.interrupt(second)
        yield* Fiber.join(first)
        // A third, after: the batcher still works once its gathered push is gone.
        yield* Effect.all([
          client.push({ jobtype: "After", queue: "interrupted-q", args: [3] }),
          client.push({ jobtype: "After", queue: "interrupted-q", args: [4] })
        ], { concurrency: "unbounded" })
        const args = yield* drain(client, "interrupted-q")
        expect([...args].sort()).toEqual([1, 3, 4])
      }))

    it.scoped("go one PUSH each with batchPushes: false", () =>
      Effect.gen(function*() {
        const client = yield* makeClient({ poolSize: 4, batchPushes: false })
        const before = yield* commandCount(client)
        yield* Effect.forEach(
          Array.from({ length: 50 }, (_, i) => i),
          (i) => client.push({ jobtype: "Single", queue: "single-q", args: [i] }),
          { concurrency: "unbounded" }
        )
        expect((yield* commandCount(client)) - before - 1).toBe(50)
        expect(yield* drain(client, "single-q")).toHaveLength(50)
      }))

    it.scoped("gathered pushes run on the client's runtime: a defect reaches each caller as a defect", () =>
      Effect.gen(function*() {
        // A pool whose connections cannot even be opened: a bug (a defect), not a refusal.
        const pool = yield* ConnectionPool.make({ open: Effect.dieMessage("open is broken"), size: 2 })
        const push = PushBatcher.make({ pool, send: sendOver(pool), maxBatch: 1000, connections: 2, runtime: yield* Effect.runtime<never>() })
        // The first goes at once; the others, pushed while it opens a connection, are gathered
        // and sent from a fiber the batcher forks.
        const fibers = yield* Effect.forEach(["defect-001", "defect-002", "defect-003"], (jid) => Effect.fork(push(accepted(jid))))
        const exits = yield* Effect.forEach(fibers, Fiber.await)
        for (const exit of exits) {
          expect(Exit.isFailure(exit) && Cause.isDie(exit.cause)).toBe(true)
          if (Exit.isFailure(exit)) expect(Cause.pretty(exit.cause)).toContain("open is broken")
        }
      }))

    it.scoped("a job the server refuses in a batch fails alone, with the error a PUSH gives", () =>
      Effect.gen(function*() {
        const server = yield* FaktoryServer.FaktoryServer
        const makePool = ConnectionPool.make({
          open: Connection.make({ url: Either.getOrThrow(FaktoryUrl.parse(server.url)) }).pipe(
            Effect.provide(NodeTransport.layer)
          ),
          size: 2
        })
        const runtime = yield* Effect.runtime<never>()
        const batcher = (pool: ConnectionPool.ConnectionPool) =>
          PushBatcher.make({ pool, send: sendOver(pool), maxBatch: 1000, connections: 2, runtime })

        // Alone: a PUSH, refused with -ERR.
        const alone = yield* batcher(yield* makePool)(refusedByServer("alone-0001")).pipe(Effect.exit)
        // With others: the first goes at once, as nothing is in flight; the two pushed while
        // it is go as one PUSHB, whose reply names the refused jid.
        const counter = yield* makeClient({ poolSize: 1 })
        const before = yield* commandCount(counter)
        const push = batcher(yield* makePool)
        const together = yield* Effect.all(
          [push(accepted("first-0001")), push(refusedByServer("middle-0001")), push(accepted("last-00001"))],
          { concurrency: "unbounded", mode: "either" }
        )
        // A PUSH and a PUSHB (three PUSHes would be three commands), then the INFO.
        expect((yield* commandCount(counter)) - before - 1).toBe(2)
        expect(Either.isRight(together[0])).toBe(true)
        expect(Either.isRight(together[2])).toBe(true)
        expect(Exit.isFailure(alone)).toBe(true)
        if (Exit.isSuccess(alone) || Either.isRight(together[1])) return
        const lone = Cause.failureOption(alone.cause)
        expect(Option.isSome(lone)).toBe(true)
        // Compared field by field: the batcher's ServerError class is the source's, the lone
        // one here the built package's.
        const fields = (error: object) => ({ ...error, stack: undefined })
        expect(fields(together[1].left)).toEqual(fields(Option.getOrThrow(lone)))
        expect(together[1].left).toMatchObject({ _tag: "ServerError", command: "PUSH", code: "ERR" })
        expect(together[1].left.message).toContain("jobtype")

        // The PUSH and the PUSHB ran on two connections at once: no order between them.
        const client = yield* makeClient({ poolSize: 1 })
        expect([...(yield* drain(client, "batcher-q"))].sort()).toEqual(["first-0001", "last-00001"])
      }))

    it.scoped("two gathered pushes with one jid go in separate commands, each answered as its own PUSH", () =>
      Effect.gen(function*() {
        const server = yield* FaktoryServer.FaktoryServer
        const pool = yield* ConnectionPool.make({
          open: Connection.make({ url: Either.getOrThrow(FaktoryUrl.parse(server.url)) }).pipe(
            Effect.provide(NodeTransport.layer)
          ),
          size: 2
        })
        const push = PushBatcher.make({ pool, send: sendOver(pool), maxBatch: 1000, connections: 2, runtime: yield* Effect.runtime<never>() })
        const counter = yield* makeClient({ poolSize: 1 })
        const before = yield* commandCount(counter)
        // The first goes at once; the other three are gathered while it is in flight. The
        // server refuses one of the two jobs named "twice-0001": in one PUSHB, its refusal,
        // keyed by jid, would be read as the other's too, which the server stored.
        const results = yield* Effect.all(
          [
            push(accepted("first-0001")),
            push(refusedByServer("twice-0001")),
            push(accepted("other-0001")),
            push({ ...accepted("twice-0001"), args: ["twice-0001 kept"] })
          ],
          { concurrency: "unbounded", mode: "either" }
        )
        expect(results.map(Either.isRight)).toEqual([true, false, true, true])
        // The PUSH, then a PUSHB of the two distinct jids and a PUSH of the repeated one.
        expect((yield* commandCount(counter)) - before - 1).toBe(3)
        const client = yield* makeClient({ poolSize: 1 })
        expect([...(yield* drain(client, "batcher-q"))].sort()).toEqual(["first-0001", "other-0001", "twice-0001 kept"])
      }))
  }
)
