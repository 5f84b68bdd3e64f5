/**
 * The worker: a scoped service that fetches jobs, runs their handlers and reports each
 * outcome (ACK or FAIL), never more than `concurrency` at once.
 *
 A job goes one way: a processor (one of `concurrency` fibers, each on a connection of its
 * own) FETCHes it, the `JobRunner` runs it in a fiber of its own and says what to report, and
 * the processor sends that report with its next FETCH. This module holds the service and its
 * lifecycle (quiet, terminate); the worker's state has one owner, which the processors read.
 *
 *
 * Lifecycle, as Faktory defines it:
 * - start: a first BEAT registers the worker. A wrong or missing password fails the start
 *   with `AuthenticationError`; a server not yet reachable is retried with backoff.
 * - quiet (a BEAT reply, `worker.quiet`, SIGTSTP in `runMain`): close the fetch gate, keep
 *   beating, let running jobs finish;
 * - terminate (a BEAT reply, `worker.terminate`, the scope closing, SIGTERM/SIGINT in
 *   `runMain`): stop fetching, wait up to the shutdown timeout for the processors to finish
 *   their jobs (a FETCH already in flight may still bring one, which runs in what is left of
 *   the window), interrupt what is left and FAIL it (errtype `Shutdown`), a last BEAT, END.
 *
 * Several pools in one process (Sidekiq's capsules): `Worker.layer`s built together (one
 * `Layer.mergeAll`), each with its queues, concurrency and `pool` name, each a worker of its
 * own on the server. A queue belongs to one pool (`PoolConflictError` at start otherwise),
 * and closing the layer drains them all at once. `Pools` is all of them.
 *
 * @since 0.1.0
 */
import * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import * as ConfigErrorModule from "effect/ConfigError"
import * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as FiberRef from "effect/FiberRef"
import * as FiberSet from "effect/FiberSet"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Queue from "effect/Queue"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as Client from "./Client.js"
import * as ConnectionPool from "./ConnectionPool.js"
import {
  type CommandError,
  InvalidArgumentError,
  type InvalidUrlError,
  type JobValidationError,
  type PoolConflictError
} from "./Errors.js"
import * as Recorders from "./internal/observability/metrics.js"
import * as Spans from "./internal/observability/spans.js"
import * as DurationInput from "./internal/shared/durationInput.js"
import * as LiveClock from "./internal/shared/liveClock.js"
import * as Lifecycle from "./internal/worker/lifecycle.js"
import * as PoolRegistry from "./internal/worker/pools.js"
import * as Processor from "./internal/worker/processor.js"
import * as JobHandler from "./JobHandler.js"
import * as JobRunner from "./JobRunner.js"
import * as Protocol from "./Protocol.js"
import type * as Replies from "./Replies.js"
import type { Transport } from "./Transport.js"

/**
 * Queues to fetch from: an array in strict priority order, or weights (`{ critical: 3,
 * default: 1 }`; each a finite number above 0), from which each fetch draws an order at random,
 * heavier queues first more often.
 *
 * @since 0.1.0
 * @category models
 */
export type Queues = ReadonlyArray<string> | Readonly<Record<string, number>>

/**
 * @since 0.1.0
 * @category models
 */
export interface WorkerOptions {
  /** Default `["default"]`. */
  readonly queues?: Queues | undefined
  /** Most jobs running at once. Default 20. */
  readonly concurrency?: number | undefined
  /** How long terminate waits for running jobs before interrupting them. Default 25 s. */
  readonly shutdownTimeout?: Duration.DurationInput | undefined
  /** Between heartbeats: from 1 s to under 60 s (the server reaps workers silent for 60 s). Default 15 s. */
  readonly heartbeatInterval?: Duration.DurationInput | undefined
  readonly labels?: ReadonlyArray<string> | undefined
  /** The worker id; random by default. */
  readonly wid?: string | undefined
  readonly hostname?: string | undefined
  readonly pid?: number | undefined
  /** Resident memory in KB, reported with every heartbeat. */
  readonly rssKb?: (() => number) | undefined
  /** Worker middleware around every job, outermost first. */
  readonly middleware?: ReadonlyArray<JobRunner.Middleware> | undefined
  /**
   * How long a guarded job may run, given its reservation in seconds. Default: 90% of it,
   * and at least 5 s short of it (the server never expires a reservation early). A job that
   * extends its reservation (`Tracking.extendReservation`, Faktory Enterprise) may run as long
   * as this gives for a reservation from its start to the new end.
   */
  readonly reservationLimit?: ((reserveForSeconds: number) => Duration.DurationInput) | undefined
  /**
   * How to reach the server (URL, password, TLS…). The worker's client is also the `Client`
   * its handlers get, unless their layer was given one.
   */
  readonly client?: Client.ClientOptions | undefined
  /**
   * How long start may wait for the server: past it, start fails with `StartTimeoutError`,
   * saying why the last attempt failed (refused, not a Faktory server…). Default: no limit,
   * retrying with backoff for ever. A refusal (a wrong password) fails at once either way.
   * One attempt may take up to the client's connect deadline (10 s by default): give more than
   * that, or the error may only say that the first attempt had no answer yet.
   */
  readonly startTimeout?: Duration.DurationInput | undefined
  /**
   * This worker's name among the pools of its process (several `Worker.layer`s built
   * together, each with its own queues and concurrency): a `pool` label on its metrics, a
   * `pool` annotation on its log lines and jobs' lines, a `messaging.faktory.pool` attribute
   * on its spans, and a `pool:<name>` label in the Web UI. Letters, digits, `.`, `_` and `-`.
   * Without it nothing is labelled (a single worker's series and lines stay as they were), and
   * the pool is called after its queues (`critical,default`) in `Worker.Pools` and in errors.
   */
  readonly pool?: string | undefined
  /**
   * Queues this pool shares on purpose with another pool built with it. Two pools fetching
   * from one queue are refused at start (`PoolConflictError`) unless both list it here.
   * Each must be one of `queues`.
   */
  readonly sharedQueues?: ReadonlyArray<string> | undefined
}

