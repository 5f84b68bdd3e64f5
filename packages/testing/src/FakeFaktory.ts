/**
 * Testing jobs without a server, as `Faktory::Testing` does in Ruby. Two layers provide a
 * `Client` that never opens a socket:
 *
 * - `layer` (fake mode): pushes are checked as a real push is, go through the client
 *   middleware and a JSON round trip, and are recorded. Tests read them (`jobs`, `payloads`)
 *   and run them through the registered handlers with `drain` or `drainOne`.
 * - `layerInline` (inline mode): each push runs its job at once through its handler, and the
 *   push fails when the job does.
 *
 * Both take the application's handler layers (`Job.define(…).handle(…)`), which are built with
 * the fake `Client` in their context, so jobs a handler pushes are recorded (or run) too; a
 * handler whose layer was given a client of its own gets the fake one all the same, so that no
 * test writes to a real server unawares.
 * Jobs run through the worker's own `JobRunner`: arguments decoded by the job's definition,
 * the worker middleware around the handler, each job in a fiber of its own, and its failure
 * described as the worker would report it, so a test sees the errtype and message that
 * production sends.
 *
 * Both play Faktory Enterprise, so that an application tests its batch workflows without a
 * licence: `Batch` (callbacks enqueued once a committed batch's jobs are done, nested batches,
 * reopening, `Batch.status`), `Tracking` (states and progress through a job's life), unique
 * jobs (a twin fails its push with `NotUniqueError`) and expiring jobs (dropped, unrun, when
 * drained). Commands are refused for bad input exactly as the real client refuses them, and
 * answered as the server answers them on the wire, read by the same readers. What is modelled,
 * and what is not (time-based expiry of batches and tracking data, retries, the reservation
 * guard), is in the package's README. `enterprise: false` plays the open-source server.
 *
 * @since 0.2.0
 */
import {
  Client,
  type CommandError,
  ConnectionError,
  FaktoryUrl,
  InvalidArgumentError,
  type Job,
  JobHandler,
  JobPayload,
  JobRunner,
  JobValidationError,
  type NotUniqueError,
  Protocol,
  Replies,
  Resp,
  ServerError
} from "@effect-faktory/core"
import * as Cause from "effect/Cause"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import * as FiberRef from "effect/FiberRef"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import * as EnterpriseModel from "./internal/enterprise.js"

/**
 * Which recorded jobs a call is about: a jobtype, a queue, or both. A job definition
 * (`SendEmail`) selects its jobtype.
 *
 * @since 0.2.0
 * @category models
 */
export interface JobFilter {
  readonly jobtype?: string | undefined
  readonly queue?: string | undefined
}

/**
 * What the fake runs around pushes and jobs.
 *
 * @since 0.2.0
 * @category models
 */
export interface FakeFaktoryOptions {
  /** Client middleware around every push, outermost first (as `ClientOptions.middleware`). */
  readonly clientMiddleware?: ReadonlyArray<Client.PushMiddleware> | undefined
  /** Worker middleware around every job run, outermost first (as `WorkerOptions.middleware`). */
  readonly workerMiddleware?: ReadonlyArray<JobRunner.Middleware> | undefined
  /**
   * Whether the fake plays Faktory Enterprise (default `true`): batches, job tracking, unique
   * and expiring jobs. `false` plays the open-source server, for testing what an application
   * does without them: `isEnterprise` is false, the batch and tracking commands fail with
   * `EnterpriseRequiredError`, and the Enterprise keys of `custom` are ignored.
   *
   * @since 0.2.0
   */
  readonly enterprise?: boolean | undefined
}

/**
 * A job failed while the fake ran it. `errtype`, `detail` and `backtrace` are what the real
 * worker would have sent with its FAIL; `job` is the job as it was recorded.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { FakeFaktory } from "@effect-faktory/testing"
 *
 * const program = FakeFaktory.drain().pipe(
 *   Effect.catchTag("JobFailedError", (error) => Effect.log(`${error.jobtype} failed with ${error.errtype}`))
 * )
 * ```
 *
 * @since 0.2.0
 * @category errors
 */
export class JobFailedError extends Schema.TaggedError<JobFailedError>()("JobFailedError", {
  jid: Schema.String,
  jobtype: Schema.String,
  queue: Schema.String,
  errtype: Schema.String,
  detail: Schema.String,
  backtrace: Schema.Array(Schema.String),
  job: JobPayload.Job
}) {
  override get message(): string {
    return `job ${this.jobtype} (${this.jid}) failed: ${this.errtype}: ${this.detail}`
  }
}

