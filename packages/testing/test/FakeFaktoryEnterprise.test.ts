// FakeFaktory playing Faktory Enterprise (faktory-protocol.md §7) in both modes: batches and
// their callbacks, nested batches, reopening, tracking, unique locks, expiry, and the
// open-source server when asked. EnterpriseParity.test.ts runs one workflow through the fake
// and through core's wire peer with a real worker, and the bad-input table through both.
import { describe, expect, it } from "@effect/vitest"
import { Batch, Client, Job, type JobHandler, push, Tracking } from "@effect-faktory/core"
import { FakeFaktory } from "@effect-faktory/testing"
import { Effect, Exit, Layer, Option, Schema } from "effect"

const Resize = Job.define("Resize", { args: Schema.Tuple(Schema.String), queue: "images", track: true })
const AlbumReady = Job.define("AlbumReady", { args: Schema.Tuple(Schema.Number), queue: "mail" })
const Audit = Job.define("Audit", { args: Schema.Tuple(Schema.String) })
const Crawl = Job.define("Crawl", { args: Schema.Tuple(Schema.String), queue: "crawl" })

class Corrupt extends Schema.TaggedError<Corrupt>()("Corrupt", { file: Schema.String }) {}

/** Handlers that record what ran, with the job's batch context. */
const makeHandlers = () => {
  const ran: Array<{ readonly job: string; readonly context: JobHandler.JobContext }> = []
  const seen = (job: string, context: JobHandler.JobContext) => Effect.sync(() => ran.push({ job, context }))
  const handlers = Layer.mergeAll(
    Resize.handle(([file], job) =>
      Effect.gen(function*() {
        yield* Tracking.progress(50, `resizing ${file}`)
        yield* seen(`Resize ${file}`, job)
        if (file.startsWith("bad")) return yield* new Corrupt({ file })
      })
    ),
    AlbumReady.handle(([album], job) =>
      album < 0 ? Effect.fail(new Corrupt({ file: "mail" })) : seen(`AlbumReady ${album}`, job)
    ),
    Audit.handle(([what], job) => seen(`Audit ${what}`, job)),
    Crawl.handle(([url], job) =>
      Effect.gen(function*() {
        yield* seen(`Crawl ${url}`, job)
        // Each page found joins the crawl's own batch.
        if (url === "root") yield* Batch.reopenOwn(Crawl.pushBulk([["root/a"], ["root/b"]]))
      })
    )
  )
  return { ran, handlers, names: () => ran.map((entry) => entry.job) }
}

const album = (n: number) => Batch.make({ description: `album ${n}`, success: Batch.callback(AlbumReady, [n]), complete: Batch.callback(Audit, [`album ${n}`]) })

