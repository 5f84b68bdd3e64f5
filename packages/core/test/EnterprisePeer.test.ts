import { describe, expect, it } from "@effect/vitest"
import { Batch, Client, Job, JobHandler, Tracking, Worker } from "@effect-faktory/core"
import { NodeTransport } from "@effect-faktory/node"
import { Effect, Exit, Fiber, Layer, Option, Schedule, Schema, type Scope } from "effect"
import { type EnterprisePeer, enterprisePeer, type PeerOptions } from "./enterprisePeer.js"
import { waitFor } from "./support.js"

// Every Enterprise command end to end, through the socket, the decoder and the readers,
// against a peer that speaks the wire as faktory-protocol.md §7 describes it.

const clientOf = (peer: EnterprisePeer, options: Client.ClientOptions = {}) =>
  Client.make({ url: peer.url, connectRetry: Schedule.recurs(0), ...options }).pipe(Effect.provide(NodeTransport.layer))

/** A peer, and a client of it in context, for the test's scope. */
const withPeer = <A, E>(
  test: (peer: EnterprisePeer, client: Client.Service) => Effect.Effect<A, E, Client.Client | Scope.Scope>,
  options: PeerOptions = {}
) =>
  Effect.gen(function*() {
    const peer = yield* enterprisePeer(options)
    const client = yield* clientOf(peer)
    return yield* test(peer, client).pipe(Effect.provideService(Client.Client, client))
  }).pipe(Effect.scoped)

const startWorker = <ROut>(
  peer: EnterprisePeer,
  queues: ReadonlyArray<string>,
  handlers: Layer.Layer<ROut>,
  options: Partial<Worker.WorkerOptions> = {}
) =>
  Worker.make({
    queues,
    concurrency: 2,
    heartbeatInterval: "1 second",
    shutdownTimeout: "1 second",
    ...options,
    client: { url: peer.url, connectRetry: Schedule.recurs(0) }
  }).pipe(Effect.provide(Layer.merge(handlers, NodeTransport.layer)))

const customOf = (job: Record<string, unknown>) => (job.custom ?? {}) as Record<string, unknown>

const Resize = Job.define("Resize", { args: Schema.Tuple(Schema.String), queue: "images" })
const AlbumReady = Job.define("AlbumReady", { args: Schema.Tuple(Schema.Number), queue: "mail" })

describe("knowing the server", () => {
  it.live("isEnterprise reads INFO's server.description", () =>
    Effect.gen(function*() {
      expect(yield* withPeer((_, client) => client.isEnterprise)).toBe(true)
      expect(yield* withPeer((_, client) => client.isEnterprise, { description: "Faktory" })).toBe(false)
    }))
})

