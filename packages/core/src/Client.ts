/**
 * The Faktory client: every command of the open-source server, and the typed Enterprise
 * commands (batches, tracking; they fail with `EnterpriseRequiredError` against open-source
 * Faktory), over a pool of connections. Every push inside `Batch.run` joins the batch: the
 * push path reads `currentBatch`, whichever client pushes.
 *
 * @since 0.1.0
 */
import type * as ConfigError from "effect/ConfigError"
import * as Config from "effect/Config"
import * as Context from "effect/Context"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as FiberRef from "effect/FiberRef"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import type * as Schedule from "effect/Schedule"
import type * as Scope from "effect/Scope"
import * as Connection from "./Connection.js"
import * as ConnectionPool from "./ConnectionPool.js"
import type * as Enterprise from "./Enterprise.js"
import {
  type BatchNotFoundError,
  type CommandError,
  type EnterpriseRequiredError,
  type InvalidArgumentError,
  type InvalidUrlError,
  JobValidationError,
  type NotUniqueError
} from "./Errors.js"
import * as FaktoryUrl from "./FaktoryUrl.js"
import * as PushBatcher from "./internal/client/pushBatcher.js"
import * as Recorders from "./internal/observability/metrics.js"
import * as Spans from "./internal/observability/spans.js"
import { describeThrown } from "./internal/shared/describeThrown.js"
import * as JobPayload from "./JobPayload.js"
import * as Protocol from "./Protocol.js"
import * as Replies from "./Replies.js"
import * as ServerInfo from "./ServerInfo.js"
import { type TlsOptions, Transport } from "./Transport.js"

/**
 * How to reach the server and how to pool connections.
 *
 * @since 0.1.0
 * @category models
 */
export interface ClientOptions {
  /** The server. Default: `FAKTORY_PROVIDER`/`FAKTORY_URL` from the environment, else `tcp://localhost:7419`. */
  readonly url?: string | FaktoryUrl.FaktoryUrl | undefined
  /** A password, overriding the URL's. */
  readonly password?: string | Redacted.Redacted<string> | undefined
  readonly tls?: TlsOptions | undefined
  /** Most connections open at once. Default 10. */
  readonly poolSize?: number | undefined
  /** Makes every connection a worker connection (sends `wid` in HELLO). */
  readonly worker?: Protocol.WorkerIdentity | undefined
  readonly connectTimeout?: Duration.DurationInput | undefined
  readonly handshakeTimeout?: Duration.DurationInput | undefined
  readonly replyTimeout?: Duration.DurationInput | undefined
  /** Retries of a failed connect. Default `ConnectionPool.defaultRetry`. */
  readonly connectRetry?: Schedule.Schedule<unknown, ConnectionPool.OpenError> | undefined
  /**
   * The most time opening a connection may take, all attempts and waits of `connectRetry`
   * included; then the command that needed it fails with a `Timeout`. Default 10 s
   * (`ConnectionPool.defaultConnectDeadline`); `Duration.infinity` lets `connectRetry` alone
   * decide.
   */
  readonly connectDeadline?: Duration.DurationInput | undefined
  /**
   * The largest reply accepted, in bytes; a larger one fails its command with a
   * `ProtocolError` (`BulkTooLarge`) as soon as it is announced, and drops the connection.
   * Default `Resp.DEFAULT_MAX_BULK_BYTES` (about 512 MiB). A job is one reply: a worker that
   * fetches large jobs needs a limit above their size.
   */
  readonly maxReplyBytes?: number | undefined
  /** Middleware around every pushed job (push and pushBulk), outermost first. */
  readonly middleware?: ReadonlyArray<PushMiddleware> | undefined
  /**
   * Sends the jobs of pushes made while others are in flight (by concurrent fibers) together,
   * once the replies of the event loop's turn are in, as PUSHB commands spread over the pool.
   * A push goes at once, as a PUSH, when nothing is in flight. Each push still succeeds or
   * fails on its own, with the error a PUSH would give. Default `true`; `false` sends one
   * PUSH per push.
   */
  readonly batchPushes?: boolean | undefined
}