describe("batches, fake mode", () => {
  it.effect("every push inside run joins the batch; callbacks are enqueued once it is committed and its jobs are done", () => {
    const { handlers, names, ran } = makeHandlers()
    return Effect.gen(function*() {
      const client = yield* Client.Client
      expect(yield* client.isEnterprise).toBe(true)
      const { bid } = yield* Batch.run(album(1), (bid) =>
        Effect.gen(function*() {
          yield* Resize.push(["a.jpg"])
          yield* client.push({ jobtype: "Resize", args: ["b.jpg"], queue: "images" })
          yield* Resize.pushBulk([["c.jpg"]])
          yield* Batch.outside(push({ jobtype: "Audit", args: ["outside"] }))
          // Jobs run before the commit (here, drained inside the body): no callback yet.
          expect(yield* FakeFaktory.drain({ queue: "images" })).toBe(3)
          expect(yield* Batch.status(bid)).toMatchObject({ total: 3, pending: 0, success: "notEnqueued", complete: "notEnqueued" })
          expect(yield* FakeFaktory.payloads({ queue: "mail" })).toEqual([])
        }))
      const pushed = yield* FakeFaktory.pushed({ queue: "images" })
      expect(pushed.map((job) => job.custom?.bid)).toEqual([bid, bid, bid])
      expect((yield* FakeFaktory.pushed({ jobtype: "Audit" }))[0]?.custom?.bid).toBeUndefined()

      // Committed: both callbacks wait, as the server enqueues them, with _bid and no bid.
      const status = yield* Batch.status(bid)
      expect(status).toMatchObject({ bid, total: 3, pending: 0, failed: 0, success: "enqueued", complete: "enqueued" })
      expect(status.description).toEqual(Option.some("album 1"))
      expect(Option.isSome(status.createdAt)).toBe(true)
      expect(Option.isNone(status.parentBid)).toBe(true)
      const callbacks = yield* FakeFaktory.payloads({ jobtype: "AlbumReady" })
      expect(callbacks).toHaveLength(1)
      expect(callbacks[0]).toMatchObject({ queue: "mail", args: [1], retry: 25, custom: { _bid: bid } })
      expect(callbacks[0]?.custom?.bid).toBeUndefined()

      expect(yield* FakeFaktory.drain()).toBe(3)
      expect(names()).toEqual(["Resize a.jpg", "Resize b.jpg", "Resize c.jpg", "Audit outside", "Audit album 1", "AlbumReady 1"])
      const callback = ran.find((entry) => entry.job === "AlbumReady 1")!.context
      expect([callback.bid, callback.callbackOf, callback.parentBid]).toEqual([Option.none(), Option.some(bid), Option.none()])
      expect(ran[0]?.context.bid).toEqual(Option.some(bid))
      expect(yield* Batch.status(bid)).toMatchObject({ success: "succeeded", complete: "succeeded" })
    }).pipe(Effect.provide(FakeFaktory.layer(handlers)))
  })

  it.effect("a failed job: complete is enqueued, success never; a failing callback stays enqueued", () => {
    const { handlers, names } = makeHandlers()
    return Effect.gen(function*() {
      const { bid } = yield* Batch.run(album(2), Resize.pushBulk([["ok.jpg"], ["bad.jpg"]]))
      const failed = yield* Effect.flip(FakeFaktory.drain())
      expect(failed).toMatchObject({ _tag: "JobFailedError", jobtype: "Resize", errtype: "Corrupt" })
      expect(yield* Batch.status(bid)).toMatchObject({ total: 2, pending: 0, failed: 1, complete: "enqueued", success: "notEnqueued" })
      expect(yield* FakeFaktory.drain()).toBe(1)
      expect(names()).toEqual(["Resize ok.jpg", "Resize bad.jpg", "Audit album 2"])
      expect(yield* Batch.status(bid)).toMatchObject({ complete: "succeeded", success: "notEnqueued" })

      // A success callback that fails is left enqueued ("1"), never succeeded.
      const mailFails = yield* Batch.run({ success: Batch.callback(AlbumReady, [-1]) }, Resize.push(["fine.jpg"]))
      const callbackFailed = yield* Effect.flip(FakeFaktory.drain())
      expect(callbackFailed).toMatchObject({ jobtype: "AlbumReady", errtype: "Corrupt" })
      expect(yield* Batch.status(mailFails.bid)).toMatchObject({ success: "enqueued", complete: "notEnqueued" })
    }).pipe(Effect.provide(FakeFaktory.layer(handlers)))
  })

  it.effect("a batch whose body fails is not committed: its callbacks wait until it is reopened and committed", () => {
    const { handlers } = makeHandlers()
    return Effect.gen(function*() {
      const exit = yield* Effect.exit(Batch.run(album(3), (bid) => Effect.zipRight(Resize.push(["x.jpg"]), Effect.fail({ bid }))))
      expect(Exit.isFailure(exit)).toBe(true)
      const bid = (yield* FakeFaktory.pushed({ queue: "images" }))[0]!.custom!.bid as string
      expect(yield* FakeFaktory.drain()).toBe(1)
      expect(yield* Batch.status(bid)).toMatchObject({ pending: 0, complete: "notEnqueued", success: "notEnqueued" })
      // Reopened to add a job, and committed: the callbacks wait for the new job too.
      const reopened = yield* Batch.reopen(bid, Effect.as(Resize.push(["late.jpg"]), "added"))
      expect(reopened).toEqual({ bid, value: "added" })
      expect(yield* Batch.status(bid)).toMatchObject({ total: 2, pending: 1, complete: "notEnqueued" })
      expect(yield* FakeFaktory.drain()).toBe(3)
      expect(yield* Batch.status(bid)).toMatchObject({ total: 2, pending: 0, complete: "succeeded", success: "succeeded" })
    }).pipe(Effect.provide(FakeFaktory.layer(handlers)))
  })

  it.effect("nested batches: the child's callbacks carry _pbid, and the parent's wait for them", () => {
    const { handlers, names, ran } = makeHandlers()
    return Effect.gen(function*() {
      const other = yield* Batch.run({ complete: Batch.callback(Audit, ["other"]) }, Effect.void)
      const { bid: parent, value } = yield* Batch.run(album(10), (parent) =>
        Effect.gen(function*() {
          yield* Resize.push(["p.jpg"])
          const child = yield* Batch.run(album(11), Resize.push(["c.jpg"]))
          const adopted = yield* Batch.run({ parent: other.bid, complete: Batch.callback(Audit, ["adopted"]) }, Effect.void)
          const root = yield* Batch.outside(Batch.run({ complete: Batch.callback(Audit, ["root"]) }, Effect.void))
          expect(yield* Batch.current).toEqual(Option.some(parent))
          return { child: child.bid, adopted: adopted.bid, root: root.bid }
        }))
      expect(Option.getOrThrow((yield* Batch.status(value.child)).parentBid)).toBe(parent)
      expect(Option.getOrThrow((yield* Batch.status(value.adopted)).parentBid)).toBe(other.bid)
      expect(Option.isNone((yield* Batch.status(value.root)).parentBid)).toBe(true)
      // A child's jobs are its own: the parent counts only its own.
      expect(yield* Batch.status(parent)).toMatchObject({ total: 1, pending: 1 })

      // The jobs, then the child's callbacks; the parent's are enqueued only once those succeeded.
      yield* FakeFaktory.drain({ queue: "images" })
      expect((yield* FakeFaktory.payloads({ queue: "mail" })).map((job) => job.custom?._bid)).toEqual([value.child])
      expect(yield* Batch.status(parent)).toMatchObject({ pending: 0, success: "notEnqueued", complete: "notEnqueued" })
      yield* FakeFaktory.drainOne({ jobtype: "AlbumReady" })
      expect(yield* Batch.status(parent)).toMatchObject({ complete: "notEnqueued" })
      yield* FakeFaktory.drain({ jobtype: "Audit" })
      yield* FakeFaktory.drain()
      expect(names().filter((name) => name.startsWith("AlbumReady") || name.startsWith("Audit album"))).toEqual([
        "AlbumReady 11",
        "Audit album 11",
        "Audit album 10",
        "AlbumReady 10"
      ])
      const childCallback = ran.find((entry) => entry.job === "AlbumReady 11")!.context
      expect([childCallback.callbackOf, childCallback.parentBid]).toEqual([Option.some(value.child), Option.some(parent)])
      expect(yield* Batch.status(parent)).toMatchObject({ success: "succeeded", complete: "succeeded" })
      // A batch committed with no jobs and no children enqueues its callbacks at once.
      expect(names()).toEqual(expect.arrayContaining(["Audit other", "Audit adopted", "Audit root"]))
    }).pipe(Effect.provide(FakeFaktory.layer(handlers)))
  })

  it.effect("reopenOwn inside a job adds to the job's own batch; the callback waits for the pages it found", () => {
    const { handlers, names, ran } = makeHandlers()
    return Effect.gen(function*() {
      const { bid } = yield* Batch.run({ complete: Batch.callback(Audit, ["crawl"]) }, Crawl.push(["root"]))
      yield* Crawl.push(["loose"])
      expect(Option.map(yield* FakeFaktory.drainOne(Crawl), (job) => job.args)).toEqual(Option.some(["root"]))
      expect(yield* Batch.status(bid)).toMatchObject({ total: 3, pending: 2, complete: "notEnqueued" })
      expect(yield* FakeFaktory.drain()).toBe(4)
      expect(names()).toEqual(["Crawl root", "Crawl loose", "Crawl root/a", "Crawl root/b", "Audit crawl"])
      expect(ran.filter((entry) => entry.job.startsWith("Crawl root")).map((entry) => entry.context.bid)).toEqual(
        Array(3).fill(Option.some(bid))
      )
      expect(ran.find((entry) => entry.job === "Crawl loose")?.context.bid).toEqual(Option.none())
    }).pipe(Effect.provide(FakeFaktory.layer(handlers)))
  })

  it.effect("a bid the fake does not know is BatchNotFoundError, as the real client reads 'no such batch'", () =>
    Effect.gen(function*() {
      const client = yield* Client.Client
      for (
        const [command, failing] of [
          ["BATCH OPEN", Batch.reopen("b-gone", Resize.push(["never.jpg"]))],
          ["BATCH STATUS", Batch.status("b-gone")],
          ["BATCH COMMIT", client.batchCommit("b-gone")],
          ["BATCH NEW", Batch.run({ parent: "b-gone", complete: { jobtype: "Done" } }, Effect.void)]
        ] as const
      ) {
        const error = yield* Effect.flip(failing as Effect.Effect<unknown, { readonly _tag: string }, Client.Client>)
        expect(error).toMatchObject({ _tag: "BatchNotFoundError", bid: "b-gone", command, detail: "no such batch b-gone" })
      }
      expect(yield* FakeFaktory.pushed()).toEqual([])
    }).pipe(Effect.provide(FakeFaktory.layer(Layer.empty))))

  it.effect("clear forgets batches too", () =>
    Effect.gen(function*() {
      const { bid } = yield* Batch.run({ complete: { jobtype: "Done" } }, Effect.void)
      yield* FakeFaktory.clear
      expect((yield* Effect.flip(Batch.status(bid)))._tag).toBe("BatchNotFoundError")
    }).pipe(Effect.provide(FakeFaktory.layer(Layer.empty))))
})