describe("batches on the wire", () => {
  it.live("run: NEW, then every push inside joins the batch (typed, raw, bulk, gathered, forked, from a second client), then COMMIT", () =>
    withPeer((peer, client) =>
      Effect.gen(function*() {
        const other = yield* clientOf(peer, { batchPushes: false })
        const { bid, value } = yield* Batch.run(
          Batch.make({ description: "album 42", success: Batch.callback(AlbumReady, [42]), complete: { jobtype: "Audit", args: ["album 42"] } }),
          (bid) =>
            Effect.gen(function*() {
              expect(yield* Batch.current).toEqual(Option.some(bid))
              yield* Resize.push(["a.jpg"])
              yield* client.push({ jobtype: "Resize", args: ["b.jpg"], queue: "images" })
              yield* Resize.pushBulk([["c.jpg"], ["d.jpg"]])
              // Concurrent pushes travel together as PUSHB: each still carries the bid.
              yield* Effect.forEach(["e.jpg", "f.jpg", "g.jpg", "h.jpg"], (file) => Resize.push([file]), { concurrency: "unbounded" })
              yield* Effect.fork(Resize.push(["forked.jpg"])).pipe(Effect.flatMap(Fiber.join))
              yield* other.push({ jobtype: "Resize", args: ["other-client.jpg"], queue: "images" })
              yield* Batch.outside(Resize.push(["not-in-batch.jpg"]))
              return "filled"
            })
        )
        expect(value).toBe("filled")
        yield* Resize.push(["after.jpg"])

        const queued = peer.queued("images")
        const bidOf = (file: string) => customOf(queued.find((job) => (job.args as Array<string>)[0] === file) ?? {}).bid
        for (const file of ["a.jpg", "b.jpg", "c.jpg", "d.jpg", "e.jpg", "f.jpg", "g.jpg", "h.jpg", "forked.jpg", "other-client.jpg"]) {
          expect(bidOf(file)).toBe(bid)
        }
        expect(bidOf("not-in-batch.jpg")).toBeUndefined()
        expect(bidOf("after.jpg")).toBeUndefined()

        const commands = peer.lines.filter((line) => !line.startsWith("END"))
        expect(commands[0]?.startsWith("BATCH NEW {")).toBe(true)
        const created = JSON.parse(commands[0]!.slice("BATCH NEW ".length))
        expect(created).toMatchObject({
          description: "album 42",
          success: { jobtype: "AlbumReady", args: [42], queue: "mail", retry: 25 },
          complete: { jobtype: "Audit", args: ["album 42"], retry: 25 }
        })
        expect(created.success.custom).toBeUndefined()
        const commit = commands.indexOf(`BATCH COMMIT ${bid}`)
        expect(commit).toBeGreaterThan(0)
        // Committed after the last push in the batch, before the push after it.
        expect(commands.slice(commit + 1).every((line) => line.includes("after.jpg"))).toBe(true)
        expect(peer.batches.get(bid)).toMatchObject({ committed: true, pending: 10 })
      })
    ))

  it.live("a body that fails or is interrupted leaves the batch uncommitted, and its error is the caller's", () =>
    withPeer((peer) =>
      Effect.gen(function*() {
        const failed = yield* Effect.exit(Batch.run({ complete: { jobtype: "Done" } }, Effect.zipRight(Resize.push(["x.jpg"]), Effect.fail("disk full" as const))))
        expect(failed).toEqual(Exit.fail("disk full"))
        const interrupted = yield* Effect.exit(Batch.run({ complete: { jobtype: "Done" } }, Effect.zipRight(Resize.push(["y.jpg"]), Effect.interrupt)))
        expect(Exit.isInterrupted(interrupted)).toBe(true)
        expect(peer.lines.filter((line) => line.startsWith("BATCH NEW"))).toHaveLength(2)
        expect(peer.lines.filter((line) => line.startsWith("BATCH COMMIT"))).toEqual([])
        expect([...peer.batches.values()].map((batch) => batch.committed)).toEqual([false, false])
        // The jobs pushed before the failure were pushed, in their batch.
        expect(peer.queued("images").map((job) => customOf(job).bid)).toEqual([...peer.batches.keys()])
      })
    ))

  it.live("status as a value; callbacks enqueued once the jobs are done, carrying _bid (and no bid), succeeded once ACKed", () =>
    withPeer((peer, client) =>
      Effect.gen(function*() {
        const { bid } = yield* Batch.run(
          { description: "two files", success: Batch.callback(AlbumReady, [7]), complete: { jobtype: "Audit", queue: "mail" } },
          Resize.pushBulk([["1.jpg"], ["2.jpg"]])
        )
        const before = yield* Batch.status(bid)
        expect(before).toMatchObject({ bid, total: 2, pending: 2, failed: 0, success: "notEnqueued", complete: "notEnqueued" })
        expect(before.description).toEqual(Option.some("two files"))
        expect(Option.isSome(before.createdAt)).toBe(true)
        for (let i = 0; i < 2; i++) {
          const job = Option.getOrThrow(yield* client.fetch(["images"]))
          yield* client.ack(job.jid)
        }
        expect(yield* Batch.status(bid)).toMatchObject({ pending: 0, success: "enqueued", complete: "enqueued" })
        const callbacks = [Option.getOrThrow(yield* client.fetch(["mail"])), Option.getOrThrow(yield* client.fetch(["mail"]))]
        expect(callbacks.map((job) => job.jobtype).sort()).toEqual(["AlbumReady", "Audit"])
        for (const job of callbacks) {
          expect(job.custom).toMatchObject({ _bid: bid })
          expect(job.custom?.bid).toBeUndefined()
          const context = JobHandler.contextOf(job)
          expect([context.bid, context.callbackOf, context.parentBid]).toEqual([Option.none(), Option.some(bid), Option.none()])
          yield* client.ack(job.jid)
        }
        expect(yield* Batch.status(bid)).toMatchObject({ success: "succeeded", complete: "succeeded" })
        expect(peer.lines.filter((line) => line.startsWith("BATCH STATUS"))).toEqual(Array(3).fill(`BATCH STATUS ${bid}`))
      })
    ))

  it.live("a batch made inside another's run is its child; the child's callback carries _pbid; an explicit parent wins", () =>
    withPeer((peer, client) =>
      Effect.gen(function*() {
        const other = yield* Batch.run({ complete: { jobtype: "OtherDone" } }, Effect.void)
        const { bid: parent, value } = yield* Batch.run(
          { description: "parent", complete: { jobtype: "ParentDone", queue: "mail" } },
          Effect.gen(function*() {
            yield* Resize.push(["p.jpg"])
            const child = yield* Batch.run({ description: "child", complete: { jobtype: "ChildDone", queue: "mail" } }, Resize.push(["c.jpg"]))
            const adopted = yield* Batch.run({ parent: other.bid, complete: { jobtype: "AdoptedDone" } }, Effect.void)
            const root = yield* Batch.outside(Batch.run({ complete: { jobtype: "RootDone" } }, Effect.void))
            // Back in the parent's scope after the child's.
            yield* Resize.push(["p2.jpg"])
            return { child: child.bid, adopted: adopted.bid, root: root.bid }
          })
        )
        expect(peer.batches.get(value.child)?.parent).toBe(parent)
        expect(peer.batches.get(value.adopted)?.parent).toBe(other.bid)
        expect(peer.batches.get(value.root)?.parent).toBeUndefined()
        expect(peer.batches.get(parent)?.pending).toBe(2)
        expect(Option.getOrThrow((yield* Batch.status(value.child)).parentBid)).toBe(parent)
        expect(Option.isNone((yield* Batch.status(parent)).parentBid)).toBe(true)
        const newLines = peer.lines.filter((line) => line.startsWith("BATCH NEW"))
        expect(JSON.parse(newLines[2]!.slice(10)).parent_bid).toBe(parent)

        // The child's jobs done: its callback carries _bid and _pbid; the parent's waits for it.
        const jobs = [Option.getOrThrow(yield* client.fetch(["images"])), Option.getOrThrow(yield* client.fetch(["images"])), Option.getOrThrow(yield* client.fetch(["images"]))]
        for (const job of jobs) yield* client.ack(job.jid)
        const childDone = Option.getOrThrow(yield* client.fetch(["mail"]))
        expect(childDone.jobtype).toBe("ChildDone")
        const context = JobHandler.contextOf(childDone)
        expect([context.callbackOf, context.parentBid]).toEqual([Option.some(value.child), Option.some(parent)])
        expect(Option.isNone(yield* client.fetch(["mail"]))).toBe(true)
        yield* client.ack(childDone.jid)
        expect(Option.getOrThrow(yield* client.fetch(["mail"])).jobtype).toBe("ParentDone")
      })
    ))

  for (const openReply of ["bid", "ok"] as const) {
    it.live(`reopen: OPEN answered with ${openReply === "bid" ? "the bid" : "+OK"}, pushes join, COMMIT`, () =>
      withPeer((peer) =>
        Effect.gen(function*() {
          const { bid } = yield* Batch.run({ complete: { jobtype: "Done" } }, Resize.push(["first.jpg"]))
          const reopened = yield* Batch.reopen(bid, Effect.as(Resize.push(["late.jpg"]), "added"))
          expect(reopened).toEqual({ bid, value: "added" })
          expect(peer.lines.slice(-3)).toEqual([`BATCH OPEN ${bid}`, expect.stringContaining("late.jpg"), `BATCH COMMIT ${bid}`])
          expect(customOf(peer.queued("images")[1]!).bid).toBe(bid)
          expect(peer.batches.get(bid)?.pending).toBe(2)
        }), { openReply }))
  }

  for (const notFoundCase of ["upper", "lower"] as const) {
    it.live(`a missing batch is BatchNotFoundError (the server says ${notFoundCase === "upper" ? "No such batch" : "no such batch"})`, () =>
      withPeer((peer, client) =>
        Effect.gen(function*() {
          const text = `${notFoundCase === "upper" ? "No" : "no"} such batch b-gone`
          for (
            const [command, failing] of [
              ["BATCH OPEN", Batch.reopen("b-gone", Resize.push(["never.jpg"]))],
              ["BATCH STATUS", Batch.status("b-gone")],
              ["BATCH COMMIT", client.batchCommit("b-gone")],
              ["BATCH NEW", Batch.run({ parent: "b-gone", complete: { jobtype: "Done" } }, Effect.void)]
            ] as const
          ) {
            const error = yield* Effect.flip(failing as Effect.Effect<unknown, { readonly _tag: string }, Client.Client>)
            expect(error).toMatchObject({ _tag: "BatchNotFoundError", bid: "b-gone", command, detail: text })
          }
          // The reopened body never ran.
          expect(peer.queued("images")).toEqual([])
        }), { notFoundCase }))
  }

  it.live("BATCH STATUS with empty and missing fields and counts as strings reads as a value", () =>
    withPeer((peer) =>
      Effect.gen(function*() {
        const { bid } = yield* Batch.run({ description: "odd", complete: { jobtype: "Done" } }, Resize.push(["odd.jpg"]))
        expect(yield* Batch.status(bid)).toEqual({
          bid,
          parentBid: Option.none(),
          description: Option.none(),
          createdAt: Option.none(),
          total: 1,
          pending: 1,
          failed: 0,
          success: "notEnqueued",
          complete: "notEnqueued"
        })
        expect(peer.lines.at(-1)).toBe(`BATCH STATUS ${bid}`)
      }), { oddStatus: true }))

  it.live("inside a job: its context tells its batch, and reopenOwn adds jobs to it", () =>
    withPeer((peer) =>
      Effect.gen(function*() {
        const Crawl = Job.define("Crawl", { args: Schema.Tuple(Schema.String), queue: "crawl" })
        const seen: Array<JobHandler.JobContext> = []
        const refusals: Array<string> = []
        yield* startWorker(
          peer,
          ["crawl"],
          Crawl.handle(([url], job) =>
            Effect.gen(function*() {
              seen.push(job)
              if (url === "root") yield* Batch.reopenOwn(Crawl.push(["child"]))
              if (url === "loose") {
                refusals.push((yield* Effect.flip(Batch.reopenOwn(Crawl.push(["never"])))).message)
              }
            })
          )
        )
        const { bid } = yield* Batch.run({ complete: { jobtype: "CrawlDone", queue: "mail" } }, Crawl.push(["root"]))
        yield* Crawl.push(["loose"])
        yield* waitFor("three crawl jobs", () => seen.length === 3)
        const byUrl = (url: string) => seen.find((job) => job.payload.args[0] === url)!
        expect(byUrl("root").bid).toEqual(Option.some(bid))
        expect(byUrl("child").bid).toEqual(Option.some(bid))
        expect(byUrl("loose").bid).toEqual(Option.none())
        expect(refusals).toEqual([expect.stringContaining("belongs to no batch: it carries no custom.bid")])
        const open = peer.lines.indexOf(`BATCH OPEN ${bid}`)
        expect(open).toBeGreaterThan(0)
        expect(peer.lines.slice(open + 1).find((line) => line.startsWith("PUSH"))).toContain(`"bid":"${bid}"`)
        expect(peer.lines.filter((line) => line === `BATCH COMMIT ${bid}`)).toHaveLength(2)
        yield* waitFor("the batch's callback", () => peer.queued("mail").length === 1)
        expect(peer.lines.some((line) => line.includes("never"))).toBe(false)
      })
    ))
})