/**
 * `drain` ran its limit of jobs and jobs were still waiting: most likely a handler that pushes
 * a job of its own kind every time it runs.
 *
 * @example
 * ```ts
 * import { FakeFaktory } from "@effect-faktory/testing"
 *
 * new FakeFaktory.DrainLimitError({ limit: 10000, waiting: 1 }).message
 * ```
 *
 * @since 0.2.0
 * @category errors
 */
export class DrainLimitError extends Schema.TaggedError<DrainLimitError>()("DrainLimitError", {
  limit: Schema.Number,
  waiting: Schema.Number
}) {
  override get message(): string {
    return `drain ran ${this.limit} jobs and ${this.waiting} still wait: does a handler push a job of its own kind every time?`
  }
}

/**
 * The fake server's state, for tests.
 *
 * @since 0.2.0
 * @category models
 */
export interface Service {
  /** `fake`: pushes are recorded until drained; `inline`: each push runs its job at once. */
  readonly mode: "fake" | "inline"
  /** The fake client (the same service as `Client.Client`). */
  readonly client: Client.Service
  /**
   * Jobs waiting to be drained, oldest first, as a worker would fetch them: the batch callbacks
   * the server enqueued included, and expired jobs until a drain drops them. Always empty inline.
   */
  readonly payloads: (filter?: JobFilter) => ReadonlyArray<JobPayload.Job>
  /**
   * Every job pushed since the start or the last `clear`, drained or not, oldest first, and
   * every batch callback enqueued; not a unique job's twin, which the server refuses.
   */
  readonly pushed: (filter?: JobFilter) => ReadonlyArray<JobPayload.Job>
  /** Forgets every job, waiting or pushed, batch, tracked job and unique lock, and resumes paused queues. */
  readonly clear: Effect.Effect<void>
  /**
   * Runs the oldest waiting job (of the filter) through its handler; `None` when none waits.
   * A failed job is removed like a succeeded one, and the call fails with `JobFailedError`.
   * An expired job is dropped unrun, as the server drops it at FETCH, and the next one runs.
   */
  readonly drainOne: (filter?: JobFilter) => Effect.Effect<Option.Option<JobPayload.Job>, JobFailedError>
  /**
   * Runs waiting jobs (of the filter), one at a time and oldest first, until none waits,
   * including the jobs their handlers push; returns how many ran. Stops at the first failure.
   */
  readonly drain: (
    filter?: JobFilter,
    options?: { readonly limit?: number | undefined }
  ) => Effect.Effect<number, JobFailedError | DrainLimitError>
}

/**
 * The fake's service tag.
 *
 * @since 0.2.0
 * @category tags
 */
export class FakeFaktory extends Context.Tag("@effect-faktory/testing/FakeFaktory")<FakeFaktory, Service>() {}

/** Most jobs a `drain` runs by default before it decides the jobs will never run out. */
const DEFAULT_DRAIN_LIMIT = 10_000

const matches = (job: JobPayload.Job, filter: JobFilter | undefined): boolean =>
  filter === undefined ||
  ((filter.jobtype === undefined || job.jobtype === filter.jobtype) &&
    (filter.queue === undefined || (job.queue ?? "default") === filter.queue))

const FAKE_ADDRESS = "fake-faktory:7419"

/** A command the fake does not carry out: it fails, so that no test reads invented data. */
const unsupported = (verb: string, instead: string) =>
  new ServerError({ command: verb, code: "UNSUPPORTED", detail: `FakeFaktory does not support ${verb}; ${instead}` })

/** The job as the server would store and hand it out: through JSON, with its queue and enqueued_at. */
const roundTrip = (job: JobPayload.PushableJob): Either.Either<JobPayload.Job, JobValidationError> => {
  let json: string
  try {
    json = JSON.stringify(job)
  } catch (error) {
    return Either.left(
      new JobValidationError({
        jobtype: job.jobtype,
        jid: job.jid,
        detail: `writing it as JSON threw ${error instanceof Error ? `${error.name}: ${error.message}` : String(error)}`
      })
    )
  }
  return Either.match(JobPayload.decode(json), {
    onLeft: (error) => Either.left(new JobValidationError({ jobtype: job.jobtype, jid: job.jid, detail: error.detail })),
    onRight: (stored) =>
      Either.right({ ...stored, queue: stored.queue ?? "default", enqueued_at: new Date().toISOString() })
  })
}

/**
 * How deep inline jobs may push inline jobs. A handler that pushes its own kind every time
 * recursed until the stack overflowed; real chains are a few levels deep.
 */