/**
 * The most processors one worker runs. Each holds a connection of its own, and a Faktory
 * server accepts 2,000 connections in all (from every worker and producer); a trial with
 * 100,000 ran out of memory opening them.
 *
 * @since 0.2.0
 * @category constants
 */
export const MAX_CONCURRENCY = 1000

/**
 * The worker's state: `running`, `quiet` (not fetching), `terminating` (shutting down),
 * `stopped`.
 *
 * @since 0.1.0
 * @category models
 */
export type WorkerState = "running" | "quiet" | "terminating" | "stopped"

/**
 * What a running worker offers: the service of the `Worker` tag.
 *
 * @since 0.2.0
 * @category models
 */
export interface Service {
  readonly wid: string
  /** The pool's name: the `pool` option, else its queues joined by commas. */
  readonly pool: string
  /** The worker's state now. */
  readonly state: Effect.Effect<WorkerState>
  /** The worker's state, then each change of it. */
  readonly stateChanges: Stream.Stream<WorkerState>
  /** Jobs running now. */
  readonly running: () => number
  /**
   * Jobs reported since start: counted when the server's reply to the ACK or FAIL arrives, so
   * they agree with the server's own counts at that moment.
   */
  readonly processed: () => { readonly acked: number; readonly failed: number }
  /** Stop fetching; running jobs finish. */
  readonly quiet: Effect.Effect<void>
  /** Shut down as Faktory's terminate asks; completes when the worker has stopped. */
  readonly terminate: Effect.Effect<void>
  /**
   * Shut down without the shutdown timeout, also while a terminate waits for it (a second
   * Ctrl-C): running jobs are interrupted at once and FAILed as `Shutdown`, so that the server
   * retries them rather than after their reservations run out; completes when the worker has
   * stopped.
   */
  readonly terminateNow: Effect.Effect<void>
  /** Completes when the worker has stopped (after a terminate from any source). */
  readonly awaitStopped: Effect.Effect<void>
  /**
   * Subscribes, for the life of the scope, to the reports the server accepts from now on: each
   * ACK or FAIL lands in the queue as its reply arrives (when `processed()` counts it). Jobs
   * pay for it only while someone subscribes. `@effect-faktory/testing`'s `TestWorker` waits
   * for jobs with it.
   */
  readonly subscribeReports: Effect.Effect<Queue.Dequeue<Reported>, never, Scope.Scope>
  /** What the worker is doing now: state, outage, processors, time since progress. */
  readonly activity: Effect.Effect<Activity>
  /** Jobs waiting in the worker's queues now, as the server's INFO counts them. */
  readonly waiting: Effect.Effect<number, CommandError>
}

/**
 * What the worker is doing, as probes read it (`@effect-faktory/node/WorkerProbes`): one
 * reading of the state its lifecycle holds, not a copy kept elsewhere.
 *
 * @since 0.2.0
 * @category models
 */
export interface Activity {
  readonly state: WorkerState
  /**
   * The processors cannot reach the server: from the first failed FETCH until a processor
   * fetches again (the outage the WARN and INFO lines announce).
   */
  readonly outage: boolean
  /** Processors alive; while running or quiet this is `concurrency` unless one ended by a bug. */
  readonly processors: number
  readonly concurrency: number
  /**
   * Since a processor last made progress: a FETCH answered (with a job or, after the server's
   * 2 s wait, none) or a report accepted; since start when none has yet.
   */
  readonly sinceProgress: Duration.Duration
  /** The queues the worker fetches from. */
  readonly queues: ReadonlyArray<string>
}

/**
 * A job's report that the server accepted: its ACK, or its FAIL and what that said (errtype,
 * message, backtrace).
 *
 * @since 0.2.0
 * @category models
 */
export interface Reported {
  readonly jid: string
  /** `unknown` for a job that could not be read (FAILed as `MalformedJob`). */
  readonly jobtype: string
  /** `unknown` for a job that could not be read. */
  readonly queue: string
  readonly verb: "ACK" | "FAIL"
  /** What the FAIL said; undefined for an ACK. */
  readonly failure: JobRunner.FailureReport | undefined
}

/**
 * The worker service.
 *
 * @since 0.1.0
 * @category tags
 */
export class Worker extends Context.Tag("@effect-faktory/core/Worker")<Worker, Service>() {}

/**
 * One of the worker pools built together: its name, its queues and its worker.
 *
 * @since 0.2.0
 * @category models
 */
export interface Pool {
  readonly name: string
  readonly queues: ReadonlyArray<string>
  readonly worker: Service
}

/**
 * The worker pools built together (`Layer.mergeAll` of `Worker.layer`s, one `Effect.provide`,
 * one `ManagedRuntime`), as one: what a process's signals act on (`NodeWorker.runMain`).
 *
 * @since 0.2.0
 * @category models
 */
export interface PoolsService {
  /** The pools started, in the order they claimed their queues. */
  readonly pools: () => ReadonlyArray<Pool>
  /** Quiets every pool. */
  readonly quiet: Effect.Effect<void>
  /**
   * Terminates every pool concurrently, each within its own shutdown timeout; completes when
   * all have stopped. A pool's scope closing does the same.
   */
  readonly terminate: Effect.Effect<void>
  /** `terminateNow` on every pool. */
  readonly terminateNow: Effect.Effect<void>
  /** Completes when any pool has stopped (a terminate from the server or the Web UI, say). */
  readonly awaitAnyStopped: Effect.Effect<void>
}