describe("tracking on the wire", () => {
  it.live("a tracked job reports progress from its handler; status reads it; an untracked job reads as unknown with no time", () =>
    withPeer((peer) =>
      Effect.gen(function*() {
        const Export = Job.define("Export", { args: Schema.Tuple(Schema.Number), queue: "export", track: true })
        let reported = false
        yield* startWorker(
          peer,
          ["export"],
          Export.handle(([rows]) =>
            Effect.gen(function*() {
              yield* Tracking.progress(33.3, `${rows / 3} of ${rows} rows`)
              reported = true
              yield* Effect.sleep("300 millis")
            })
          )
        )
        const jid = yield* Export.push([300])
        expect(customOf(peer.queued("export")[0]!).track).toBe(1)
        expect((yield* Tracking.status(jid)).state).toBe("enqueued")
        yield* waitFor("the progress report", () => reported)
        const working = yield* Tracking.status(jid)
        expect(working).toMatchObject({ jid, state: "working", percent: Option.some(33), description: Option.some("100 of 300 rows") })
        expect(Option.isSome(working.updatedAt)).toBe(true)
        yield* waitFor("the job's ACK", () => peer.acked.includes(jid))
        expect((yield* Tracking.status(jid)).state).toBe("success")
        expect(peer.lines).toContain(`TRACK SET {"jid":"${jid}","percent":33,"desc":"100 of 300 rows"}`)

        const untracked = yield* Tracking.status("f7APFzrS2RZi9eaA")
        expect(untracked).toEqual({
          jid: "f7APFzrS2RZi9eaA",
          state: "unknown",
          percent: Option.none(),
          description: Option.none(),
          updatedAt: Option.none()
        })
        // Any job's progress, from anywhere.
        yield* Tracking.set(jid, { percent: 100, description: "archived" })
        expect(yield* Tracking.status(jid)).toMatchObject({ percent: Option.some(100), description: Option.some("archived") })
      })
    ))
})