const INLINE_DEPTH_LIMIT = 100
const INLINE_DEPTH_DETAIL =
  `inline jobs pushed inline jobs ${INLINE_DEPTH_LIMIT} levels deep: does a handler push a job of its own kind every time? ` +
  "(FakeFaktory.layer records such pushes without running them)"
const inlineTooDeep = () => new ServerError({ command: "PUSH", code: "InlineDepthLimit", detail: INLINE_DEPTH_DETAIL })
/** How many inline jobs are running around the current push. */
const inlineDepth = FiberRef.unsafeMake(0)

const makeFake = (mode: "fake" | "inline", options: FakeFaktoryOptions) =>
  Effect.gen(function*() {
    const url = yield* Effect.orDie(FaktoryUrl.parse(`tcp://${FAKE_ADDRESS}`))
    const enterprise = options.enterprise !== false
    const model = EnterpriseModel.make()
    let runner: JobRunner.JobRunner | undefined = undefined
    let waiting: Array<JobPayload.Job> = []
    let history: Array<JobPayload.Job> = []
    const paused = new Set<string>()

    const clientMiddleware = options.clientMiddleware ?? []

    /**
     * Runs one job as the worker does, from the caller's fiber refs (loggers, clock, log
     * level), and says how it failed, if it did. The job stops when whoever runs it is
     * interrupted (a test timing out, say).
     */
    const execute = (job: JobPayload.Job): Effect.Effect<Option.Option<JobFailedError>> =>
      Effect.gen(function*() {
        if (runner === undefined) return yield* Effect.dieMessage("FakeFaktory ran a job before its handlers were built")
        // A worker's job is in no batch's scope: its pushes join a batch only inside its own
        // Batch.run or reopen. Inline, whoever pushed it may be inside one.
        const runtime = yield* Effect.locally(JobRunner.currentRuntime, Client.currentBatch, Option.none())
        const outcome = yield* runner.run(job, runtime)
        if (Exit.isSuccess(outcome.exit)) return Option.none()
        if (Cause.isInterruptedOnly(outcome.exit.cause)) return yield* Effect.interrupt
        const failure = outcome.report.failure ?? JobRunner.describeFailure(outcome.exit.cause)
        return Option.some(
          new JobFailedError({
            jid: job.jid,
            jobtype: job.jobtype,
            queue: job.queue ?? "default",
            errtype: failure.errtype,
            detail: failure.message,
            backtrace: failure.backtrace,
            job
          })
        )
      })

    /** Callback jobs the server enqueued: recorded, and waiting (fake) or returned to run (inline). */
    const enqueueCallbacks = (raws: ReadonlyArray<Record<string, unknown>>): ReadonlyArray<JobPayload.Job> =>
      raws.map((raw) => {
        // Made from BATCH NEW's JSON, which the real client checked: it decodes.
        const decoded = Either.getOrThrow(JobPayload.decode(JSON.stringify(raw)))
        const job: JobPayload.Job = { ...decoded, enqueued_at: new Date().toISOString() }
        history.push(job)
        if (mode === "fake") waiting.push(job)
        return job
      })

    /**
     * A job as a worker fetches, runs and reports it, and what the server does then: dropped
     * unrun when it has expired (`ran` false); else run, and its end settled (tracking, unique
     * lock, batch), with the callback jobs that enqueued.
     */
    const work = (job: JobPayload.Job) =>
      Effect.gen(function*() {
        if (enterprise && !model.fetched(job)) {
          return { ran: false, failure: Option.none<JobFailedError>(), callbacks: [] as ReadonlyArray<JobPayload.Job> }
        }
        const failure = yield* execute(job)
        const callbacks = enterprise ? enqueueCallbacks(model.finished(job, Option.isNone(failure))) : []
        return { ran: true, failure, callbacks }
      })

    /**
     * Inline: runs the job now, then the callback jobs its end enqueued (each whatever the
     * others do); fails with the first failure among them, the job's own first.
     */
    const runInline = (job: JobPayload.Job): Effect.Effect<void, JobFailedError | ServerError> =>
      Effect.gen(function*() {
        const depth = yield* FiberRef.get(inlineDepth)
        if (depth >= INLINE_DEPTH_LIMIT) return yield* inlineTooDeep()
        // The job's fiber starts from this fiber's refs: its own pushes see the depth.
        const { callbacks, failure } = yield* Effect.locally(work(job), inlineDepth, depth + 1)
        return yield* runCallbacksInline(callbacks, failure)
      })

    const runCallbacksInline = (
      callbacks: ReadonlyArray<JobPayload.Job>,
      earlier: Option.Option<JobFailedError | ServerError> = Option.none()
    ): Effect.Effect<void, JobFailedError | ServerError> =>
      Effect.gen(function*() {
        let first = earlier
        for (const callback of callbacks) {
          const ran = yield* Effect.either(runInline(callback))
          if (Either.isLeft(ran) && Option.isNone(first)) first = Option.some(ran.left)
        }
        if (Option.isSome(first)) return yield* Effect.fail(first.value)
      })

    /**
     * Inline, a command fails as a job it ran did. Client commands can only fail with command
     * errors, so the job's errtype travels as the ServerError's code.
     */
    const inlineError = (command: string) => (failed: JobFailedError | ServerError): ServerError => {
      if (failed._tag === "ServerError") return failed
      // Said once, not wrapped once a level (100 levels of wrapping make a 47,000-character message).
      if (failed.detail.includes(INLINE_DEPTH_DETAIL)) return inlineTooDeep()
      return new ServerError({
        command,
        code: failed.errtype,
        detail: `job ${failed.jobtype} (${failed.jid}) ran inline and failed: ${failed.detail}`
      })
    }

    /** What the server does with a job it is given: refuses a unique job's twin, else takes it. */
    const admit = (job: JobPayload.Job): string | undefined => (enterprise ? model.pushed(job) : undefined)

    /** Where a checked job ends up: refused (a unique twin), or recorded, and queued (fake) or run at once (inline). */
    const deliver = (
      prepared: JobPayload.PushableJob
    ): Effect.Effect<void, JobValidationError | NotUniqueError | ServerError> =>
      Effect.suspend((): Effect.Effect<void, JobValidationError | NotUniqueError | ServerError> => {
        const stored = roundTrip(prepared)
        if (Either.isLeft(stored)) return Effect.fail(stored.left)
        const job = stored.right
        const refusal = admit(job)
        // As the real client reads the server's `-NOTUNIQUE Job not unique`.
        if (refusal !== undefined) return Effect.fail(Replies.pushRefusal(refusal, job))
        history.push(job)
        if (mode === "fake") {
          waiting.push(job)
          return Effect.void
        }
        // Inline: the push fails as the job did (or a callback its end enqueued).
        return Effect.mapError(runInline(job), inlineError("PUSH"))
      })

    /** Client middleware as `Client.make` runs it: a job it changes is checked again. */
    const throughMiddleware = (
      job: JobPayload.PushableJob,
      terminal: (job: JobPayload.PushableJob) => Effect.Effect<void, Client.PushError>
    ): Effect.Effect<void, Client.PushError> => {
      if (clientMiddleware.length === 0) return terminal(job)
      const checked = (changed: JobPayload.PushableJob) => Effect.flatMap(JobPayload.prepare(changed), terminal)
      return clientMiddleware.reduceRight<
        (job: JobPayload.PushableJob) => Effect.Effect<void, Client.PushError>
      >((next, wrap) => (current) => wrap(current, next), checked)(job)
    }

    const push = (input: JobPayload.JobInput): Effect.Effect<string, Client.PushError> =>
      Effect.flatMap(FiberRef.get(Client.currentBatch), (batch) => {
        const prepared = JobPayload.prepare(input)
        if (Either.isLeft(prepared)) return Effect.fail(prepared.left)
        // As Client.make: inside Batch.run the job joins the batch, before the middleware sees it.
        const joined = Option.isNone(batch) ? prepared.right : JobPayload.inBatch(prepared.right, batch.value)
        // Middleware may give the job another jid: the push returns the one recorded.
        let sent = joined.jid
        return Effect.map(
          throughMiddleware(joined, (final) => {
            sent = final.jid
            return deliver(final)
          }),
          () => sent
        )
      })

    /** Why pushBulk lists an inline job as rejected: its failure, or that of a callback its end enqueued. */
    const inlineReason = (job: JobPayload.Job, failed: JobFailedError | ServerError): string => {
      if (failed._tag === "ServerError") return `${failed.code}: ${failed.detail}`
      if (failed.jid === job.jid) return `${failed.errtype}: ${failed.detail}`
      return `${failed.errtype}: job ${failed.jobtype} (${failed.jid}), enqueued when this job ended, ran inline and failed: ${failed.detail}`
    }

    const pushBulk = (
      inputs: ReadonlyArray<JobPayload.JobInput>
    ): Effect.Effect<Client.PushBulkResult, Client.PushError> =>
      Effect.gen(function*() {
        const checked = yield* JobPayload.prepareAll(inputs)
        const batch = yield* FiberRef.get(Client.currentBatch)
        const prepared = Option.isNone(batch) ? checked : checked.map((job) => JobPayload.inBatch(job, batch.value))
        // As the real client: every job through the middleware first, then all are sent.
        const collected: Array<JobPayload.PushableJob> = []
        for (const job of prepared) {
          yield* throughMiddleware(job, (final) => Effect.sync(() => collected.push(final)))
        }
        // As the real client, a jid that middleware gave two jobs is refused too.
        const jobs = clientMiddleware.length === 0 ? collected : yield* JobPayload.prepareAll(collected)
        const stored: Array<JobPayload.Job> = []
        for (const job of jobs) stored.push(yield* roundTrip(job))
        const pushed: Array<string> = []
        const notUnique: Array<string> = []
        const rejected: Array<{ readonly jid: string; readonly reason: string }> = []
        for (const job of stored) {
          const refusal = admit(job)
          if (refusal !== undefined) {
            // As the real client reads PUSHB's map: a unique twin is no failure, listed apart.
            if (Replies.pushRefusal(refusal)._tag === "NotUniqueError") notUnique.push(job.jid)
            else rejected.push({ jid: job.jid, reason: refusal })
            continue
          }
          history.push(job)
          if (mode === "fake") {
            waiting.push(job)
            pushed.push(job.jid)
            continue
          }
          // Inline, a job that fails is reported as the server reports a job it refuses.
          const outcome = yield* Effect.either(runInline(job))
          if (Either.isRight(outcome)) pushed.push(job.jid)
          else rejected.push({ jid: job.jid, reason: inlineReason(job, outcome.left) })
        }
        return { pushed, notUnique, rejected }
      })

    const queueCommand = (
      verb: string,
      apply: (names: ReadonlyArray<string>) => void
    ) =>
    (names: ReadonlyArray<string>): Effect.Effect<void, InvalidArgumentError | CommandError> =>
      Effect.suspend(() => {
        const bad = names.find((name) => !/^[a-zA-Z0-9._-]+$/.test(name))
        if (bad !== undefined) {
          return Effect.fail(new InvalidArgumentError({ command: verb, detail: `invalid queue name ${JSON.stringify(bad)}` }))
        }
        apply(names)
        return Effect.void
      })

    const oldestWaiting = (filter: JobFilter | undefined): JobPayload.Job | undefined =>
      waiting.find((job) => matches(job, filter) && !paused.has(job.queue ?? "default"))

    const drainOne = (filter?: JobFilter): Effect.Effect<Option.Option<JobPayload.Job>, JobFailedError> =>
      Effect.gen(function*() {
        while (true) {
          const job = oldestWaiting(filter)
          if (job === undefined) return Option.none()
          // Taken out before it runs, as a fetch reserves it: a job that fails is not run again.
          waiting = waiting.filter((other) => other !== job)
          const { failure, ran } = yield* work(job)
          // An expired job is dropped, as the server drops it at FETCH: the next one is fetched.
          if (!ran) continue
          if (Option.isSome(failure)) return yield* Effect.fail(failure.value)
          return Option.some(job)
        }
      })

    const drain = (
      filter?: JobFilter,
      drainOptions?: { readonly limit?: number | undefined }
    ): Effect.Effect<number, JobFailedError | DrainLimitError> =>
      Effect.gen(function*() {
        const limit = drainOptions?.limit ?? DEFAULT_DRAIN_LIMIT
        let ran = 0
        while (true) {
          if (ran >= limit) {
            const left = waiting.filter((job) => matches(job, filter) && !paused.has(job.queue ?? "default")).length
            if (left === 0) return ran
            return yield* new DrainLimitError({ limit, waiting: left })
          }
          const next = yield* drainOne(filter)
          if (Option.isNone(next)) return ran
          ran++
        }
      })

    const reset = Effect.sync(() => {
      waiting = []
      history = []
      paused.clear()
      model.clear()
    })

    /**
     * An Enterprise command: refused as the real client refuses it when the command cannot be
     * made (nothing is sent), else answered by the model (or, with `enterprise: false`, as the
     * open-source server answers) and read by the command's own reader. `answer` gets the
     * command's JSON argument as the server would parse it, when it has one.
     */
    const enterpriseCommand = <A, E>(
      make: () => Either.Either<Protocol.Command<A, E>, InvalidArgumentError>,
      openSource: string,
      answer: (argument: Record<string, unknown>) => Resp.Reply
    ): Effect.Effect<A, E | InvalidArgumentError> =>
      Effect.suspend((): Either.Either<A, E | InvalidArgumentError> => {
        const command = make()
        if (Either.isLeft(command)) return Either.left(command.left)
        if (!enterprise) return command.right.reply(Resp.errorReply("ERR", openSource))
        const line = command.right.line
        const json = line.indexOf("{")
        const argument = json === -1 ? {} : JSON.parse(line.slice(json, line.length - 2)) as Record<string, unknown>
        return command.right.reply(answer(argument))
      })

    /** BATCH COMMIT: the callbacks it enqueues wait (fake) or run before it returns (inline). */
    const batchCommit = (bid: string) =>
      Effect.suspend(() => {
        let enqueued: ReadonlyArray<JobPayload.Job> = []
        const committed = enterpriseCommand(() => Protocol.batchCommit(bid), EnterpriseModel.OPEN_SOURCE_BATCH, () => {
          const done = model.batchCommit(bid)
          enqueued = enqueueCallbacks(done.enqueued)
          return done.reply
        })
        return mode === "fake"
          ? committed
          : Effect.zipLeft(committed, Effect.mapError(Effect.suspend(() => runCallbacksInline(enqueued)), inlineError("BATCH COMMIT")))
      })

    const client = Client.Client.of({
      url,
      // A raw command has no meaning without a server; the typed methods below are what the fake models.
      send: (command) =>
        Effect.fail(unsupported(command.verb, "use the client's push methods, or a real server (FaktoryServer.layer)")),
      push,
      pushBulk,
      fetch: () => Effect.fail(unsupported("FETCH", "run recorded jobs with FakeFaktory.drain or drainOne")),
      ack: () => Effect.fail(unsupported("ACK", "FakeFaktory.drain reports jobs itself")),
      fail: () => Effect.fail(unsupported("FAIL", "FakeFaktory.drain reports jobs itself")),
      beat: () => Effect.fail(unsupported("BEAT", "a Worker needs a real server (FaktoryServer.layer)")),
      info: Effect.fail(unsupported("INFO", "read recorded jobs with FakeFaktory.payloads or jobs")),
      flush: reset,
      mutate: () => Effect.fail(unsupported("MUTATE", "use a real server (FaktoryServer.layer)")),
      pauseQueues: queueCommand("QUEUE PAUSE", (names) => names.forEach((name) => paused.add(name))),
      resumeQueues: queueCommand("QUEUE RESUME", (names) => names.forEach((name) => paused.delete(name))),
      removeQueues: queueCommand("QUEUE REMOVE", (names) => {
        const removed = new Set(names)
        waiting = waiting.filter((job) => !removed.has(job.queue ?? "default"))
      }),
      queueLatency: (names) =>
        Effect.map(
          queueCommand("QUEUE LATENCY", () => undefined)(names),
          () => {
            const now = Date.now()
            const latencies: Record<string, number> = {}
            for (const name of names) {
              const oldest = waiting.find((job) => (job.queue ?? "default") === name)
              const since = oldest?.enqueued_at === undefined ? now : Date.parse(oldest.enqueued_at)
              latencies[name] = Math.max(0, (now - since) / 1000)
            }
            return latencies
          }
        ),
      isEnterprise: Effect.succeed(enterprise),
      batchNew: (batch) =>
        enterpriseCommand(() => Protocol.batchNew(batch), EnterpriseModel.OPEN_SOURCE_BATCH, (spec) => model.batchNew(spec)),
      batchOpen: (bid) => enterpriseCommand(() => Protocol.batchOpen(bid), EnterpriseModel.OPEN_SOURCE_BATCH, () => model.batchOpen(bid)),
      batchCommit,
      batchStatus: (bid) =>
        enterpriseCommand(() => Protocol.batchStatus(bid), EnterpriseModel.OPEN_SOURCE_BATCH, () => model.batchStatus(bid)),
      trackGet: (jid) => enterpriseCommand(() => Protocol.trackGet(jid), EnterpriseModel.OPEN_SOURCE_TRACKING, () => model.trackGet(jid)),
      trackSet: (update) =>
        enterpriseCommand(() => Protocol.trackSet(update), EnterpriseModel.OPEN_SOURCE_TRACKING, (json) => model.trackSet(json)),
      withConnection: () =>
        Effect.fail(
          new ConnectionError({
            reason: "Unknown",
            address: FAKE_ADDRESS,
            detail: "FakeFaktory has no connections to lend; use a real server (FaktoryServer.layer)"
          })
        )
    })

    const service = FakeFaktory.of({
      mode,
      client,
      payloads: (filter) => waiting.filter((job) => matches(job, filter)),
      pushed: (filter) => history.filter((job) => matches(job, filter)),
      clear: reset,
      drainOne,
      drain
    })
    return {
      service,
      client,
      setRunner: (built: JobRunner.JobRunner) => {
        runner = built
      }
    }
  })