/**
 * The worker pools built together. Every `Worker.layer` provides it; with several pools in
 * one layer, `Worker` is one of them (the last merged), and `Pools` is all of them.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Worker } from "@effect-faktory/core"
 *
 * const names = Effect.map(Worker.Pools, (pools) => pools.pools().map((pool) => `${pool.name}: ${pool.worker.wid}`))
 * ```
 *
 * @since 0.2.0
 * @category tags
 */
export class Pools extends Context.Tag("@effect-faktory/core/Worker/Pools")<Pools, PoolsService>() {}

/**
 * The registry the pools of one layer build share (see internal/worker/pools.ts for why a
 * layer). Not exported: pools claim through `Worker.layer`; applications see `Pools`.
 */
class Registry extends Context.Tag("@effect-faktory/core/Worker/Registry")<Registry, PoolRegistry.Registry<Service>>() {}

/**
 * One value for the whole module, so that Layer memoization (by reference) gives every
 * `Worker.layer` of one build the same registry.
 */
const registryLayer: Layer.Layer<Registry> = Layer.effect(Registry, PoolRegistry.make<Service>())
const poolsLayer: Layer.Layer<Pools, never, Registry> = Layer.effect(
  Pools,
  Effect.map(Registry, (registry): PoolsService => registry.view)
)


/**
 * The worker did not reach the server within its `startTimeout`: `reason` is why the last
 * attempt failed (nothing listens there, the port is not a Faktory server's…). `address` is
 * `host:port`, never the password.
 *
 * @example
 * ```ts
 * import { Worker } from "@effect-faktory/core"
 *
 * new Worker.StartTimeoutError({ address: "localhost:7419", timeout: "30s", attempts: 9, reason: "Refused: …" }).message
 * // could not start within 30s: the server at localhost:7419 was not reached (9 attempts); the last: Refused: …
 * ```
 *
 * @since 0.2.0
 * @category errors
 */
export class StartTimeoutError extends Schema.TaggedError<StartTimeoutError>()("StartTimeoutError", {
  address: Schema.String,
  timeout: Schema.String,
  attempts: Schema.Number,
  reason: Schema.String
}) {
  override get message(): string {
    return `could not start within ${this.timeout}: the server at ${this.address} was not reached ` +
      `(${this.attempts} ${this.attempts === 1 ? "attempt" : "attempts"}); the last: ${this.reason}`
  }
}

/**
 * Why a worker could not start: bad options, or a server that refuses it (a wrong password,
 * TLS trouble, not a Faktory server), or one not reached within `startTimeout`.
 *
 * @since 0.2.0
 * @category errors
 */
export type StartError =
  | JobValidationError
  | InvalidArgumentError
  | InvalidUrlError
  | ConfigError.ConfigError
  | CommandError
  | StartTimeoutError
  | PoolConflictError

const randomWid = (): string => {
  const bytes = crypto.getRandomValues(new Uint8Array(8))
  return Array.from(bytes, (byte) => byte.toString(16).padStart(2, "0")).join("")
}

/** A duration option, or a refusal naming it (see DurationInput). */
const durationOption = (name: string, input: Duration.DurationInput): Effect.Effect<Duration.Duration, InvalidArgumentError> =>
  Option.match(DurationInput.decode(input), {
    onNone: () =>
      Effect.fail(
        new InvalidArgumentError({
          command: "Worker",
          detail: `${name} ${DurationInput.describe(input)} is not a duration (${DurationInput.howToWrite})`
        })
      ),
    onSome: Effect.succeed
  })

/**
 * After terminateNow, how long each of terminate's waits still lasts: enough for interrupted
 * jobs to end and for their reports' replies on a local network, not enough to be noticed.
 */
const HURRIED_WAIT = Duration.millis(250)

/**
 * One fetch's queue order. Weighted queues are drawn without replacement, each with
 * probability proportional to its weight.
 *
 * @example
 * ```ts
 * import { Worker } from "@effect-faktory/core"
 *
 * Worker.queueOrder(["a", "b"]) // ["a", "b"]
 * Worker.queueOrder({ a: 3, b: 1 }) // ["a", "b"] three times in four
 * ```
 *
 * @since 0.1.0
 * @category queues
 */
export const queueOrder = (queues: Queues, random: () => number = Math.random): ReadonlyArray<string> => {
  if (Array.isArray(queues)) return queues
  const pool = Object.entries(queues).filter(([, weight]) => weight > 0)
  const order: Array<string> = []
  while (pool.length > 0) {
    const total = pool.reduce((sum, [, weight]) => sum + weight, 0)
    let pick = random() * total
    let index = 0
    while (index < pool.length - 1 && pick >= pool[index]![1]) {
      pick -= pool[index]![1]
      index++
    }
    order.push(pool[index]![0])
    pool.splice(index, 1)
  }
  return order
}

/** "1 job", "2 jobs": for log lines. */
const jobsCount = (count: number, noun: string) => `${count} ${noun}${count === 1 ? "" : "s"}`

/** Between attempts to reach the server at start: 100 ms doubling to 10 s, jittered. */
const startBackoff = (attempt: number) =>
  Duration.millis(Math.min(10_000, 100 * 2 ** Math.min(attempt, 10)) * (0.5 + Math.random()))

const publicState = (phase: Lifecycle.Phase): WorkerState =>
  phase === "draining" || phase === "pastDeadline" ? "terminating" : phase

/** What the server accepts as a queue name. */
const QUEUE_NAME = /^[a-zA-Z0-9._-]+$/

/** A duration given as a negative number or text (Duration.decode would make it 0). */
const isNegative = (input: Duration.DurationInput | undefined): boolean =>
  (typeof input === "number" && input < 0) || (typeof input === "bigint" && input < 0n) ||
  (typeof input === "string" && input.trim().startsWith("-"))