/**
 * Runs around each pushed job. It may change the job (add `custom` fields, route it to
 * another queue), refuse it by failing, or observe it; `next` sends it on. A changed job is
 * checked again before it is sent.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import type { Client } from "@effect-faktory/core"
 *
 * const tagTenant: Client.PushMiddleware = (job, next) =>
 *   next({ ...job, custom: { ...job.custom, tenant: "acme" } })
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export type PushMiddleware = (
  job: JobPayload.PushableJob,
  next: (job: JobPayload.PushableJob) => Effect.Effect<void, PushError>
) => Effect.Effect<void, PushError>

/**
 * What a push can fail with: a job refused before anything was sent, a unique job whose twin
 * holds the lock (Faktory Enterprise), or the command's failure.
 *
 * @since 0.2.0
 * @category models
 */
export type PushError = JobValidationError | NotUniqueError | CommandError

/**
 * What PUSHB reports: the jids the server took; the unique jobs it did not enqueue because a
 * twin holds the lock (Faktory Enterprise's `NOTUNIQUE`: "already queued", not a failure); and
 * those it refused, with its reason.
 *
 * @since 0.1.0
 * @category models
 */
export interface PushBulkResult {
  readonly pushed: ReadonlyArray<string>
  readonly notUnique: ReadonlyArray<string>
  readonly rejected: ReadonlyArray<{ readonly jid: string; readonly reason: string }>
}

/**
 * What an Enterprise command can fail with, besides its own errors: the open-source server's
 * refusal, and the command's failure.
 *
 * @since 0.2.0
 * @category models
 */
export type EnterpriseError = EnterpriseRequiredError | CommandError

/**
 * The batch that pushes made by the current fiber join: every job pushed while it is set
 * carries its bid in `custom.bid` (replacing one the job had), through `push` and `pushBulk`,
 * typed or raw, of any client (`Batch.run` and `Batch.reopen` set it; clients of another
 * make, such as `@effect-faktory/testing`'s fake, read it with `FiberRef.get`). Callback jobs
 * are no pushes: they travel inside `BATCH NEW`.
 *
 * @example
 * ```ts
 * import { Effect, FiberRef, Option } from "effect"
 * import { Client } from "@effect-faktory/core"
 *
 * // Inside Batch.run this is the batch's bid; elsewhere none.
 * const joined = Effect.map(FiberRef.get(Client.currentBatch), Option.getOrUndefined)
 * ```
 *
 * @since 0.2.0
 * @category batches
 */
export const currentBatch: FiberRef.FiberRef<Option.Option<Enterprise.Bid>> = FiberRef.unsafeMake<
  Option.Option<Enterprise.Bid>
>(Option.none())

/**
 * Most jobs sent in one PUSHB; larger lists are split.
 *
 * @since 0.1.0
 * @category constants
 */
export const PUSH_BULK_BATCH_SIZE = 1000

/**
 * What a client does: the service of the `Client` tag (the tag is the class, as in Effect's own
 * packages; this interface names what `yield* Client.Client` gives).
 *
 * @since 0.2.0
 * @category models
 */