const make = <ROut, E, RIn>(
  mode: "fake" | "inline",
  handlers: Layer.Layer<ROut, E, RIn>,
  options: FakeFaktoryOptions
): Layer.Layer<FakeFaktory | Client.Client, E | JobValidationError, Exclude<RIn, FakeFaktory | Client.Client>> =>
  Layer.scopedContext(Effect.gen(function*() {
    const fake = yield* makeFake(mode, options)
    const context = Context.make(FakeFaktory, fake.service).pipe(Context.add(Client.Client, fake.client))
    // The handlers are built with the fake client in their context: jobs they push are recorded too.
    const built = yield* Layer.buildWithScope(handlers, yield* Effect.scope).pipe(Effect.provide(context))
    fake.setRunner(
      yield* JobRunner.make({
        handlers: yield* JobHandler.collect(built),
        middleware: options.workerMiddleware,
        client: fake.client,
        // Every push a handler makes is the fake's, even from a layer given a client of its own.
        replaceHandlerClients: true
      })
    )
    return context
  }))

/**
 * Fake mode: a `Client` that records every push, and the `FakeFaktory` to read and run them.
 * Pass the handler layers the worker would get (`Layer.empty` when the test only looks at
 * what was pushed).
 *
 * @example
 * ```ts
 * import { Effect, Layer, Schema } from "effect"
 * import { Job } from "@effect-faktory/core"
 * import { FakeFaktory } from "@effect-faktory/testing"
 *
 * const SendEmail = Job.define("SendEmail", { args: Schema.Tuple(Schema.String) })
 * const Handlers = SendEmail.handle(([to]) => Effect.log(`mail to ${to}`))
 *
 * const test = Effect.gen(function* () {
 *   yield* SendEmail.push(["ada@example.com"])
 *   const pending = yield* FakeFaktory.jobs(SendEmail) // [["ada@example.com"]]
 *   const ran = yield* FakeFaktory.drain() // 1
 * }).pipe(Effect.provide(FakeFaktory.layer(Handlers)))
 * ```
 *
 * @since 0.2.0
 * @category layers
 */