interface CheckedOptions {
  readonly queues: Queues
  /** The pool's name: given, or the queues' names joined by commas. */
  readonly pool: string
  readonly queueNames: ReadonlyArray<string>
  readonly sharedQueues: ReadonlyArray<string>
  readonly concurrency: number
  readonly shutdownTimeout: Duration.Duration
  readonly heartbeatInterval: Duration.Duration
}

/** The options `make` refuses, each with a message that says what to write instead. */
const checkOptions = (options: WorkerOptions): Effect.Effect<CheckedOptions, InvalidArgumentError> =>
  Effect.gen(function*() {
    const queues = options.queues ?? ["default"]
    const concurrency = options.concurrency ?? 20
    if (!Number.isSafeInteger(concurrency) || concurrency < 1 || concurrency > MAX_CONCURRENCY) {
      return yield* new InvalidArgumentError({
        command: "Worker",
        detail: `concurrency must be a whole number from 1 to ${MAX_CONCURRENCY}, not ${String(concurrency)} ` +
          "(each processor holds a connection, and a Faktory server accepts 2000 in all; run more processes for more)"
      })
    }
    const names = Array.isArray(queues) ? queues : Object.keys(queues)
    if (names.length === 0) {
      return yield* new InvalidArgumentError({ command: "Worker", detail: "queues is empty: the worker would fetch from none" })
    }
    const badName = names.find((name) => !QUEUE_NAME.test(name))
    if (badName !== undefined) {
      return yield* new InvalidArgumentError({
        command: "Worker",
        detail: `queue name ${JSON.stringify(badName)} must match ${QUEUE_NAME.source}`
      })
    }
    if (!Array.isArray(queues)) {
      // Checked one by one: a weight of -1 or NaN would be skipped as 0, Infinity would break
      // the draw, and a string (from untyped code or a config file) would be concatenated. A
      // queue of weight 0 would never be fetched from: it is left out, not weighed 0.
      for (const [name, weight] of Object.entries(queues)) {
        const value: unknown = weight
        if (typeof value !== "number" || !Number.isFinite(value) || value <= 0) {
          return yield* new InvalidArgumentError({
            command: "Worker",
            detail: `queue ${JSON.stringify(name)} has weight ${typeof value === "string" ? JSON.stringify(value) : String(value)}: ` +
              "a weight is a finite number above 0 (leave out a queue the worker should not fetch from)"
          })
        }
      }
    }
    if (isNegative(options.shutdownTimeout)) {
      return yield* new InvalidArgumentError({
        command: "Worker",
        detail: `shutdownTimeout ${DurationInput.describe(options.shutdownTimeout)} is negative (0 interrupts running jobs at once)`
      })
    }
    const shutdownTimeout = yield* durationOption("shutdownTimeout", options.shutdownTimeout ?? "25 seconds")
    const heartbeatInterval = yield* durationOption("heartbeatInterval", options.heartbeatInterval ?? "15 seconds")
    if (options.reservationLimit !== undefined) {
      // Tried at start on two reservations: otherwise a limit that is no duration would show only
      // at the first guarded job, after its handler ran, which would FAIL for the worker's mistake.
      for (const seconds of [60, 1800]) {
        if (JobRunner.reservationLimitMillis(options.reservationLimit, seconds) === undefined) {
          return yield* new InvalidArgumentError({
            command: "Worker",
            detail: `reservationLimit(${seconds}) is not a finite duration above 0 (${DurationInput.howToWrite})`
          })
        }
      }
    }
    const heartbeatMillis = Duration.toMillis(heartbeatInterval)
    if (heartbeatMillis < 1000 || heartbeatMillis >= 60_000) {
      return yield* new InvalidArgumentError({
        command: "Worker",
        detail: `heartbeatInterval must be from 1 second to under 60 seconds, not ${Duration.format(heartbeatInterval)} ` +
          "(the server reaps a worker silent for 60 s; shorter than a second only loads it)"
      })
    }
    if (options.pool !== undefined && !QUEUE_NAME.test(options.pool)) {
      return yield* new InvalidArgumentError({
        command: "Worker",
        detail: `pool name ${JSON.stringify(options.pool)} must match ${QUEUE_NAME.source}`
      })
    }
    const sharedQueues = options.sharedQueues ?? []
    const notFetched = sharedQueues.find((queue) => !names.includes(queue))
    if (notFetched !== undefined) {
      return yield* new InvalidArgumentError({
        command: "Worker",
        detail: `sharedQueues names ${JSON.stringify(notFetched)}, which is not one of the pool's queues ${JSON.stringify(names)}`
      })
    }
    return {
      queues,
      pool: options.pool ?? names.join(","),
      queueNames: names,
      sharedQueues,
      concurrency,
      shutdownTimeout,
      heartbeatInterval
    }
  })

/** `startTimeout`: none for no limit (the default, as for "infinity"), else above 0. */
const checkStartTimeout = (
  input: Duration.DurationInput | undefined
): Effect.Effect<Option.Option<Duration.Duration>, InvalidArgumentError> => {
  if (input === undefined) return Effect.succeed(Option.none())
  const refuse = (why: string) =>
    new InvalidArgumentError({
      command: "Worker",
      detail: `startTimeout ${DurationInput.describe(input)} ${why} (leave it out to retry for ever)`
    })
  if (isNegative(input)) return Effect.fail(refuse("is negative"))
  return Effect.flatMap(durationOption("startTimeout", input), (limit) =>
    !Duration.isFinite(limit)
      ? Effect.succeed(Option.none())
      : Duration.toMillis(limit) <= 0
      ? Effect.fail(refuse("is not above 0"))
      : Effect.succeed(Option.some(limit)))
}