describe("batches, inline mode", () => {
  it.effect("jobs run at push, callbacks before run returns; a job's own pushes join no batch", () => {
    const { handlers, names, ran } = makeHandlers()
    const Chain = Job.define("Chain", { args: Schema.Tuple() })
    const all = Layer.merge(handlers, Chain.handle(() => Audit.push(["from a job"])))
    return Effect.gen(function*() {
      const { bid } = yield* Batch.run(album(4), (bid) =>
        Effect.gen(function*() {
          yield* Resize.push(["a.jpg"])
          yield* Chain.push([])
          expect(yield* Batch.status(bid)).toMatchObject({ total: 2, pending: 0, complete: "notEnqueued" })
        }))
      expect(names()).toEqual(["Resize a.jpg", "Audit from a job", "Audit album 4", "AlbumReady 4"])
      // Production never lets a job's pushes join the batch of whoever pushed the job.
      expect((yield* FakeFaktory.pushed({ jobtype: "Audit" }))[0]?.custom?.bid).toBeUndefined()
      expect(ran.find((entry) => entry.job === "AlbumReady 4")?.context.callbackOf).toEqual(Option.some(bid))
      expect(yield* Batch.status(bid)).toMatchObject({ success: "succeeded", complete: "succeeded" })
      expect(yield* FakeFaktory.payloads()).toEqual([])
    }).pipe(Effect.provide(FakeFaktory.layerInline(all)))
  })

  it.effect("a callback that fails fails the commit that ran it, as a push fails with its job", () => {
    const { handlers, names } = makeHandlers()
    return Effect.gen(function*() {
      const error = yield* Effect.flip(
        Batch.run({ success: Batch.callback(AlbumReady, [-1]), complete: Batch.callback(Audit, ["still runs"]) }, Resize.push(["a.jpg"]))
      )
      expect(error).toMatchObject({ _tag: "ServerError", command: "BATCH COMMIT", code: "Corrupt" })
      expect(error.message).toContain("job AlbumReady (")
      expect(names()).toEqual(["Resize a.jpg", "Audit still runs"])
    }).pipe(Effect.provide(FakeFaktory.layerInline(handlers)))
  })

  it.effect("nested batches and reopenOwn, inline", () => {
    const { handlers, names } = makeHandlers()
    return Effect.gen(function*() {
      const { bid } = yield* Batch.run(album(20), Batch.run(album(21), Resize.push(["c.jpg"])))
      expect(names()).toEqual(["Resize c.jpg", "Audit album 21", "AlbumReady 21", "Audit album 20", "AlbumReady 20"])
      expect(yield* Batch.status(bid)).toMatchObject({ total: 0, success: "succeeded", complete: "succeeded" })

      const crawl = yield* Batch.run({ complete: Batch.callback(Audit, ["crawl"]) }, Crawl.push(["root"]))
      expect(names().slice(5)).toEqual(["Crawl root", "Crawl root/a", "Crawl root/b", "Audit crawl"])
      expect(yield* Batch.status(crawl.bid)).toMatchObject({ total: 3, pending: 0, complete: "succeeded" })
    }).pipe(Effect.provide(FakeFaktory.layerInline(handlers)))
  })
})