export const layer = <ROut, E, RIn>(
  handlers: Layer.Layer<ROut, E, RIn>,
  options: FakeFaktoryOptions = {}
): Layer.Layer<FakeFaktory | Client.Client, E | JobValidationError, Exclude<RIn, FakeFaktory | Client.Client>> =>
  make("fake", handlers, options)

/**
 * Inline mode: a `Client` whose every push runs its job at once, through its handler, before
 * the push returns. A push whose job fails fails with a `ServerError` whose `code` is the
 * job's errtype (`Client.push` can fail with command errors only); in `pushBulk` such a job
 * is listed in `rejected`, with `errtype: message` as its reason, and the others still run.
 * Jobs scheduled for later (`at`) run at once too. A batch's callback jobs run as soon as the
 * server would enqueue them (at `BATCH COMMIT`, or when the batch's last job ends), and the
 * command that enqueued them fails as they do.
 *
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import { Job } from "@effect-faktory/core"
 * import { FakeFaktory } from "@effect-faktory/testing"
 *
 * const Charge = Job.define("Charge", { args: Schema.Tuple(Schema.Number) })
 * const Handlers = Charge.handle(([cents]) => (cents > 0 ? Effect.void : Effect.fail("nothing to charge")))
 *
 * const test = Effect.gen(function* () {
 *   yield* Charge.push([500]) // ran before push returned
 *   const refused = yield* Effect.flip(Charge.push([0])) // ServerError, code "nothing to charge"… see its detail
 * }).pipe(Effect.provide(FakeFaktory.layerInline(Handlers)))
 * ```
 *
 * @since 0.2.0
 * @category layers
 */