/**
 * Builds and starts a worker; it stops (terminate) when the scope closes.
 *
 * Handlers are found in the context: provide the layers that `Job.define(…).handle(…)`
 * returns. The start fails when the server refuses the worker (a wrong or missing password:
 * `AuthenticationError`); a server that cannot be reached yet is retried with backoff, with
 * one warning, for ever or up to `startTimeout` (then `StartTimeoutError`, with the reason).
 *
 * The worker's own timers (heartbeats, backoffs, report retries, the shutdown timeout, the
 * reservation guard) run on the live clock whatever clock the caller has; handlers run on the
 * caller's, as their fibers start from its runtime: under `@effect/vitest`'s `it.effect` or
 * `layer(...)` a handler's `Effect.sleep` waits for `TestClock.adjust`.
 *
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import { Job, Worker } from "@effect-faktory/core"
 *
 * const Ping = Job.define("Ping", { args: Schema.Tuple(Schema.String) })
 * const program = Effect.gen(function* () {
 *   const worker = yield* Worker.make({ queues: ["default"], concurrency: 5 })
 *   yield* worker.awaitStopped
 * }).pipe(Effect.scoped, Effect.provide(Ping.handle(([who]) => Effect.log(`pong ${who}`))))
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (
  options: WorkerOptions = {}
): Effect.Effect<Service, StartError, Scope.Scope | Transport> =>
  // Jobs start from the caller's runtime: a handler keeps the caller's clock (the TestClock
  // under @effect/vitest's it.effect or layer(...)), while the worker's own timers (heartbeats,
  // backoffs, shutdown) run on the live clock, as do the fibers it forks.
  Effect.flatMap(JobRunner.currentRuntime, (jobRuntime) =>
    LiveClock.onLiveClock(
      // The pool label goes on the worker's own metrics (its recorders and client read the
      // labels in effect here), not on those of its handlers, whose runtime is taken above.
      options.pool === undefined ? start(options, jobRuntime) : Effect.tagMetrics(start(options, jobRuntime), "pool", options.pool)
    )).pipe(
      // Outside the runtime taken for jobs: their lines and spans are the pool's too. Fibers
      // forked in start (processors, heartbeats) inherit it; what runs on another fiber
      // (terminate as a finalizer, quiet called by the application) is annotated in start.
      inPool(options.pool)
    )

/** The span attribute naming a worker's pool, in the namespace messaging conventions give a system. */
const POOL_ATTRIBUTE = "messaging.faktory.pool"

/** Annotates log lines and spans with the pool's name, when it was given. */
const inPool = (pool: string | undefined) => <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  pool === undefined ? self : self.pipe(Effect.annotateLogs("pool", pool), Effect.annotateSpans(POOL_ATTRIBUTE, pool))

