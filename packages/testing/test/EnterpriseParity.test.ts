// One batch workflow (a parent batch with a failing job and a child batch, tracked jobs, unique
// twins) through core's Enterprise wire peer with a real worker, and through both FakeFaktory
// modes: the same batches, callbacks, tracking states and refusals in all three. And the
// bad-input table of core's EnterprisePeer.test.ts against the peer's client and the fake:
// the same typed errors, and nothing sent or recorded.
import { describe, expect, it } from "@effect/vitest"
import { Batch, Client, Job, type JobHandler, Tracking, Worker } from "@effect-faktory/core"
import { NodeTransport } from "@effect-faktory/node"
import { FakeFaktory } from "@effect-faktory/testing"
import { Effect, Either, Layer, Option, Schedule, Schema } from "effect"
import { enterprisePeer } from "../../core/test/enterprisePeer.js"

class Corrupt extends Schema.TaggedError<Corrupt>()("Corrupt", { file: Schema.String }) {}

const Resize = Job.define("Resize", { args: Schema.Tuple(Schema.String), queue: "images", track: true })
const Done = Job.define("Done", { args: Schema.Tuple(Schema.String) })
const Ok = Job.define("Ok", { args: Schema.Tuple(Schema.String) })
const Sync = Job.define("Sync", { args: Schema.Tuple(Schema.Number), queue: "sync", unique: { for: "1 minute" } })

interface Ran {
  readonly job: string
  readonly context: JobHandler.JobContext
}

const handlersFor = (ran: Array<Ran>) => {
  const seen = (job: string, context: JobHandler.JobContext) => Effect.sync(() => ran.push({ job, context }))
  return Layer.mergeAll(
    Resize.handle(([file], job) =>
      Effect.gen(function*() {
        yield* Tracking.progress(50, `resizing ${file}`)
        yield* seen(`Resize ${file}`, job)
        if (file.startsWith("bad")) return yield* new Corrupt({ file })
      })
    ),
    Done.handle(([what], job) => seen(`Done ${what}`, job)),
    Ok.handle(([what], job) => seen(`Ok ${what}`, job)),
    Sync.handle(([n], job) => seen(`Sync ${n}`, job))
  )
}

/** The producer's side: the batches filled and committed, the unique pushes; returns the bids and jids. */
const produce = Effect.gen(function*() {
  const parent = yield* Batch.run(
    { description: "album", complete: Batch.callback(Done, ["album"]), success: Batch.callback(Ok, ["album"]) },
    Effect.gen(function*() {
      const resized = yield* Resize.pushBulk([["a.jpg"], ["bad.jpg"]])
      const child = yield* Batch.run(
        { description: "child", complete: Batch.callback(Done, ["child"]), success: Batch.callback(Ok, ["child"]) },
        Resize.push(["c.jpg"])
      )
      return { child: child.bid, jids: [...resized.pushed, ...resized.rejected.map((r) => r.jid), child.value] }
    })
  )
  const unique = [
    yield* Effect.either(Sync.push([1])),
    yield* Effect.either(Sync.push([1])),
    yield* Effect.either(Effect.map(Sync.pushBulk([[1], [2]]), (result) => `${result.pushed.length} pushed, ${result.notUnique.length} not unique`))
  ].map(Either.match({ onLeft: (error) => error._tag, onRight: (value) => (value.length === 16 ? "jid" : value) }))
  return { parent: parent.bid, child: parent.value.child, resizes: parent.value.jids, unique }
})

type Produced = Effect.Effect.Success<typeof produce>