export interface Service {
  readonly url: FaktoryUrl.FaktoryUrl
  /**
   * Sends any command over the pool and reads its reply as the command says: every method
   * below is this with a command from `Protocol` (PUSH also gathers concurrent pushes).
   */
  readonly send: <A, E>(command: Protocol.Command<A, E>) => Effect.Effect<A, E | CommandError>
  /**
   * Checks, completes and pushes a job; returns its jid. Inside `Batch.run` the job joins the
   * batch. A unique job whose twin holds the lock fails with `NotUniqueError` (Enterprise).
   */
  readonly push: (job: JobPayload.JobInput) => Effect.Effect<string, PushError>
  /**
   * Pushes many jobs with PUSHB, 1,000 per command. Every job is checked first, and no two may
   * share a jid; if one is invalid, nothing is sent. The commands are spread over the pool's connections and sent
   * at once: jobs keep their order within each 1,000, not across them. Inside `Batch.run` every
   * job joins the batch. A unique job whose twin holds the lock is listed in `notUnique`
   * (it fails with `NotUniqueError` only when a middleware does).
   */
  readonly pushBulk: (
    jobs: ReadonlyArray<JobPayload.JobInput>
  ) => Effect.Effect<PushBulkResult, PushError>
  /** Reserves the next job from the first non-empty queue, waiting up to 2 s. */
  readonly fetch: (
    queues: ReadonlyArray<string>
  ) => Effect.Effect<Option.Option<JobPayload.Job>, InvalidArgumentError | CommandError>
  readonly ack: (jid: string) => Effect.Effect<void, CommandError>
  readonly fail: (failure: Protocol.Failure) => Effect.Effect<void, CommandError>
  /** Sends a heartbeat; returns the state the server holds for the worker. */
  readonly beat: (beat: Protocol.Beat) => Effect.Effect<Replies.BeatState, CommandError>
  readonly info: Effect.Effect<ServerInfo.ServerInfo, CommandError>
  /** Deletes every job and queue on the server. */
  readonly flush: Effect.Effect<void, CommandError>
  readonly mutate: (mutation: Protocol.Mutation) => Effect.Effect<void, InvalidArgumentError | CommandError>
  readonly pauseQueues: (names: ReadonlyArray<string>) => Effect.Effect<void, InvalidArgumentError | CommandError>
  readonly resumeQueues: (names: ReadonlyArray<string>) => Effect.Effect<void, InvalidArgumentError | CommandError>
  /** Deletes queues with all their jobs. */
  readonly removeQueues: (names: ReadonlyArray<string>) => Effect.Effect<void, InvalidArgumentError | CommandError>
  /** Seconds since each queue's oldest job was enqueued (0 when empty). */
  readonly queueLatency: (
    names: ReadonlyArray<string>
  ) => Effect.Effect<Readonly<Record<string, number>>, InvalidArgumentError | CommandError>
  /** Whether the server is Faktory Enterprise, from its INFO (`ServerInfo.isEnterprise`). */
  readonly isEnterprise: Effect.Effect<boolean, CommandError>
  /**
   * `BATCH NEW`: creates a batch (Enterprise); returns its bid. `Batch.run` is the usual way:
   * it creates, runs the pushes and commits.
   */
  readonly batchNew: (
    batch: Protocol.NewBatch
  ) => Effect.Effect<Enterprise.Bid, InvalidArgumentError | BatchNotFoundError | EnterpriseError>
  /** `BATCH OPEN`: reopens a batch to add jobs, until `batchCommit`. */
  readonly batchOpen: (
    bid: string
  ) => Effect.Effect<Enterprise.Bid, InvalidArgumentError | BatchNotFoundError | EnterpriseError>
  /** `BATCH COMMIT`: the batch's callbacks may fire once its jobs are done. */
  readonly batchCommit: (bid: string) => Effect.Effect<void, InvalidArgumentError | BatchNotFoundError | EnterpriseError>
  /** `BATCH STATUS`: a batch's counts and callback states. */
  readonly batchStatus: (
    bid: string
  ) => Effect.Effect<Enterprise.BatchStatus, InvalidArgumentError | BatchNotFoundError | EnterpriseError>
  /** `TRACK GET`: a job's tracking state (`unknown` for an untracked job). */
  readonly trackGet: (jid: string) => Effect.Effect<Enterprise.JobStatus, InvalidArgumentError | EnterpriseError>
  /**
   * `TRACK SET`: a job's progress, and the extension of its reservation. Only this; the worker's
   * reservation guard moves when the job's own handler extends it (`Tracking`).
   */
  readonly trackSet: (update: Protocol.TrackUpdate) => Effect.Effect<void, InvalidArgumentError | EnterpriseError>
  /** Lends one pooled connection for the caller alone, for pipelining many commands on it. */
  readonly withConnection: <A, E, R>(
    f: (connection: Connection.Connection) => Effect.Effect<A, E, R>
  ) => Effect.Effect<A, E | ConnectionPool.OpenError, R>
}

/**
 * The client service.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Client } from "@effect-faktory/core"
 * import { NodeTransport } from "@effect-faktory/node"
 *
 * const program = Effect.gen(function* () {
 *   const client = yield* Client.Client
 *   yield* client.push({ jobtype: "SendEmail", args: ["a@example.com"] })
 * }).pipe(Effect.provide(Client.layer({ url: "tcp://localhost:7419" })), Effect.provide(NodeTransport.layer))
 * ```
 *
 * @since 0.1.0
 * @category tags
 */
export class Client extends Context.Tag("@effect-faktory/core/Client")<Client, Service>() {}