const start = (
  options: WorkerOptions,
  jobRuntime: JobRunner.JobRuntime
): Effect.Effect<Service, StartError, Scope.Scope | Transport> =>
  Effect.gen(function*() {
    const handlers = yield* JobHandler.collect(yield* Effect.context<never>())
    const { concurrency, heartbeatInterval, pool, queueNames, queues, sharedQueues, shutdownTimeout } = yield* checkOptions(
      options
    )
    const startTimeout = yield* checkStartTimeout(options.startTimeout)
    const wid = options.wid ?? randomWid()
    // Claimed before the server is reached: a pool that conflicts with another built with it
    // fails its start at once, and nothing of it shows in the Web UI. Absent when the worker
    // is made on its own (Worker.make), outside Worker.layer.
    const registry = Option.getOrUndefined(yield* Effect.serviceOption(Registry))
    const listStarted = registry === undefined
      ? undefined
      : yield* registry.claim({ pool, wid, queues: queueNames, sharedQueues })
    // Queue names are checked here, once; weighted queues draw an order for each FETCH.
    const strictFetch = yield* Protocol.fetch(queueOrder(queues))
    const fetchCommand = (): Processor.FetchCommand =>
      Array.isArray(queues) ? strictFetch : Either.getOrElse(Protocol.fetch(queueOrder(queues)), () => strictFetch)
    // The Web UI shows a process's labels: a named pool says its name there, since its pools
    // share the process's hostname and pid.
    const labels = options.pool === undefined ? options.labels ?? [] : [...options.labels ?? [], `pool:${options.pool}`]
    const client = yield* Client.make({
      ...options.client,
      // One connection per processor, one for heartbeats, one spare for reports and the
      // handlers' pushes.
      poolSize: concurrency + 2,
      worker: { wid, hostname: options.hostname ?? "unknown", pid: options.pid ?? 0, labels }
    })
    const address = client.url.address
    const lifecycle = yield* Lifecycle.make(address)
    const { gate, hurried, outage, stopped, stopping } = lifecycle
    const processors = yield* FiberSet.make<void>()
    const lifecycleFibers = yield* FiberSet.make<void>()
    const startedAt = performance.now()
    // The metrics carry the labels in effect where the worker is made (Effect.tagMetrics).
    const recorders = Recorders.makeRecorders(yield* FiberRef.get(FiberRef.currentMetricLabels))
    const runner = yield* JobRunner.make({
      handlers,
      middleware: options.middleware,
      client,
      guardReservations: true,
      reservationLimit: options.reservationLimit
    })

    // Sent as the worker's own background work: a trace of its own for every BEAT only when
    // Tracing.traceInternals is on (not client.beat's span, which a caller's span would hold).
    const beat = (phase: Lifecycle.Phase) =>
      Effect.suspend(() =>
        client.send(Protocol.beat({
          wid,
          currentState: phase === "quiet" ? "quiet" : phase === "running" ? undefined : "terminate",
          rssKb: options.rssKb?.()
        }))
      ).pipe(Spans.internal("Faktory.beat"))

    const beatOnce = Effect.gen(function*() {
      const phase = lifecycle.phase()
      const reply = yield* beat(phase).pipe(
        Effect.catchIf(
          (error) => error._tag === "ServerError" && error.detail.toLowerCase().startsWith("unknown worker"),
          () =>
            // The server dropped us (a stall, a restart): a fresh connection says HELLO again.
            Effect.logWarning("the server no longer knows this worker; registering again").pipe(
              Effect.zipRight(client.withConnection((connection) => connection.close)),
              Effect.zipRight(beat(phase))
            )
        )
      )
      yield* obey(reply)
    }).pipe(
      // During an outage the processors' one WARN has said it; each failed beat is DEBUG then.
      Effect.catchAll((error) =>
        outage.isDown()
          ? Effect.logDebug(`heartbeat failed: ${error.message}`)
          : Effect.logWarning(`heartbeat failed: ${error.message}`)
      ),
      Effect.annotateLogs({ wid })
    )

    /** What a BEAT reply asks for. */
    const obey = (reply: Replies.BeatState) =>
      reply === "quiet" ? quiet : reply === "terminate" ? Effect.asVoid(FiberSet.run(lifecycleFibers, terminate)) : Effect.void

    const quiet = Effect.flatMap(
      lifecycle.transition((current) => current === "running" ? [true, "quiet"] : [false, current]),
      (changed) => changed ? Effect.zipRight(gate.close, Effect.logInfo("quiet: no longer fetching")) : Effect.void
    ).pipe(inPool(options.pool))

    /**
     * Some when every processor has ended within `limit`; none when the limit passed first, or
     * HURRIED_WAIT after terminateNow. Each side of the race is interruptible, so that the
     * loser can be stopped inside terminate's uninterruptible sequence; the race itself is not:
     * terminate often runs as a finalizer of a fiber interrupted by a signal, where an
     * interruptible region would end at once (measured: the wait ended, and terminate with it,
     * before any deadline).
     */
    const untilProcessorsEnd = (limit: Duration.DurationInput): Effect.Effect<Option.Option<void>> =>
      Effect.raceFirst(
        Effect.interruptible(Effect.asSome(FiberSet.awaitEmpty(processors))),
        Effect.interruptible(Effect.as(
          Effect.race(Effect.sleep(limit), Effect.zipRight(Deferred.await(hurried), Effect.sleep(HURRIED_WAIT))),
          Option.none()
        ))
      )

    /**
     * Close the gate, wait up to the shutdown timeout, interrupt what is left, report, END
     * (the pool says END as the scope closes).
     */
    // On the live clock itself: it also runs as a finalizer, on the fiber that closes the scope.
    const terminate: Effect.Effect<void> = LiveClock.onLiveClock(Effect.uninterruptible(Effect.gen(function*() {
      const first = yield* lifecycle.transition((current) =>
        current === "running" || current === "quiet" ? [true, "draining"] : [false, current])
      if (!first) return yield* Deferred.await(stopped)
      yield* Deferred.succeed(stopping, undefined)
      // Processors waiting at the gate wake, see the phase and leave; those holding a job
      // finish it, and a FETCH in flight may still bring one, which runs like the others.
      yield* gate.open
      yield* Effect.logInfo(
        `terminating: waiting up to ${Duration.format(shutdownTimeout)} for ${jobsCount(runner.running(), "running job")}` +
          " and the FETCHes in flight (the server answers those within 2 s)"
      )
      const drained = yield* untilProcessorsEnd(shutdownTimeout)
      if (Option.isNone(drained)) {
        yield* lifecycle.transition(() => [undefined, "pastDeadline"])
        const left = runner.running()
        if (left > 0) yield* Effect.logWarning(`interrupting ${jobsCount(left, "job")} still running; ${left === 1 ? "it is" : "they are"} FAILed as Shutdown`)
        yield* runner.interruptAll
        // Their processors report them. A job that ignores its interruption (uninterruptible)
        // is not waited for past ABANDON_AFTER: it is reported as abandoned, so that the
        // server retries it and the worker stops.
        const ended = yield* untilProcessorsEnd(JobRunner.ABANDON_AFTER)
        if (Option.isNone(ended)) {
          const abandoned = runner.abandonAll()
          if (abandoned > 0) {
            // After terminateNow the wait was HURRIED_WAIT, not ABANDON_AFTER.
            const waited = (yield* Deferred.isDone(hurried)) ? "at once" : `within ${Duration.format(JobRunner.ABANDON_AFTER)}`
            yield* Effect.logWarning(
              `${abandoned} jobs did not stop ${waited} when interrupted; ` +
                "FAILed as Shutdown so that the server retries them (they may still be running in this process)"
            )
          }
          // Reports get a bounded time if the server is away.
          yield* untilProcessorsEnd("10 seconds")
        }
      }
      // Processors still retrying a report (the server is away) give up here; each says so.
      yield* FiberSet.clear(processors)
      yield* lifecycle.transition(() => [undefined, "stopped"])
      const counts = lifecycle.counts()
      const summary = `stopped: ${counts.acked} acked, ${counts.failed} failed (${counts.interrupted} interrupted by shutdown)` +
        `${counts.unreported === 0 ? "" : `, ${counts.unreported} not reported (the server was away)`}; ` +
        `up ${Duration.format(Duration.millis(Math.round(performance.now() - startedAt)))}`
      yield* counts.unreported === 0 ? Effect.logInfo(summary) : Effect.logWarning(summary)
      // A last BEAT tells the Web UI this worker is going away; a server that is away gets 2 s.
      yield* beatOnce.pipe(Effect.interruptible, Effect.timeout("2 seconds"), Effect.ignore)
      yield* Deferred.succeed(stopped, undefined)
    }))).pipe(inPool(options.pool))

    // The first BEAT registers the worker: a refusal (a wrong password, TLS trouble) fails the
    // start; a server not yet reachable is retried, with one warning for the whole wait, for
    // ever unless startTimeout bounds it.
    const tries = { attempts: 0, last: Option.none<CommandError>() }
    const reachServer = Effect.gen(function*() {
      for (let attempt = 0;; attempt++) {
        tries.attempts = attempt + 1
        const result = yield* Effect.either(beat("running"))
        if (Either.isRight(result)) {
          if (attempt > 0) yield* Effect.logInfo(`reached ${address}`)
          return result.right
        }
        const error = result.left
        if (!(error._tag === "ConnectionError" && ConnectionPool.isTransient(error))) return yield* Effect.fail(error)
        tries.last = Option.some(error)
        if (attempt === 0) {
          yield* Effect.logWarning(
            `cannot reach ${address}: ${error.message}; retrying with backoff (0.1 s doubling to 10 s)` +
              Option.match(startTimeout, { onNone: () => "", onSome: (limit) => ` for up to ${Duration.format(limit)}` })
          )
        }
        yield* Effect.sleep(startBackoff(attempt))
      }
    })
    const firstReply = yield* Option.match(startTimeout, {
      onNone: () => reachServer,
      onSome: (limit) =>
        Effect.timeoutFail(reachServer, {
          duration: limit,
          onTimeout: () =>
            new StartTimeoutError({
              address,
              timeout: Duration.format(limit),
              attempts: tries.attempts,
              // An attempt still waiting when time ran out: a port that accepts connections but
              // never greets (an HTTP server, say) keeps it waiting for the handshake timeout.
              reason: Option.match(tries.last, {
                onNone: () =>
                  "the first attempt had no answer yet (opening a connection may take up to the client's connect " +
                  "deadline, 10 s by default: a slow network, or a port that accepts connections but is not a Faktory server's)",
                onSome: (error) => error.message
              })
            })
        })
    })

    // With other pools built with it, the scope closing terminates them all at once: layers
    // release their scopes one after another where they are nested (Layer.provide), and each
    // pool waiting for its jobs in turn would make the process's shutdown the sum of the
    // pools' rather than the longest.
    yield* Effect.addFinalizer(() =>
      registry === undefined
        ? terminate
        : Effect.all([terminate, registry.view.terminate], { concurrency: "unbounded", discard: true })
    )
    yield* Effect.forever(Effect.zipRight(Effect.sleep(heartbeatInterval), beatOnce)).pipe(
      Effect.interruptible,
      Effect.forkScoped
    )
    const processor = Processor.make({ client, runner, lifecycle, fetchCommand, recorders, jobRuntime })
    for (let i = 0; i < concurrency; i++) yield* FiberSet.run(processors, processor)
    const jobtypes = [...handlers.keys()].sort()
    yield* Effect.logInfo(
      `worker ${wid} started on ${address}: ${concurrency} at once from ${JSON.stringify(queues)}` +
        `${labels.length === 0 ? "" : `, labels ${labels.join(",")}`}` +
        `; jobtypes: ${jobtypes.length === 0 ? "none" : jobtypes.join(", ")}`
    )
    if (jobtypes.length === 0) {
      yield* Effect.logWarning("no handlers are registered: every job fetched will FAIL as UnknownJobType")
    }
    yield* obey(firstReply)

    const service = Worker.of({
      wid,
      pool,
      state: Effect.sync(() => publicState(lifecycle.phase())),
      stateChanges: Stream.changes(Stream.map(lifecycle.phases, publicState)),
      running: runner.running,
      processed: () => {
        const { acked, failed } = lifecycle.counts()
        return { acked, failed }
      },
      quiet,
      terminate: Effect.zipRight(FiberSet.run(lifecycleFibers, terminate), Deferred.await(stopped)),
      terminateNow: Effect.gen(function*() {
        if (yield* Deferred.succeed(hurried, undefined)) {
          yield* Effect.logWarning(
            `terminating now: ${jobsCount(runner.running(), "running job")} ${runner.running() === 1 ? "is" : "are"} interrupted and FAILed as Shutdown, so that the server retries them`
          )
        }
        yield* FiberSet.run(lifecycleFibers, terminate)
        yield* Deferred.await(stopped)
      }).pipe(inPool(options.pool)),
      awaitStopped: Deferred.await(stopped),
      activity: Effect.map(FiberSet.size(processors), (alive): Activity => ({
        state: publicState(lifecycle.phase()),
        outage: outage.isDown(),
        processors: alive,
        concurrency,
        sinceProgress: Duration.millis(Math.max(0, performance.now() - lifecycle.lastProgress())),
        queues: queueNames
      })),
      waiting: Effect.map(client.info, (info) =>
        queueNames.reduce((sum, queue) => sum + (info.faktory.queues[queue] ?? 0), 0)),
      subscribeReports: Effect.flatMap(Queue.unbounded<Reported>(), (queue) => {
        const listener: Lifecycle.ReportListener = (jid, job, failure) => {
          queue.unsafeOffer({
            jid,
            jobtype: job?.jobtype ?? "unknown",
            queue: job === undefined ? "unknown" : job.queue ?? "default",
            verb: failure === undefined ? "ACK" : "FAIL",
            failure
          })
        }
        return Effect.as(
          Effect.acquireRelease(
            Effect.sync(() => lifecycle.reportListeners.add(listener)),
            () => Effect.zipRight(Effect.sync(() => lifecycle.reportListeners.delete(listener)), Queue.shutdown(queue))
          ),
          queue
        )
      })
    })
    listStarted?.(service)
    return service
  })