/** What can be seen once every job has run, bids named by their batch's description. */
const observe = (produced: Produced, ran: ReadonlyArray<Ran>) =>
  Effect.gen(function*() {
    const names = new Map<string, string>([[produced.parent, "album"], [produced.child, "child"]])
    const named = (bid: Option.Option<string>) => Option.map(bid, (value) => names.get(value) ?? value)
    const batch = (bid: string) =>
      Effect.map(Batch.status(bid), (status) => ({
        description: status.description,
        parent: named(status.parentBid),
        total: status.total,
        pending: status.pending,
        failed: status.failed,
        complete: status.complete,
        success: status.success
      }))
    return {
      batches: [yield* batch(produced.parent), yield* batch(produced.child)],
      tracking: yield* Effect.forEach(produced.resizes, (jid) =>
        Effect.map(Tracking.status(jid), (status) => ({ state: status.state, percent: status.percent, description: status.description }))),
      ran: ran
        .filter((entry) => !entry.job.startsWith("Sync"))
        .map((entry) => ({
          job: entry.job,
          bid: named(entry.context.bid),
          callbackOf: named(entry.context.callbackOf),
          parentBid: named(entry.context.parentBid)
        }))
        .sort((a, b) => a.job.localeCompare(b.job)),
      unique: produced.unique,
      uniqueRan: ran.filter((entry) => entry.job.startsWith("Sync")).map((entry) => entry.job).sort()
    }
  })

/** Until the parent's complete callback has succeeded: the workflow's last step. */
const untilDone = (parent: string) =>
  Batch.status(parent).pipe(
    Effect.filterOrFail((status) => status.complete === "succeeded", () => "not yet"),
    Effect.retry(Schedule.spaced("50 millis").pipe(Schedule.upTo("15 seconds"))),
    Effect.orDie
  )

const throughPeer = Effect.gen(function*() {
  const peer = yield* enterprisePeer()
  const options = { url: peer.url, connectRetry: Schedule.recurs(0) }
  const client = yield* Client.make(options).pipe(Effect.provide(NodeTransport.layer))
  return yield* Effect.gen(function*() {
    const produced = yield* produce
    // Everything is pushed before the worker starts, as in fake mode before the drain.
    const ran: Array<Ran> = []
    yield* Worker.make({
      queues: ["images", "default", "sync"],
      concurrency: 2,
      heartbeatInterval: "1 second",
      shutdownTimeout: "1 second",
      client: options
    }).pipe(Effect.provide(Layer.merge(handlersFor(ran), NodeTransport.layer)))
    yield* untilDone(produced.parent)
    return yield* observe(produced, ran)
  }).pipe(Effect.provideService(Client.Client, client))
}).pipe(Effect.scoped)

const throughFake = Effect.suspend(() => {
  const ran: Array<Ran> = []
  return Effect.gen(function*() {
    const produced = yield* produce
    // Every job, the failing one included: a drain stops at a failure, so drain again.
    while ((yield* FakeFaktory.payloads()).length > 0) yield* Effect.either(FakeFaktory.drain())
    return yield* observe(produced, ran)
  }).pipe(Effect.provide(FakeFaktory.layer(handlersFor(ran))))
})

const throughInline = Effect.suspend(() => {
  const ran: Array<Ran> = []
  return Effect.gen(function*() {
    const produced = yield* produce
    return yield* observe(produced, ran)
  }).pipe(Effect.provide(FakeFaktory.layerInline(handlersFor(ran))))
})

describe("one batch workflow through the wire peer and a worker, the fake, and inline", () => {
  it.live("the same batches, callbacks, tracking states and unique refusals", () =>
    Effect.gen(function*() {
      const peer = yield* throughPeer
      // What the peer shows is what §7 says.
      expect(peer.batches).toEqual([
        { description: Option.some("album"), parent: Option.none(), total: 2, pending: 0, failed: 1, complete: "succeeded", success: "notEnqueued" },
        { description: Option.some("child"), parent: Option.some("album"), total: 1, pending: 0, failed: 0, complete: "succeeded", success: "succeeded" }
      ])
      expect(peer.ran.map((entry) => entry.job)).toEqual(["Done album", "Done child", "Ok child", "Resize a.jpg", "Resize bad.jpg", "Resize c.jpg"])
      expect(peer.tracking.map((status) => status.state)).toEqual(["success", "failed", "success"])
      expect(peer.unique).toEqual(["jid", "NotUniqueError", "1 pushed, 1 not unique"])

      const fake = yield* throughFake
      expect(fake).toEqual(peer)

      // Inline, each unique job has run (and released its lock) before its twin is pushed:
      // only the rest is compared.
      const inline = yield* throughInline
      expect({ ...inline, unique: peer.unique, uniqueRan: peer.uniqueRan }).toEqual(peer)
      expect(inline.unique).toEqual(["jid", "jid", "2 pushed, 0 not unique"])
    }), { timeout: 60_000 })
})