describe("unique and expiring jobs on the wire", () => {
  it.live("a duplicate is NotUniqueError from push (PUSH and gathered PUSHB) and listed in pushBulk's notUnique", () =>
    withPeer((peer, client) =>
      Effect.gen(function*() {
        const Sync = Job.define("SyncAddress", { args: Schema.Tuple(Schema.Number), queue: "sync", unique: { for: "1 minute" } })
        const first = yield* Sync.push([1])
        const twin = yield* Effect.flip(Sync.push([1]))
        expect(twin).toMatchObject({ _tag: "NotUniqueError", jobtype: "SyncAddress", detail: "Job not unique" })
        expect(twin.message).toContain("is not unique")
        expect(peer.lines.filter((line) => line.startsWith("PUSH "))).toHaveLength(2)
        expect(JSON.parse(peer.lines[0]!.slice(5)).custom).toEqual({ unique_for: 60 })

        // Gathered concurrent pushes go as one PUSHB: the NOTUNIQUE inside its map fails only its push.
        const outcomes = yield* Effect.forEach([1, 2, 3, 1], (n) => Effect.either(Sync.push([n])), { concurrency: "unbounded" })
        expect(outcomes.filter((outcome) => outcome._tag === "Left").map((outcome) => outcome.left._tag)).toEqual(["NotUniqueError", "NotUniqueError"])
        expect(peer.lines.some((line) => line.startsWith("PUSHB "))).toBe(true)

        const result = yield* Sync.pushBulk([[1], [4], [2]])
        expect(result.pushed).toHaveLength(1)
        expect(result.notUnique).toHaveLength(2)
        expect(result.rejected).toEqual([])
        const raw = yield* client.pushBulk([{ jobtype: "SyncAddress", args: [4], queue: "sync", custom: { unique_for: 60 } }])
        expect(raw).toEqual({ pushed: [], notUnique: [expect.any(String)], rejected: [] })
        expect(peer.queued("sync").map((job) => (job.args as Array<number>)[0])).toEqual([1, 2, 3, 4])
        expect(first).toBe(peer.queued("sync")[0]!.jid)
      })
    ))

  it.live("an expired job is dropped at fetch", () =>
    withPeer((peer, client) =>
      Effect.gen(function*() {
        const Flash = Job.define("Flash", { args: Schema.Tuple(), queue: "flash", expiresIn: "300 millis" })
        yield* Flash.push([])
        const kept = yield* Flash.with({ expiresIn: "1 hour" }).push([])
        expect(typeof customOf(peer.queued("flash")[0]!).expires_at).toBe("string")
        yield* Effect.sleep("400 millis")
        expect(Option.getOrThrow(yield* client.fetch(["flash"])).jid).toBe(kept)
      })
    ))
})

