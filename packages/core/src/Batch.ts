/**
 * Faktory Enterprise batches: a group of jobs with callback jobs that the server enqueues once
 * every job of the group has run (`complete`) or has succeeded (`success`). Batches nest: a
 * parent's callbacks wait for its children's.
 *
 * A batch is a scope, as a span is with `Effect.withSpan`: `Batch.run(batch, effect)` creates
 * the batch (`BATCH NEW`), runs `effect`, in which **every push joins the batch** (typed or
 * raw, `push` or `pushBulk`, through any client, in any fiber `effect` forks: the bid goes
 * into each job's `custom.bid`), then commits it (`BATCH COMMIT`). Jobs run as soon as they are
 * pushed; the callbacks fire only after the commit, once the jobs are done. A fiber forked in
 * `effect` that outlives it (`Effect.forkDaemon`) still carries the bid, as fibers carry what
 * their parent had: its pushes after the commit join a committed batch, which Faktory's docs do
 * not describe; join such fibers before `effect` ends, or push from them with `Batch.outside`.
 *
 * If `effect` fails or is interrupted, the batch is **not committed** and the error is the
 * caller's. The jobs already pushed still run, but the batch's callbacks never fire: the server
 * drops an uncommitted batch after 30 minutes. To finish it anyway, reopen it within that time
 * (`Batch.reopen(bid, Effect.void)` commits it).
 *
 * - `Batch.reopen(bid, effect)` adds jobs to an existing batch (`BATCH OPEN` … `BATCH COMMIT`);
 *   inside a job of the batch, `Batch.reopenOwn(effect)` reopens the job's own batch, as Ruby's
 *   `Job#batch` does.
 * - A batch made inside another's `run` or `reopen` is its child (its `parent_bid`), unless its
 *   definition names a `parent` of its own; `Batch.outside` leaves the batch in scope, for
 *   pushes (or batches) that must not join it.
 * - Inside a job, `JobHandler.JobContext` says its batch (`bid`), and for a callback job the
 *   batch it is the callback of (`callbackOf`) and that batch's parent (`parentBid`).
 * - `Batch.status(bid)`: counts and callback states, as a value.
 *
 * Every function here needs a `Client` in context (a handler has the worker's; a script gets
 * the default client with `DefaultClient.layer`). Against
 * open-source Faktory each fails with `EnterpriseRequiredError`, before any job is pushed.
 *
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import { Batch, Job } from "@effect-faktory/core"
 *
 * const Resize = Job.define("Resize", { args: Schema.Tuple(Schema.String, Schema.Number) })
 * const AlbumReady = Job.define("AlbumReady", { args: Schema.Tuple(Schema.Number), queue: "mail" })
 *
 * const resizeAlbum = (album: number, files: ReadonlyArray<string>) =>
 *   Batch.run(
 *     Batch.make({ description: `album ${album}`, success: Batch.callback(AlbumReady, [album]) }),
 *     Effect.forEach(files, (file) => Resize.push([file, 1024]), { discard: true })
 *   ) // Effect<{ bid, value }>: the batch is committed
 * ```
 *
 * @since 0.2.0
 */
import * as Effect from "effect/Effect"
import * as FiberRef from "effect/FiberRef"
import * as Option from "effect/Option"
import { Client, currentBatch, type EnterpriseError, type Service as ClientService } from "./Client.js"
import type { BatchStatus, Bid } from "./Enterprise.js"
import { type BatchNotFoundError, InvalidArgumentError, JobValidationError } from "./Errors.js"
import type { JobDefinition } from "./Job.js"
import { CurrentJob } from "./JobHandler.js"
import * as JobPayload from "./JobPayload.js"

const CallbackTypeId: unique symbol = Symbol.for("@effect-faktory/core/Batch/Callback")

/**
 * A callback job given by its definition and arguments (`Batch.callback`): checked by its
 * Schema when the batch is created, like any push of it.
 *
 * @since 0.2.0
 * @category models
 */