describe("bad input: the fake refuses exactly as the real client does", () => {
  const AlbumReady = Job.define("AlbumReady", { args: Schema.Tuple(Schema.Number), queue: "mail" })
  const untyped = (definition: unknown) => definition as Batch.Definition
  const cases: ReadonlyArray<Effect.Effect<unknown, { readonly _tag: string; readonly message: string }, Client.Client>> = [
    Batch.run(untyped({ description: "no callback" }), Resize.push(["x"])),
    Batch.run({ parent: "b 1", complete: { jobtype: "Done" } }, Resize.push(["x"])),
    Batch.run({ success: Batch.callback(AlbumReady, ["42" as unknown as number]) }, Resize.push(["x"])),
    Batch.run({ complete: { jobtype: "Done", queue: "no spaces allowed" } }, Resize.push(["x"])),
    Batch.reopen("b-1\r\nFLUSH", Resize.push(["x"])),
    Batch.status(""),
    Effect.flatMap(Client.Client, (client) => client.batchCommit("b 1")),
    Tracking.set("0123456789ab", { percent: 140 }),
    Tracking.set("0123456789ab", { percent: -1 }),
    Tracking.set("0123456789ab", { reserveUntil: new Date(Date.now() - 1000) }),
    Tracking.set("0123456789ab", { reserveUntil: new Date(Date.now() + 25 * 3_600_000) }),
    Tracking.set("", { percent: 1 }),
    Tracking.status("two words"),
    Sync.with({ unique: { for: "0 seconds" } }).push([1]),
    Sync.with({ unique: { for: -5 } }).push([1]),
    Sync.with({ expiresAt: new Date(0) }).push([1]),
    Sync.with({ expiresIn: "0 seconds" }).push([1]),
    Effect.flatMap(Client.Client, (client) => client.push({ jobtype: "Raw", custom: { unique_for: "600" } })),
    Effect.flatMap(Client.Client, (client) => client.push({ jobtype: "Raw", custom: { expires_at: "tomorrow" } })),
    Effect.flatMap(Client.Client, (client) => client.push({ jobtype: "Raw", custom: { bid: "not a bid" } }))
  ]
  /** Each case's error, its times (the moment of the check) left out. */
  const refusals = Effect.forEach(cases, (refused) =>
    Effect.map(Effect.flip(refused), (error) => ({
      tag: error._tag,
      message: error.message.replace(/\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z/g, "<time>")
    })))

  it.live("each a typed error naming what is wrong; nothing reaches the peer, nothing is recorded by the fake", () =>
    Effect.gen(function*() {
      const peer = yield* enterprisePeer()
      const client = yield* Client.make({ url: peer.url, connectRetry: Schedule.recurs(0) }).pipe(Effect.provide(NodeTransport.layer))
      yield* client.info // the connection is open: any line would arrive
      const mark = peer.lines.length
      const real = yield* Effect.provideService(refusals, Client.Client, client)
      expect(peer.sentSince(mark)).toEqual([])
      for (const refusal of real) expect(["InvalidArgumentError", "JobValidationError"]).toContain(refusal.tag)

      for (const layer of [FakeFaktory.layer(Layer.empty), FakeFaktory.layerInline(Layer.empty)]) {
        const fake = yield* Effect.gen(function*() {
          const refused = yield* refusals
          expect(yield* FakeFaktory.pushed()).toEqual([])
          return refused
        }).pipe(Effect.provide(layer))
        expect(fake).toEqual(real)
      }
    }).pipe(Effect.scoped))
})