export const layerInline = <ROut, E, RIn>(
  handlers: Layer.Layer<ROut, E, RIn>,
  options: FakeFaktoryOptions = {}
): Layer.Layer<FakeFaktory | Client.Client, E | JobValidationError, Exclude<RIn, FakeFaktory | Client.Client>> =>
  make("inline", handlers, options)

/**
 * The arguments of the jobs of a definition that wait to be drained, decoded by its Schema,
 * oldest first. A recorded job whose arguments do not decode (pushed untyped, with
 * `client.push`) fails with `InvalidArgumentsError`, as the worker would.
 *
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import { Job } from "@effect-faktory/core"
 * import { FakeFaktory } from "@effect-faktory/testing"
 *
 * const Resize = Job.define("Resize", { args: Schema.Struct({ file: Schema.String, width: Schema.Number }) })
 * const widths = Effect.map(FakeFaktory.jobs(Resize), (jobs) => jobs.map((job) => job.width))
 * ```
 *
 * @since 0.2.0
 * @category accessors
 */
export const jobs = <Name extends string, A, I>(
  definition: Job.JobDefinition<Name, A, I>
): Effect.Effect<ReadonlyArray<A>, JobRunner.InvalidArgumentsError, FakeFaktory> =>
  Effect.flatMap(FakeFaktory, (fake) =>
    Effect.forEach(fake.payloads({ jobtype: definition.jobtype }), (job) =>
      Effect.mapError(
        definition.decodeArgs(job.args),
        (error) => new JobRunner.InvalidArgumentsError({ jobtype: job.jobtype, detail: JobPayload.formatIssues(error) })
      )))