export interface Callback {
  readonly [CallbackTypeId]: typeof CallbackTypeId
  readonly jobtype: string
  /** The job, encoded and checked by its definition. */
  readonly payload: Effect.Effect<JobPayload.PushableJob, JobValidationError>
}

/**
 * A callback job: typed (`Batch.callback(Definition, args)`), or raw, as `push` takes it
 * (`{ jobtype: "AlbumReady", args: [42], queue: "mail" }`).
 *
 * @since 0.2.0
 * @category models
 */
export type CallbackJob = Callback | JobPayload.JobInput

/**
 * A batch to create: at least one callback (the server refuses a batch with none), a
 * description for the Web UI, and the parent batch it is a child of.
 *
 * - `success` is enqueued once every job of the batch has succeeded (never, if one of them
 *   dies without succeeding);
 * - `complete` once every job has run once, succeeded or failed.
 *
 * Callback jobs are no pushes: they travel inside `BATCH NEW`, so client middleware does not
 * see them, and they carry no `custom.bid` (the server gives them `custom._bid`).
 *
 * @since 0.2.0
 * @category models
 */
export type Definition =
  & {
    readonly description?: string | undefined
    /**
     * The batch this one is a child of. Unset, a batch created inside another's `run` or
     * `reopen` is that batch's child.
     */
    readonly parent?: string | undefined
  }
  & (
    | { readonly success: CallbackJob; readonly complete?: CallbackJob | undefined }
    | { readonly success?: CallbackJob | undefined; readonly complete: CallbackJob }
  )

/**
 * A batch definition, checked by the compiler for a callback. The batch is created by `run`,
 * once per run.
 *
 * @example
 * ```ts
 * import { Batch } from "@effect-faktory/core"
 *
 * const Nightly = Batch.make({ description: "nightly import", complete: { jobtype: "ImportDone" } })
 * ```
 *
 * @since 0.2.0
 * @category constructors
 */
export const make = <const D extends Definition>(definition: D): D => definition

/**
 * A callback job given by its definition and arguments, checked by its Schema when the batch
 * is created (a push of it would be). Options given with `.with` (a queue, say) apply.
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { Batch, Job } from "@effect-faktory/core"
 *
 * const AlbumReady = Job.define("AlbumReady", { args: Schema.Tuple(Schema.Number) })
 * const batch = Batch.make({ success: Batch.callback(AlbumReady.with({ queue: "critical" }), [42]) })
 * ```
 *
 * @since 0.2.0
 * @category constructors
 */
export const callback = <Name extends string, A, I>(definition: JobDefinition<Name, A, I>, args: A): Callback => ({
  [CallbackTypeId]: CallbackTypeId,
  jobtype: definition.jobtype,
  payload: definition.payload(args)
})

const isCallback = (value: unknown): value is Callback =>
  typeof value === "object" && value !== null && CallbackTypeId in value

/**
 * A batch committed by `run` or `reopen`: its id, and what the effect returned.
 *
 * @since 0.2.0
 * @category models
 */
export interface Committed<A> {
  readonly bid: Bid
  readonly value: A
}

/**
 * What making, reopening or committing a batch can fail with (besides the effect's own
 * errors): a definition or bid refused before anything was sent (`InvalidArgumentError`,
 * `JobValidationError` for a callback), a batch the server does not know, the open-source
 * server's refusal, or a command's failure.
 *
 * @since 0.2.0
 * @category models
 */
export type BatchError = InvalidArgumentError | JobValidationError | BatchNotFoundError | EnterpriseError

/** The effect run in a batch's scope: as it is, or made from the batch's id. */
type Body<A, E, R> = Effect.Effect<A, E, R> | ((bid: Bid) => Effect.Effect<A, E, R>)

const bodyFor = <A, E, R>(body: Body<A, E, R>, bid: Bid): Effect.Effect<A, E, R> =>
  Effect.isEffect(body) ? body : Effect.suspend(() => body(bid))