/**
 * The worker as a layer. Provide handler layers to it (first example).
 *
 * Several pools in one process, each a worker of its own on the server, built as one layer
 * (second example): each claims its queues (two pools on one queue fail the build with
 * `PoolConflictError`, unless both list it in `sharedQueues`), and the layer's closing drains
 * them concurrently, each within its own `shutdownTimeout`. `Worker` is then one of them;
 * `Pools` is all.
 *
 * @example
 * ```ts
 * import { Effect, Layer, Schema } from "effect"
 * import { Job, Worker } from "@effect-faktory/core"
 * import { NodeTransport } from "@effect-faktory/node"
 *
 * const SendEmail = Job.define("SendEmail", { args: Schema.Tuple(Schema.String, Schema.Number), queue: "mail" })
 * const Handlers = SendEmail.handle(([to, n]) => Effect.log(`send ${n} to ${to}`))
 *
 * const WorkerLive = Worker.layer({ queues: ["critical", "mail", "default"], concurrency: 20 }).pipe(
 *   Layer.provide(Handlers),
 *   Layer.provide(NodeTransport.layer)
 * )
 * ```
 *
 * @example
 * ```ts
 * import { Effect, Layer, Schema } from "effect"
 * import { Job, Worker } from "@effect-faktory/core"
 * import { NodeTransport } from "@effect-faktory/node"
 *
 * const Resize = Job.define("Resize", { args: Schema.Tuple(Schema.String), queue: "images" })
 * const SendEmail = Job.define("SendEmail", { args: Schema.Tuple(Schema.String), queue: "mail" })
 *
 * const WorkerLive = Layer.mergeAll(
 *   Worker.layer({ pool: "images", queues: ["images"], concurrency: 2 }).pipe(
 *     Layer.provide(Resize.handle(([file]) => Effect.log(`resizing ${file}`)))
 *   ),
 *   Worker.layer({ pool: "mail", queues: ["mail"], concurrency: 20 }).pipe(
 *     Layer.provide(SendEmail.handle(([to]) => Effect.log(`mailing ${to}`)))
 *   )
 * ).pipe(Layer.provide(NodeTransport.layer))
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (
  options: WorkerOptions = {}
): Layer.Layer<Worker | Pools, StartError, Transport> => withPools(Layer.scoped(Worker, make(options)))

/** A worker layer that claims its queues in the registry of its build, and provides `Pools`. */
const withPools = <E, R>(worker: Layer.Layer<Worker, E, R>): Layer.Layer<Worker | Pools, E, R> =>
  Layer.merge(worker, poolsLayer).pipe(Layer.provide(registryLayer))