/**
 * The jobs waiting to be drained, as the server would hand them out (queue and `enqueued_at`
 * set), oldest first.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { FakeFaktory } from "@effect-faktory/testing"
 *
 * const critical = FakeFaktory.payloads({ queue: "critical" })
 * const count = Effect.map(FakeFaktory.payloads(), (jobs) => jobs.length)
 * ```
 *
 * @since 0.2.0
 * @category accessors
 */
export const payloads = (filter?: JobFilter): Effect.Effect<ReadonlyArray<JobPayload.Job>, never, FakeFaktory> =>
  Effect.map(FakeFaktory, (fake) => fake.payloads(filter))

/**
 * Every job pushed since the start or the last `clear`, drained, run inline or waiting, and
 * every batch callback the fake enqueued (a unique job's refused twin is not among them).
 *
 * @example
 * ```ts
 * import { FakeFaktory } from "@effect-faktory/testing"
 *
 * const everyEmail = FakeFaktory.pushed({ jobtype: "SendEmail" })
 * ```
 *
 * @since 0.2.0
 * @category accessors
 */
export const pushed = (filter?: JobFilter): Effect.Effect<ReadonlyArray<JobPayload.Job>, never, FakeFaktory> =>
  Effect.map(FakeFaktory, (fake) => fake.pushed(filter))