describe("tracking", () => {
  it.effect("a tracked job goes enqueued, working (with its progress), success; a failed one failed; untracked unknown", () => {
    const states: Array<string> = []
    const Export = Job.define("Export", { args: Schema.Tuple(Schema.Number), track: true })
    const handlers = Export.handle(([rows], job) =>
      Effect.gen(function*() {
        states.push((yield* Tracking.status(job.jid)).state)
        yield* Tracking.progress(33.3, `${rows / 3} of ${rows} rows`)
        const working = yield* Tracking.status(job.jid)
        expect(working).toMatchObject({ state: "working", percent: Option.some(33), description: Option.some(`${rows / 3} of ${rows} rows`) })
        // No reservation guard in the fake: an extension is sent, and there is no deadline.
        yield* Tracking.extendReservation("10 minutes")
        expect(yield* Tracking.deadline).toEqual(Option.none())
        if (rows === 0) return yield* Effect.fail("nothing to export")
      })
    )
    return Effect.gen(function*() {
      const jid = yield* Export.push([300])
      const before = yield* Tracking.status(jid)
      expect(before).toMatchObject({ jid, state: "enqueued", percent: Option.none(), description: Option.none() })
      expect(Option.isSome(before.updatedAt)).toBe(true)
      yield* FakeFaktory.drain()
      expect(states).toEqual(["working"])
      expect(yield* Tracking.status(jid)).toMatchObject({ state: "success", percent: Option.some(33) })

      const failing = yield* Export.push([0])
      yield* Effect.flip(FakeFaktory.drain())
      expect((yield* Tracking.status(failing)).state).toBe("failed")

      // Any job's progress, from anywhere.
      yield* Tracking.set(jid, { percent: 100, description: "archived" })
      expect(yield* Tracking.status(jid)).toMatchObject({ percent: Option.some(100), description: Option.some("archived") })

      const untracked = yield* Export.with({ track: false }).push([3])
      yield* Tracking.set(untracked, { percent: 10 })
      expect(yield* Tracking.status(untracked)).toEqual({
        jid: untracked,
        state: "unknown",
        percent: Option.none(),
        description: Option.none(),
        updatedAt: Option.none()
      })
    }).pipe(Effect.provide(FakeFaktory.layer(handlers)))
  })

  it.effect("inline: the job's life is over when its push returns", () => {
    const Export = Job.define("Export", { args: Schema.Tuple(), track: true })
    return Effect.gen(function*() {
      const jid = yield* Export.push([])
      expect(yield* Tracking.status(jid)).toMatchObject({ state: "success", percent: Option.some(90) })
    }).pipe(Effect.provide(FakeFaktory.layerInline(Export.handle(() => Tracking.progress(90)))))
  })
})