const resolveUrl = (
  options: ClientOptions
): Effect.Effect<FaktoryUrl.FaktoryUrl, InvalidUrlError | ConfigError.ConfigError> => {
  const base = options.url === undefined
    ? FaktoryUrl.fromEnv
    : typeof options.url === "string"
    ? FaktoryUrl.parse(options.url)
    : Effect.succeed(options.url)
  return Effect.map(base, (url) =>
    options.password === undefined
      ? url
      : url.withPassword(
        Option.some(typeof options.password === "string" ? Redacted.make(options.password) : options.password)
      ))
}

/**
 * Builds a client. Connections open on first use and close with the scope.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Client } from "@effect-faktory/core"
 * import { NodeTransport } from "@effect-faktory/node"
 *
 * const program = Effect.gen(function* () {
 *   const client = yield* Client.make({ url: "tcp://localhost:7419", poolSize: 4 })
 *   return yield* client.info
 * }).pipe(Effect.scoped, Effect.provide(NodeTransport.layer))
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (
  options: ClientOptions = {}
): Effect.Effect<Service, InvalidUrlError | ConfigError.ConfigError, Scope.Scope | Transport> =>
  Effect.gen(function*() {
    const url = yield* resolveUrl(options)
    // Only the service: a captured whole context would carry the caller's Scope and override
    // the pool's own when provided, tying connections to the caller's finalizer order.
    const transport = yield* Transport
    const connectionOptions: Connection.ConnectionOptions = {
      url,
      tls: options.tls,
      worker: options.worker,
      connectTimeout: options.connectTimeout,
      handshakeTimeout: options.handshakeTimeout,
      replyTimeout: options.replyTimeout,
      decoder: options.maxReplyBytes === undefined ? undefined : { maxBulkBytes: options.maxReplyBytes }
    }
    const poolSize = options.poolSize ?? 10
    // Work the client starts outside its callers' fibers (gathered pushes) runs on the runtime
    // it was made in: its logger and tracer, not the default runtime's.
    const runtime = yield* Effect.runtime<never>()
    // Metrics recorded on the push paths carry the labels in effect where the client is made.
    const recorders = Recorders.makeRecorders(yield* FiberRef.get(FiberRef.currentMetricLabels))
    const pool = yield* ConnectionPool.make({
      // A connection opens outside the span of the command that needed it.
      open: Spans.detached(Effect.provideService(Connection.make(connectionOptions), Transport, transport)),
      size: poolSize,
      retry: options.connectRetry,
      connectDeadline: options.connectDeadline,
      address: url.address
    })

    /** The one way a command goes out: over the pool, its reply read by the command itself. */
    const send: Service["send"] = pool.send

    const fromEither = <A, E>(either: Either.Either<A, E>): Effect.Effect<A, E> => either

    const middleware = options.middleware ?? []
    /** Runs a job through the middleware; `terminal` gets what comes out, checked again. */
    const throughMiddleware = (
      job: JobPayload.PushableJob,
      terminal: (job: JobPayload.PushableJob) => Effect.Effect<void, PushError>
    ): Effect.Effect<void, PushError> => {
      if (middleware.length === 0) return terminal(job)
      const checked = (changed: JobPayload.PushableJob) => Effect.flatMap(JobPayload.prepare(changed), terminal)
      return middleware.reduceRight<(job: JobPayload.PushableJob) => Effect.Effect<void, PushError>>(
        (next, wrap) => (current) => wrap(current, next),
        checked
      )(job)
    }

    const sendPush: (job: JobPayload.PushableJob) => Effect.Effect<void, PushError> =
      options.batchPushes === false
        ? (job) => Effect.flatMap(PushBatcher.pushCommand(job), send)
        : PushBatcher.make({ pool, send, maxBatch: PUSH_BULK_BATCH_SIZE, connections: poolSize, runtime })

    /**
     * Checks, joins the batch in scope, runs the middleware and sends; `traced` makes the
     * producer span.
     */
    const pushNow = (
      input: JobPayload.JobInput,
      traced: boolean,
      batch: Option.Option<Enterprise.Bid>
    ): Effect.Effect<string, PushError> => {
      const checked = JobPayload.prepare(input)
      if (Either.isLeft(checked)) return Effect.fail(checked.left)
      const joined = Option.isNone(batch) ? checked.right : JobPayload.inBatch(checked.right, batch.value)
      const sending = (job: JobPayload.PushableJob) => {
        let sent = job
        // Push latency and the pushed counter, as the server's reply arrives.
        const startedAt = performance.now()
        return Effect.map(throughMiddleware(job, (final) => {
          sent = final
          return sendPush(final)
        }), () => {
          recorders.pushLatency(Recorders.secondsSince(startedAt))
          recorders.forJob(sent.jobtype, sent.queue ?? "default").pushed(1)
          return sent.jid
        })
      }
      return traced ? Spans.producer(joined, sending) : sending(joined)
    }

    // Plain combinators rather than a generator: a push is a handful of steps, and each
    // generator step is one more for the fiber (this is the producer's hot path). The tracer
    // and the batch in scope are read in one step.
    const push = (input: JobPayload.JobInput): Effect.Effect<string, PushError> =>
      Effect.withFiberRuntime((fiber) =>
        pushNow(input, fiber.currentTracer !== Spans.builtInTracer, fiber.getFiberRef(currentBatch))
      )

    const pushBulk = Effect.fnUntraced(function*(inputs: ReadonlyArray<JobPayload.JobInput>) {
      const checked = yield* JobPayload.prepareAll(inputs)
      const batch = yield* FiberRef.get(currentBatch)
      const prepared = Option.isNone(batch) ? checked : checked.map((job) => JobPayload.inBatch(job, batch.value))
      // Middleware sees each job; what comes out of it is collected and sent in batches.
      // Without middleware the jobs go as they are (a fiber step per job costs a third of
      // what preparing it does).
      let jobs: Array<JobPayload.PushableJob> = prepared
      if (middleware.length > 0) {
        jobs = []
        for (const job of prepared) {
          yield* throughMiddleware(job, (final) => Effect.sync(() => jobs.push(final)))
        }
        // Checked each already; this refuses a jid that middleware gave two of them.
        jobs = yield* JobPayload.prepareAll(jobs)
      }
      if (jobs.length === 0) return { pushed: [], notUnique: [], rejected: [] }
      // A producer span whose trace context every job carries.
      return yield* ((yield* Spans.isRecording) ? Spans.producerMany(jobs, sendBulk) : sendBulk(jobs))
    })

    const sendBulk = Effect.fnUntraced(function*(jobs: ReadonlyArray<JobPayload.PushableJob>) {
      // Every command is written before any is sent: a job that cannot be written (a getter
      // that changed after the check) refuses them all, as an invalid job does.
      const commands: Array<Protocol.Command<Readonly<Record<string, string>>, Protocol.ReplyError>> = []
      try {
        for (let start = 0; start < jobs.length; start += PUSH_BULK_BATCH_SIZE) {
          commands.push(Protocol.pushBulk(jobs.slice(start, start + PUSH_BULK_BATCH_SIZE)))
        }
      } catch (error) {
        return yield* new JobValidationError({ detail: `jobs: writing them as JSON threw ${describeThrown(error)}` })
      }
      // Batches go out at once over the pool's connections: the server handles each
      // connection's commands one at a time, so one connection was the bottleneck (measured:
      // 23k jobs/s on one connection, 54k on four).
      const refusals = yield* Effect.forEach(
        commands,
        send,
        { concurrency: "unbounded" }
      )
      // A unique job whose twin holds the lock was not enqueued, and that is no failure: it is
      // listed apart, so that a producer can tell "already queued" from a refusal.
      const rejected: Array<{ readonly jid: string; readonly reason: string }> = []
      const notUnique: Array<string> = []
      const refusedJids = new Set<string>()
      for (const refused of refusals) {
        for (const [jid, reason] of Object.entries(refused)) {
          refusedJids.add(jid)
          if (Replies.pushRefusal(reason)._tag === "NotUniqueError") notUnique.push(jid)
          else rejected.push({ jid, reason })
        }
      }
      const pushed: Array<string> = []
      for (const job of jobs) {
        if (refusedJids.has(job.jid)) continue
        pushed.push(job.jid)
        recorders.forJob(job.jobtype, job.queue ?? "default").pushed(1)
      }
      return { pushed, notUnique, rejected }
    })

    const fetch = Effect.fnUntraced(function*(queues: ReadonlyArray<string>) {
      const command = yield* fromEither(Protocol.fetch(queues))
      // FETCH holds its connection up to 2 s: borrowed alone, so nothing queues behind it.
      return yield* pool.useExclusive((connection) => connection.send(command))
    }, Spans.withSpan("Faktory.fetch"))

    const queueCommand = (action: Protocol.QueueAction) =>
      Effect.fnUntraced(function*(names: ReadonlyArray<string>) {
        // An empty list would make the server fail; changing no queue is simply nothing to do.
        if (names.length === 0) return
        yield* send(yield* fromEither(Protocol.queue(action, names)))
      }, Spans.withSpan(`Faktory.queue${action}`))

    return Client.of({
      url,
      send,
      push,
      pushBulk,
      fetch,
      ack: (jid: string) => send(Protocol.ack(jid)).pipe(Spans.withSpan("Faktory.ack")),
      fail: (failure: Protocol.Failure) => send(Protocol.fail(failure)).pipe(Spans.withSpan("Faktory.fail")),
      beat: (payload: Protocol.Beat) => send(Protocol.beat(payload)).pipe(Spans.withSpan("Faktory.beat")),
      info: send(Protocol.info).pipe(Spans.withSpan("Faktory.info")),
      flush: send(Protocol.flush).pipe(Spans.withSpan("Faktory.flush")),
      mutate: (mutation: Protocol.Mutation) =>
        Effect.flatMap(fromEither(Protocol.mutate(mutation)), send).pipe(Spans.withSpan("Faktory.mutate")),
      pauseQueues: queueCommand("PAUSE"),
      resumeQueues: queueCommand("RESUME"),
      removeQueues: queueCommand("REMOVE"),
      queueLatency: (names: ReadonlyArray<string>) =>
        names.length === 0
          ? Effect.succeed({})
          : Effect.flatMap(fromEither(Protocol.queueLatency(names)), send).pipe(Spans.withSpan("Faktory.queueLatency")),
      isEnterprise: send(Protocol.info).pipe(Effect.map(ServerInfo.isEnterprise), Spans.withSpan("Faktory.info")),
      batchNew: (batch: Protocol.NewBatch) =>
        Effect.flatMap(Effect.suspend(() => fromEither(Protocol.batchNew(batch))), send).pipe(Spans.withSpan("Faktory.batchNew")),
      batchOpen: (bid: string) =>
        Effect.flatMap(Effect.suspend(() => fromEither(Protocol.batchOpen(bid))), send).pipe(Spans.withSpan("Faktory.batchOpen")),
      batchCommit: (bid: string) =>
        Effect.flatMap(Effect.suspend(() => fromEither(Protocol.batchCommit(bid))), send).pipe(Spans.withSpan("Faktory.batchCommit")),
      batchStatus: (bid: string) =>
        Effect.flatMap(Effect.suspend(() => fromEither(Protocol.batchStatus(bid))), send).pipe(Spans.withSpan("Faktory.batchStatus")),
      trackGet: (jid: string) =>
        Effect.flatMap(Effect.suspend(() => fromEither(Protocol.trackGet(jid))), send).pipe(Spans.withSpan("Faktory.trackGet")),
      trackSet: (update: Protocol.TrackUpdate) =>
        // The reservation's end is checked against the time the command is made, not the call.
        Effect.flatMap(Effect.suspend(() => fromEither(Protocol.trackSet(update))), send).pipe(Spans.withSpan("Faktory.trackSet")),
      withConnection: pool.useExclusive
    })
  })

/**
 * A layer of the client. Needs a `Transport` (for Node: `NodeTransport.layer`).
 *
 * @example
 * ```ts
 * import { Layer } from "effect"
 * import { Client } from "@effect-faktory/core"
 * import { NodeTransport } from "@effect-faktory/node"
 *
 * const FaktoryLive = Client.layer({ poolSize: 4 }).pipe(Layer.provide(NodeTransport.layer))
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (
  options: ClientOptions = {}
): Layer.Layer<Client, InvalidUrlError | ConfigError.ConfigError, Transport> => Layer.scoped(Client, make(options))

/**
 * A layer of the client whose options come from `Config`.
 *
 * @example
 * ```ts
 * import { Config } from "effect"
 * import { Client } from "@effect-faktory/core"
 *
 * const FaktoryLive = Client.layerConfig({
 *   url: Config.string("JOBS_URL"),
 *   poolSize: Config.integer("JOBS_POOL_SIZE").pipe(Config.withDefault(10))
 * })
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layerConfig = (
  config: Config.Config.Wrap<ClientOptions>
): Layer.Layer<Client, InvalidUrlError | ConfigError.ConfigError, Transport> =>
  Layer.scoped(Client, Effect.flatMap(Config.unwrap(config), make))
