/**
 * Handlers: the code that runs a jobtype, registered as a service in a `Layer` and found by
 * the worker (and by the testing fake) in its context. `Job.define(…).handle(…)` makes one;
 * `JobRunner` runs them.
 *
 * A handler runs with the services of the layer it was registered in, plus `CurrentJob` (the
 * job it runs) and `Client.Client` (the worker's own client, unless its layer was given one),
 * so a handler can push follow-up jobs without a client of its own.
 *
 * @since 0.2.0
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import type * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import type * as ParseResult from "effect/ParseResult"
import type * as Schema from "effect/Schema"
import type * as Client from "./Client.js"
import { type Bid, isBid } from "./Enterprise.js"
import { JobValidationError } from "./Errors.js"
import type * as JobPayload from "./JobPayload.js"

/**
 * What a handler knows about the job it runs.
 *
 * @since 0.1.0
 * @category models
 */
export interface JobContext {
  readonly jid: string
  readonly jobtype: string
  readonly queue: string
  readonly custom: Readonly<Record<string, unknown>>
  /** How many times the job has failed before (0 on the first run). */
  readonly retryCount: number
  /** The last failure, when this is a retry. */
  readonly failure: Option.Option<JobPayload.JobFailure>
  /**
   * The batch the job belongs to (`custom.bid`, Faktory Enterprise), when it was pushed inside
   * one. `Batch.reopenOwn` adds jobs to it.
   */
  readonly bid: Option.Option<Bid>
  /**
   * For a batch's callback job: the batch whose callback it is (`custom._bid`). A callback job
   * belongs to no batch itself (`bid` is none).
   */
  readonly callbackOf: Option.Option<Bid>
  /**
   * For the callback job of a child batch: the parent of the batch whose callback it is
   * (`custom._pbid`), as Ruby's `Job#parent_bid`; reopen it to add the workflow's next step
   * to the parent.
   */
  readonly parentBid: Option.Option<Bid>
  /** The job as the server returned it. */
  readonly payload: JobPayload.Job
}

/** A batch id the server put in `custom` (or a producer did): none when absent or not one. */
const bidAt = (custom: Readonly<Record<string, unknown>> | undefined, key: string): Option.Option<Bid> => {
  if (custom === undefined) return Option.none()
  const value = custom[key]
  return isBid(value) ? Option.some(value) : Option.none()
}

/**
 * The job the current fiber is running, for code deep inside a handler.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { JobHandler } from "@effect-faktory/core"
 *
 * const logJid = Effect.flatMap(JobHandler.CurrentJob, (job) => Effect.log(`running ${job.jid}`))
 * ```
 *
 * @since 0.1.0
 * @category tags
 */
export class CurrentJob extends Context.Tag("@effect-faktory/core/JobHandler/CurrentJob")<CurrentJob, JobContext>() {}

/**
 * The context of a fetched job.
 *
 * @example
 * ```ts
 * import { JobHandler } from "@effect-faktory/core"
 *
 * JobHandler.contextOf({ jid: "0123456789ab", jobtype: "Ping", args: [] }).queue // "default"
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const contextOf = (payload: JobPayload.Job): JobContext => ({
  jid: payload.jid,
  jobtype: payload.jobtype,
  queue: payload.queue ?? "default",
  custom: payload.custom ?? {},
  retryCount: payload.failure === undefined ? 0 : payload.failure.retry_count + 1,
  failure: Option.fromNullable(payload.failure),
  bid: bidAt(payload.custom, "bid"),
  callbackOf: bidAt(payload.custom, "_bid"),
  parentBid: bidAt(payload.custom, "_pbid"),
  payload
})

/**
 * A handler with its types: how its jobtype's arguments are decoded, the function the user
 * wrote, and the services it was registered with.
 *
 * @since 0.2.0
 * @category models
 */
export interface Typed<A, R> {
  /** Decodes without a fiber step; `Left` also when the Schema has asynchronous parts. */
  readonly decodeSync: (args: ReadonlyArray<unknown>) => Either.Either<A, ParseResult.ParseError>
  /** Decodes as the Schema says, asynchronous parts included. */
  readonly decode: (args: ReadonlyArray<unknown>) => Effect.Effect<A, ParseResult.ParseError>
  /** The user's function; untyped callers may make it return something other than an Effect. */
  readonly handler: (args: A, job: JobContext) => Effect.Effect<unknown, unknown, R>
  /** The services of the layer it was registered in (without `CurrentJob`, perhaps without `Client`). */
  readonly services: Context.Context<Exclude<R, CurrentJob | Client.Client>>
}

/**
 * How a job definition's contract (`Contract`) may differ from what the worker accepts.
 *
 * @since 0.2.0
 * @category models
 */
export interface ContractOptions {
  /**
   * Accepts, for this jobtype, the parts of its Schema that JSON Schema cannot say (a filter
   * with no JSON Schema counterpart, a declared type, a transformation whose decoding may
   * refuse a value): its contract is then weaker there, and says where and why, with this
   * reason. Without it, making the contract fails, naming each part.
   */
  readonly weaker?: string | undefined
}

/**
 * What a handler's job definition says about the jobs it takes: the source of its contract
 * (`Contract.make`). `Job.define(…).handle` registers it with the handler.
 *
 * @since 0.2.0
 * @category models
 */
export interface Definition {
  readonly jobtype: string
  /** The Schema of the arguments; its encoded side is what travels in `args`. */
  readonly args: Schema.Schema.AnyNoContext
  /** True when the Schema maps onto `args` itself, false when it travels as `args[0]`. */
  readonly positional: boolean
  /** The definition's defaults for every job it pushes. */
  readonly options: {
    readonly queue?: string | undefined
    readonly retry?: number | undefined
    readonly reserveFor?: number | undefined
    readonly backtrace?: number | undefined
    readonly custom?: Readonly<Record<string, unknown>> | undefined
    readonly contract?: ContractOptions | undefined
  }
}