/**
 * A worker layer whose options come from `Config`, as `Client.layerConfig` does for the client:
 * the environment (or any `ConfigProvider`) configures the worker, and what it says is checked
 * as `make` checks options, with the same messages. `queuesConfig` reads queues (with weights)
 * from one variable.
 *
 * @example
 * ```ts
 * import { Config } from "effect"
 * import { Worker } from "@effect-faktory/core"
 *
 * const WorkerLive = Worker.layerConfig({
 *   queues: Worker.queuesConfig("WORKER_QUEUES"), // "critical:3,default:1", or "critical,default"
 *   concurrency: Config.integer("WORKER_CONCURRENCY").pipe(Config.withDefault(20)),
 *   labels: Config.array(Config.string(), "WORKER_LABELS").pipe(Config.withDefault([])),
 *   shutdownTimeout: Config.duration("WORKER_SHUTDOWN_TIMEOUT").pipe(Config.withDefault("25 seconds"))
 * })
 * ```
 *
 * @since 0.2.0
 * @category layers
 */
export const layerConfig = (
  config: Config.Config.Wrap<WorkerOptions>
): Layer.Layer<Worker | Pools, StartError, Transport> =>
  withPools(Layer.scoped(Worker, Effect.flatMap(Config.unwrap(config), make)))

/**
 * Queues from one configuration value: names separated by commas, each with an optional weight
 * after a colon (`critical:3,mail:1`), a whole number above 0 as `faktory-worker -q` takes it.
 * Without weights the order is strict priority; once any queue has a weight, one without weighs
 * 1. A name the server would refuse, or listed twice, is refused here, naming the variable.
 *
 * @example
 * ```ts
 * import { ConfigProvider, Effect } from "effect"
 * import { Worker } from "@effect-faktory/core"
 *
 * const queues = Effect.withConfigProvider(
 *   Worker.queuesConfig("QUEUES"),
 *   ConfigProvider.fromMap(new Map([["QUEUES", "critical:3,default"]]))
 * ) // { critical: 3, default: 1 }
 * ```
 *
 * @since 0.2.0
 * @category config
 */
export const queuesConfig = (name: string): Config.Config<Queues> =>
  Config.mapOrFail(Config.string(name), (text): Either.Either<Queues, ConfigError.ConfigError> => {
    const invalid = (detail: string) => Either.left(ConfigErrorModule.InvalidData([], detail))
    const parts = text.split(",").map((part) => part.trim()).filter((part) => part !== "")
    if (parts.length === 0) return invalid(`expected queue names, got ${JSON.stringify(text)}`)
    const entries: Array<readonly [string, number | undefined]> = []
    for (const part of parts) {
      const colon = part.indexOf(":")
      const queue = (colon === -1 ? part : part.slice(0, colon)).trim()
      const weight = colon === -1 ? undefined : part.slice(colon + 1).trim()
      if (!QUEUE_NAME.test(queue)) return invalid(`queue name ${JSON.stringify(queue)} must match ${QUEUE_NAME.source}`)
      if (weight !== undefined && !/^[1-9][0-9]{0,8}$/.test(weight)) {
        return invalid(`queue ${JSON.stringify(part)}: the weight after ":" must be a whole number above 0`)
      }
      if (entries.some(([seen]) => seen === queue)) return invalid(`queue ${JSON.stringify(queue)} is listed twice`)
      entries.push([queue, weight === undefined ? undefined : Number(weight)])
    }
    if (entries.every(([, weight]) => weight === undefined)) return Either.right(entries.map(([queue]) => queue))
    return Either.right(Object.fromEntries(entries.map(([queue, weight]) => [queue, weight ?? 1])))
  })