describe("unique jobs", () => {
  const Sync = Job.define("SyncAddress", { args: Schema.Tuple(Schema.Number), queue: "sync", unique: { for: "1 minute" } })

  it.effect("a twin fails push with NotUniqueError and is listed in pushBulk's notUnique; the lock goes at success", () => {
    let fail = true
    const handlers = Sync.handle(() => (fail ? Effect.fail("down") : Effect.void))
    return Effect.gen(function*() {
      const first = yield* Sync.push([1])
      const twin = yield* Effect.flip(Sync.push([1]))
      expect(twin).toMatchObject({ _tag: "NotUniqueError", jobtype: "SyncAddress", detail: "Job not unique" })
      expect(twin._tag === "NotUniqueError" ? twin.jid : first).not.toBe(first)
      // Another queue, other arguments: other keys.
      yield* Sync.with({ queue: "other" }).push([1])
      const result = yield* Sync.pushBulk([[1], [2], [2]])
      expect(result.pushed).toHaveLength(1)
      expect(result.notUnique).toHaveLength(2)
      expect(result.rejected).toEqual([])
      const raw = yield* (yield* Client.Client).pushBulk([{ jobtype: "SyncAddress", args: [2], queue: "sync", custom: { unique_for: 60 } }])
      expect(raw).toMatchObject({ pushed: [], notUnique: [expect.any(String)] })
      // Refused twins are not recorded: the server did not enqueue them.
      expect((yield* FakeFaktory.pushed({ queue: "sync" })).map((job) => job.args[0])).toEqual([1, 2])

      // A job that fails keeps its lock (it would be retried); one that succeeds releases it.
      yield* Effect.flip(FakeFaktory.drainOne({ queue: "sync" }))
      expect((yield* Effect.flip(Sync.push([1])))._tag).toBe("NotUniqueError")
      fail = false
      yield* FakeFaktory.drain({ queue: "sync" })
      expect((yield* Effect.flip(Sync.push([1])))._tag).toBe("NotUniqueError")
      yield* FakeFaktory.clear
      yield* Sync.push([1])
      yield* FakeFaktory.drain()
      yield* Sync.push([1])
    }).pipe(Effect.provide(FakeFaktory.layer(handlers)))
  })

  it.effect("until: 'start' releases the lock when the job is fetched", () => {
    const Start = Sync.with({ unique: { for: "1 minute", until: "start" } })
    const twins: Array<string> = []
    const handlers = Sync.handle(([n]) =>
      n === 1 ? Effect.map(Effect.either(Start.push([1])), (pushed) => twins.push(pushed._tag)) : Effect.void
    )
    return Effect.gen(function*() {
      yield* Start.push([1])
      expect((yield* Effect.flip(Start.push([1])))._tag).toBe("NotUniqueError")
      yield* FakeFaktory.drainOne()
      // Its twin, pushed while it ran, was taken.
      expect(twins).toEqual(["Right"])
    }).pipe(Effect.provide(FakeFaktory.layer(handlers)))
  })

  it.live("a lock ends after unique.for", () =>
    Effect.gen(function*() {
      const Brief = Sync.with({ unique: { for: "1 second" } })
      yield* Brief.push([7])
      expect((yield* Effect.flip(Brief.push([7])))._tag).toBe("NotUniqueError")
      yield* Effect.sleep("1100 millis")
      yield* Brief.push([7])
      expect(yield* FakeFaktory.payloads({ queue: "sync" })).toHaveLength(2)
    }).pipe(Effect.provide(FakeFaktory.layer(Layer.empty))))

  it.effect("inline: a job that succeeded released its lock; one that failed keeps it", () => {
    const handlers = Sync.handle(([n]) => (n < 0 ? Effect.fail("negative") : Effect.void))
    return Effect.gen(function*() {
      yield* Sync.push([1])
      yield* Sync.push([1])
      expect((yield* Effect.flip(Sync.push([-1])))._tag).toBe("ServerError")
      expect((yield* Effect.flip(Sync.push([-1])))).toMatchObject({ _tag: "NotUniqueError", detail: "Job not unique" })
    }).pipe(Effect.provide(FakeFaktory.layerInline(handlers)))
  })
})