/**
 * Forgets every recorded job, batch, tracked job and unique lock, and resumes paused queues
 * (as `client.flush` does).
 *
 * @example
 * ```ts
 * import { FakeFaktory } from "@effect-faktory/testing"
 *
 * const reset = FakeFaktory.clear
 * ```
 *
 * @since 0.2.0
 * @category accessors
 */
export const clear: Effect.Effect<void, never, FakeFaktory> = Effect.flatMap(FakeFaktory, (fake) => fake.clear)

/**
 * Runs the oldest waiting job (of the filter), as a worker would; `None` when none waits. A
 * job that fails is removed and the call fails with `JobFailedError`. An expired job
 * (Faktory Enterprise's `expiresAt`/`expiresIn`) is dropped unrun and the next one runs.
 *
 * @example
 * ```ts
 * import { FakeFaktory } from "@effect-faktory/testing"
 *
 * const next = FakeFaktory.drainOne({ queue: "critical" })
 * ```
 *
 * @since 0.2.0
 * @category running
 */
export const drainOne = (
  filter?: JobFilter
): Effect.Effect<Option.Option<JobPayload.Job>, JobFailedError, FakeFaktory> =>
  Effect.flatMap(FakeFaktory, (fake) => fake.drainOne(filter))

/**
 * Runs waiting jobs (of the filter) one at a time, oldest first, until none waits, jobs the
 * handlers push included; returns how many ran. Stops at the first failure
 * (`JobFailedError`), and after `limit` jobs (default 10,000) with `DrainLimitError`. Jobs in
 * paused queues wait; jobs scheduled for later (`at`) run now. The callbacks a batch enqueues
 * as its jobs end are drained too; expired jobs are dropped, not counted.
 *
 * @example
 * ```ts
 * import { FakeFaktory } from "@effect-faktory/testing"
 *
 * const all = FakeFaktory.drain()
 * const emails = FakeFaktory.drain({ jobtype: "SendEmail" })
 * ```
 *
 * @since 0.2.0
 * @category running
 */
export const drain = (
  filter?: JobFilter,
  options?: { readonly limit?: number | undefined }
): Effect.Effect<number, JobFailedError | DrainLimitError, FakeFaktory> =>
  Effect.flatMap(FakeFaktory, (fake) => fake.drain(filter, options))