/** Runs `body` with its pushes joining `bid`, then commits; nothing is committed if it fails. */
const within = <A, E, R>(
  client: ClientService,
  bid: Bid,
  body: Body<A, E, R>
): Effect.Effect<Committed<A>, E | BatchError, R> =>
  Effect.locally(bodyFor(body, bid), currentBatch, Option.some(bid)).pipe(
    Effect.flatMap((value) => Effect.as(client.batchCommit(bid), { bid, value }))
  )

/** A callback job, checked: typed ones by their Schema, raw ones as a push checks them. */
const callbackJob = (
  which: "success" | "complete",
  job: CallbackJob | undefined
): Effect.Effect<JobPayload.PushableJob | undefined, JobValidationError> => {
  if (job === undefined) return Effect.succeed(undefined)
  const checked = isCallback(job) ? job.payload : Effect.suspend(() => JobPayload.prepare(job))
  return Effect.mapError(checked, (error) =>
    new JobValidationError({
      ...(error.jobtype === undefined ? {} : { jobtype: error.jobtype }),
      ...(error.jid === undefined ? {} : { jid: error.jid }),
      detail: `the batch's ${which} callback: ${error.detail}`
    }))
}

/**
 * Creates a batch, runs `body` with every push joining it, and commits it; returns the
 * batch's id and what `body` returned. `body` may be an effect, or a function of the new
 * batch's id. Inside another batch's `run` or `reopen`, the new batch is its child unless the
 * definition names a `parent`.
 *
 * If `body` fails or is interrupted, the batch is not committed: its callbacks never fire,
 * the server drops it after 30 minutes, and the error is the caller's. A definition with no
 * callback, a callback that does not check, or a parent that is no bid is refused before
 * anything is sent.
 *
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import { Batch, Job, push } from "@effect-faktory/core"
 *
 * const Resize = Job.define("Resize", { args: Schema.Tuple(Schema.String) })
 *
 * const program = Effect.gen(function* () {
 *   const { bid } = yield* Batch.run(
 *     { description: "thumbnails", success: { jobtype: "ThumbnailsDone", args: [] } },
 *     (bid) =>
 *       Effect.gen(function* () {
 *         yield* Effect.log(`filling ${bid}`)
 *         yield* Resize.pushBulk([["a.jpg"], ["b.jpg"]]) // typed, bulk: both join
 *         yield* push({ jobtype: "Audit", args: ["thumbnails"] }) // raw: joins too
 *       })
 *   )
 *   return yield* Batch.status(bid)
 * })
 * ```
 *
 * @since 0.2.0
 * @category running
 */
export const run = <A, E, R>(
  definition: Definition,
  body: Body<A, E, R>
): Effect.Effect<Committed<A>, E | BatchError, R | Client> =>
  Effect.gen(function*() {
    const client = yield* Client
    const success = yield* callbackJob("success", definition.success)
    const complete = yield* callbackJob("complete", definition.complete)
    const parent = definition.parent ?? Option.getOrUndefined(yield* FiberRef.get(currentBatch))
    const bid = yield* client.batchNew({
      description: definition.description,
      parentBid: parent,
      success,
      complete
    })
    return yield* within(client, bid, body)
  })

/**
 * Reopens a batch (`BATCH OPEN`), runs `body` with every push joining it, and commits it
 * again; a batch made inside is its child. Jobs of a batch, and its callbacks' workflows, add
 * work this way. If `body` fails or is interrupted, the batch is left open: its callbacks do
 * not fire until it is committed again (`Batch.reopen(bid, Effect.void)` does that). The
 * server's documentation gives a new batch left open 30 minutes; it says nothing of a reopened
 * one. A bid that is no bid is refused before anything is sent; one the server does not know
 * fails with `BatchNotFoundError`.
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { Batch, Job } from "@effect-faktory/core"
 *
 * const Resize = Job.define("Resize", { args: Schema.Tuple(Schema.String) })
 * const more = Batch.reopen("b-5pBPzTw5W0lyKA", Resize.push(["late.jpg"]))
 * ```
 *
 * @since 0.2.0
 * @category running
 */