describe("expiring jobs", () => {
  const Flash = Job.define("Flash", { args: Schema.Tuple(Schema.String), queue: "flash" })

  it.live("a job whose time has passed is dropped when drained; the next one runs", () => {
    const ran: Array<string> = []
    return Effect.gen(function*() {
      yield* Flash.with({ expiresIn: "100 millis" }).push(["brief"])
      const client = yield* Client.Client
      yield* client.push({ jobtype: "Flash", args: ["raw"], queue: "flash", custom: { expires_in: 0.1 } })
      yield* Flash.with({ expiresIn: "1 hour" }).push(["kept"])
      yield* Flash.push(["plain"])
      yield* Effect.sleep("150 millis")
      // Still waiting, as in the server's queue, until a fetch drops it.
      expect(yield* FakeFaktory.payloads({ queue: "flash" })).toHaveLength(4)
      expect(Option.map(yield* FakeFaktory.drainOne(), (job) => job.args)).toEqual(Option.some(["kept"]))
      expect(yield* FakeFaktory.drain()).toBe(1)
      expect(ran).toEqual(["kept", "plain"])
      expect(yield* FakeFaktory.payloads()).toEqual([])
    }).pipe(Effect.provide(FakeFaktory.layer(Flash.handle(([what]) => Effect.sync(() => ran.push(what))))))
  })

  it.effect("inline: an expired job is dropped unrun, and its push succeeds", () => {
    const ran: Array<string> = []
    return Effect.gen(function*() {
      const client = yield* Client.Client
      yield* client.push({ jobtype: "Flash", args: ["late"], custom: { expires_at: "2020-01-01T00:00:00Z" } })
      yield* Flash.with({ expiresIn: "1 minute" }).push(["on time"])
      expect(ran).toEqual(["on time"])
    }).pipe(Effect.provide(FakeFaktory.layerInline(Flash.handle(([what]) => Effect.sync(() => ran.push(what))))))
  })
})