const TypeId: unique symbol = Symbol.for("@effect-faktory/core/JobHandler")

/**
 * A registered handler, as the worker finds it in its context: the service a handler layer
 * provides.
 *
 * @since 0.1.0
 * @category models
 */
export interface JobHandler<Name extends string = string> {
  readonly [TypeId]: typeof TypeId
  readonly jobtype: Name
  /** Whether the worker interrupts it shortly before its reservation runs out. */
  readonly guardReservation: boolean
  /** Where it was registered (file:line:column), when the runtime gives stack traces. */
  readonly registeredAt: string | undefined
  /** Its job definition, when it was registered with one (`Job.define(…).handle` does). */
  readonly definition: Definition | undefined
  /** Hands the handler, with its types, to `f`: the runner's way in. */
  readonly use: <X>(f: <A, R>(typed: Typed<A, R>) => X) => X
}

/**
 * Whether a value is a registered handler. By brand, not `instanceof`: an application may load
 * two copies of this package.
 *
 * @example
 * ```ts
 * import { JobHandler } from "@effect-faktory/core"
 *
 * JobHandler.isJobHandler({ jobtype: "Ping" }) // false
 * ```
 *
 * @since 0.2.0
 * @category guards
 */
export const isJobHandler = (value: unknown): value is JobHandler =>
  typeof value === "object" && value !== null && TypeId in value

let registrations = 0

/**
 * The options of a registration.
 *
 * @since 0.2.0
 * @category models
 */
export interface Registration<Name extends string, A, E, R> {
  readonly jobtype: Name
  readonly decodeSync: Typed<A, R>["decodeSync"]
  readonly decode: Typed<A, R>["decode"]
  readonly handler: (args: A, job: JobContext) => Effect.Effect<unknown, E, R>
  readonly guardReservation: boolean
  readonly registeredAt?: string | undefined
  /** The job definition it serves, for its contract. */
  readonly definition?: Definition | undefined
}

/**
 * A layer that registers a handler. Each registration has its own key, so two handlers for
 * one jobtype both reach the worker, which refuses them. `Job.define(…).handle` is the usual
 * way to make one.
 *
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import { JobHandler } from "@effect-faktory/core"
 *
 * const decode = Schema.decodeUnknown(Schema.Tuple(Schema.String))
 * const Ping = JobHandler.layer({
 *   jobtype: "Ping",
 *   decodeSync: Schema.decodeUnknownEither(Schema.Tuple(Schema.String)),
 *   decode,
 *   handler: ([who]) => Effect.log(`pong ${who}`),
 *   guardReservation: true
 * })
 * ```
 *
 * @since 0.2.0
 * @category constructors
 */
export const layer = <Name extends string, A, E, R>(
  registration: Registration<Name, A, E, R>
): Layer.Layer<JobHandler<Name>, never, Exclude<R, CurrentJob | Client.Client>> =>
  Layer.effectContext(
    Effect.map(Effect.context<Exclude<R, CurrentJob | Client.Client>>(), (services) => {
      const typed: Typed<A, R> = {
        decodeSync: registration.decodeSync,
        decode: registration.decode,
        handler: registration.handler,
        services
      }
      const handler: JobHandler<Name> = {
        [TypeId]: TypeId,
        jobtype: registration.jobtype,
        guardReservation: registration.guardReservation,
        registeredAt: registration.registeredAt,
        definition: registration.definition,
        use: (f) => f(typed)
      }
      const tag = Context.GenericTag<JobHandler<Name>>(
        `@effect-faktory/core/JobHandler/${registration.jobtype}/${++registrations}`
      )
      return Context.make(tag, handler)
    })
  )

/**
 * Every handler in a context, in the order their layers were built, two for one jobtype
 * included.
 *
 * @example
 * ```ts
 * import { Context } from "effect"
 * import { JobHandler } from "@effect-faktory/core"
 *
 * JobHandler.all(Context.empty()) // []
 * ```
 *
 * @since 0.2.0
 * @category handlers
 */
export const all = (context: Context.Context<never>): ReadonlyArray<JobHandler> => {
  const found: Array<JobHandler> = []
  for (const value of context.unsafeMap.values()) {
    if (isJobHandler(value)) found.push(value)
  }
  return found
}

/**
 * The handlers in a context, by jobtype. Fails when a jobtype has two, naming where each was
 * registered.
 *
 * @example
 * ```ts
 * import { Context } from "effect"
 * import { JobHandler } from "@effect-faktory/core"
 *
 * JobHandler.collect(Context.empty()) // Effect: Map {}
 * ```
 *
 * @since 0.2.0
 * @category handlers
 */
export const collect = (
  context: Context.Context<never>
): Effect.Effect<ReadonlyMap<string, JobHandler>, JobValidationError> => {
  const found = new Map<string, JobHandler>()
  for (const value of all(context)) {
    const first = found.get(value.jobtype)
    if (first !== undefined) {
      const places = first.registeredAt !== undefined && value.registeredAt !== undefined
        ? ` (handle called at ${first.registeredAt} and at ${value.registeredAt})`
        : ""
      return Effect.fail(
        new JobValidationError({
          jobtype: value.jobtype,
          detail: `two handlers are registered for this jobtype${places}: provide one handler layer per jobtype`
        })
      )
    }
    found.set(value.jobtype, value)
  }
  return Effect.succeed(found)
}