export const reopen = <A, E, R>(
  bid: string,
  body: Body<A, E, R>
): Effect.Effect<Committed<A>, E | BatchError, R | Client> =>
  Effect.gen(function*() {
    const client = yield* Client
    const opened = yield* client.batchOpen(bid)
    return yield* within(client, opened, body)
  })

/**
 * Inside a job that belongs to a batch: reopens the job's own batch (its `custom.bid`), runs
 * `body` with every push joining it, and commits it again, as Ruby's `Job#batch` and Go's
 * worker helper do. Fails with `InvalidArgumentError`, nothing sent, when the job belongs to
 * no batch (a callback job belongs to none: reopen its `parentBid`).
 *
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import { Batch, Job } from "@effect-faktory/core"
 *
 * const Crawl = Job.define("Crawl", { args: Schema.Tuple(Schema.String) })
 * // Each page found joins the crawl's batch: its callback waits for them too.
 * const Handlers = Crawl.handle(([url]) =>
 *   Batch.reopenOwn(Effect.forEach([`${url}/a`, `${url}/b`], (next) => Crawl.push([next]), { discard: true }))
 * )
 * ```
 *
 * @since 0.2.0
 * @category running
 */
export const reopenOwn = <A, E, R>(
  body: Body<A, E, R>
): Effect.Effect<Committed<A>, E | BatchError, R | Client | CurrentJob> =>
  Effect.flatMap(CurrentJob, (job) => {
    if (Option.isSome(job.bid)) return reopen(job.bid.value, body)
    return Effect.fail(
      new InvalidArgumentError({
        command: "BATCH OPEN",
        detail: `job ${job.jid} (${job.jobtype}) belongs to no batch: it carries no custom.bid` +
          (Option.isSome(job.callbackOf)
            ? ` (it is the callback of batch ${job.callbackOf.value}` +
              (Option.isSome(job.parentBid) ? `; reopen its parent ${job.parentBid.value} with Batch.reopen)` : ")")
            : "")
      })
    )
  })

/**
 * A batch's state (`BATCH STATUS`): its counts, and each callback's state (`notEnqueued`,
 * `enqueued`, `succeeded`).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Batch } from "@effect-faktory/core"
 *
 * const finished = Effect.map(Batch.status("b-5pBPzTw5W0lyKA"), (status) => status.complete !== "notEnqueued")
 * ```
 *
 * @since 0.2.0
 * @category reading
 */
export const status = (
  bid: string
): Effect.Effect<BatchStatus, InvalidArgumentError | BatchNotFoundError | EnterpriseError, Client> =>
  Effect.flatMap(Client, (client) => client.batchStatus(bid))

/**
 * The batch that pushes made here join, if any: the innermost `run` or `reopen` around.
 *
 * @example
 * ```ts
 * import { Effect, Option } from "effect"
 * import { Batch } from "@effect-faktory/core"
 *
 * const where = Effect.map(Batch.current, Option.getOrElse(() => "no batch"))
 * ```
 *
 * @since 0.2.0
 * @category scope
 */
export const current: Effect.Effect<Option.Option<Bid>> = FiberRef.get(currentBatch)

/**
 * Runs `effect` outside the batch in scope: its pushes join no batch, and a batch it makes
 * is no child of it.
 *
 * @example
 * ```ts
 * import { Batch, push } from "@effect-faktory/core"
 *
 * // Inside Batch.run: a notification that is no part of the batch.
 * const notify = Batch.outside(push({ jobtype: "Notify", args: ["import started"] }))
 * ```
 *
 * @since 0.2.0
 * @category scope
 */
export const outside = <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  Effect.locally(effect, currentBatch, Option.none())