describe("enterprise: false plays the open-source server", () => {
  it.effect("Enterprise commands fail as open-source Faktory's do; its custom keys are ignored", () => {
    const ran: Array<string> = []
    const Once = Job.define("Once", { args: Schema.Tuple(), unique: { for: "1 hour" }, track: true })
    return Effect.gen(function*() {
      const client = yield* Client.Client
      expect(yield* client.isEnterprise).toBe(false)
      const batch = yield* Effect.flip(Batch.run({ complete: { jobtype: "Done" } }, Once.push([])))
      expect(batch).toMatchObject({
        _tag: "EnterpriseRequiredError",
        feature: "batches (BATCH NEW)",
        detail: "batch subsystem is only available in Faktory Enterprise"
      })
      const tracking = yield* Effect.flip(Tracking.status("0123456789ab"))
      expect(tracking).toMatchObject({ _tag: "EnterpriseRequiredError", feature: "job tracking (TRACK GET)" })
      // Bad input is still refused first, nothing sent.
      expect((yield* Effect.flip(Tracking.set("0123456789ab", { percent: 140 })))._tag).toBe("InvalidArgumentError")
      yield* Once.push([])
      yield* Once.push([])
      yield* client.push({ jobtype: "Once", custom: { expires_at: "2020-01-01T00:00:00Z" } })
      expect(yield* FakeFaktory.drain()).toBe(3)
      expect(ran).toHaveLength(3)
    }).pipe(Effect.provide(FakeFaktory.layer(Once.handle(() => Effect.sync(() => ran.push("once"))), { enterprise: false })))
  })
})