describe("bad input: a typed error naming what is wrong, and nothing sent", () => {
  it.live("the peer receives no line for any of them", () =>
    withPeer((peer, client) =>
      Effect.gen(function*() {
        yield* client.info // the connection is open: any line would arrive
        const mark = peer.lines.length
        const Sync = Job.define("Sync", { args: Schema.Tuple(Schema.Number) })
        const untyped = (definition: unknown) => definition as Batch.Definition
        const cases: ReadonlyArray<readonly [string, Effect.Effect<unknown, { readonly _tag: string; readonly message: string }, Client.Client>]> = [
          ["BATCH NEW: a batch needs a success or a complete callback", Batch.run(untyped({ description: "no callback" }), Resize.push(["x"]))],
          ["is not a batch id", Batch.run({ parent: "b 1", complete: { jobtype: "Done" } }, Resize.push(["x"]))],
          ["the batch's success callback: args", Batch.run({ success: Batch.callback(AlbumReady, ["42" as unknown as number]) }, Resize.push(["x"]))],
          ["the batch's complete callback: queue name", Batch.run({ complete: { jobtype: "Done", queue: "no spaces allowed" } }, Resize.push(["x"]))],
          ["BATCH OPEN: \"b-1\\r\\nFLUSH\" is not a batch id", Batch.reopen("b-1\r\nFLUSH", Resize.push(["x"]))],
          ["BATCH STATUS: \"\" is not a batch id", Batch.status("")],
          ["percent must be a number from 0 to 100, not 140", Tracking.set("0123456789ab", { percent: 140 })],
          ["is not in the future", Tracking.set("0123456789ab", { reserveUntil: new Date(Date.now() - 1000) })],
          ["is more than 24 hours ahead", Tracking.set("0123456789ab", { reserveUntil: new Date(Date.now() + 25 * 3_600_000) })],
          ["TRACK GET: jid", Tracking.status("two words")],
          ["unique.for \"0 seconds\" is not a duration of at least 1 second", Sync.with({ unique: { for: "0 seconds" } }).push([1])],
          ["expiresAt", Sync.with({ expiresAt: new Date(0) }).push([1])],
          ["custom.unique_for must be a number of seconds, at least 1", client.push({ jobtype: "Raw", custom: { unique_for: "600" } })]
        ]
        for (const [says, refused] of cases) {
          const error = yield* Effect.flip(refused)
          expect(["InvalidArgumentError", "JobValidationError"]).toContain(error._tag)
          expect(error.message).toContain(says)
        }
        expect(peer.sentSince(mark)).toEqual([])
      })
    ))
})
