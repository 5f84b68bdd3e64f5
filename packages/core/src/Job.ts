/**
 * Typed job definitions: define a job once, with a Schema for its arguments, and use the same
 * definition to push it (typed, encoded, validated before sending) and to handle it (the
 * worker decodes the arguments before calling the handler).
 *
 * Arguments are positional on the wire, so jobs stay interoperable with workers and producers
 * in Ruby, Go or Python: a tuple (or array) Schema maps onto `args` itself; any other Schema
 * (a struct, say) travels as `args[0]`.
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import type * as Fiber from "effect/Fiber"
import type * as FiberId from "effect/FiberId"
import type * as FiberRefs from "effect/FiberRefs"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import type * as ParseResult from "effect/ParseResult"
import * as Runtime from "effect/Runtime"
import type * as RuntimeFlags from "effect/RuntimeFlags"
import * as Schema from "effect/Schema"
import * as SchemaAST from "effect/SchemaAST"
import * as Tracer from "effect/Tracer"
import type { PushBulkResult } from "./Client.js"
import * as DefaultClient from "./DefaultClient.js"
import { type CommandError, JobValidationError } from "./Errors.js"
import { describeThrown } from "./internal/describeThrown.js"
import * as DurationInput from "./internal/durationInput.js"
import * as JobPayload from "./JobPayload.js"

/**
 * What a job definition fixes for every job it pushes, and how the worker treats it.
 *
 * @since 0.1.0
 * @category models
 */
export interface JobOptions {
  readonly queue?: string | undefined
  /** Retries before the job is dead: 25 when unset, 0 to discard on failure, -1 straight to dead. */
  readonly retry?: number | undefined
  /** Seconds the server reserves a fetched job for (60 to 86400; 1800 when unset). */
  readonly reserveFor?: number | undefined
  /** Lines of backtrace to keep. */
  readonly backtrace?: number | undefined
  /** When to run: a time, or pushed now. */
  readonly at?: Date | string | undefined
  /** Extra data carried with the job; `.with` deep-merges it. */
  readonly custom?: Readonly<Record<string, unknown>> | undefined
  /**
   * Interrupt and FAIL (`ReservationExpired`) a handler still running shortly before its
   * reservation runs out, before the server hands the job to another worker. Default true.
   */
  readonly guardReservation?: boolean | undefined
}

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
  /** The job as the server returned it. */
  readonly payload: JobPayload.Job
}

/**
 * The job the current fiber is running, for code deep inside a handler.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Job } from "@effect-faktory/core"
 *
 * const logJid = Effect.flatMap(Job.CurrentJob, (job) => Effect.log(`running ${job.jid}`))
 * ```
 *
 * @since 0.1.0
 * @category tags
 */
export class CurrentJob extends Context.Tag("@effect-faktory/core/Job/CurrentJob")<CurrentJob, JobContext>() {}

/**
 * Builds the context of a fetched job.
 *
 * @example
 * ```ts
 * import { Job } from "@effect-faktory/core"
 *
 * Job.contextOf({ jid: "0123456789ab", jobtype: "Ping", args: [] }).queue // "default"
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
  payload
})

const HandlerEntryTypeId: unique symbol = Symbol.for("@effect-faktory/core/Job/HandlerEntry")

const isHandlerEntry = (value: unknown): value is HandlerEntry =>
  typeof value === "object" && value !== null && HandlerEntryTypeId in value

/**
 * What the worker gives a job's fiber: its own fiber refs and runtime flags (loggers, log
 * level, interruptibility), the job's log annotations, and the job's span as parent of the
 * handler's spans.
 *
 * @since 0.1.0
 * @category models
 */
export interface JobFiberOptions {
  readonly fiberRefs: FiberRefs.FiberRefs
  readonly runtimeFlags: RuntimeFlags.RuntimeFlags
  readonly updateRefs?: ((refs: FiberRefs.FiberRefs, fiberId: FiberId.Runtime) => FiberRefs.FiberRefs) | undefined
  readonly span?: Tracer.AnySpan | undefined
  /** Runs around the handler (the worker's middleware). */
  readonly around?: (<R>(job: JobContext, handler: Effect.Effect<unknown, unknown, R>) => Effect.Effect<unknown, unknown, R>) | undefined
}

/**
 * A registered handler, type-erased, as the worker finds it in its context.
 *
 * @since 0.1.0
 * @category models
 */
export class HandlerEntry {
  /** Found by brand, not `instanceof`: an application may load two copies of this package. */
  readonly [HandlerEntryTypeId] = HandlerEntryTypeId
  constructor(
    readonly jobtype: string,
    /**
     * Starts the job in a fiber of its own: decodes the arguments (failing with
     * `InvalidArgumentsError`) and runs the handler with its layer's services and
     * `CurrentJob`. A handler that never suspends has finished when this returns.
     */
    readonly start: (
      args: ReadonlyArray<unknown>,
      context: JobContext,
      options: JobFiberOptions
    ) => Fiber.RuntimeFiber<unknown, unknown>,
    readonly guardReservation: boolean,
    /**
     * Where `handle` or `handleWith` was called (file:line:column), when the runtime gives
     * stack traces: named when two handlers claim one jobtype.
     */
    readonly registeredAt?: string | undefined
  ) {}
}

/**
 * The call site of `fn`'s caller, from a stack trace taken without `fn`'s own frame (V8's
 * `Error.captureStackTrace`; elsewhere, or with stack traces off, none).
 */
const callerOf = (fn: (...args: never) => unknown): string | undefined => {
  if (typeof Error.captureStackTrace !== "function") return undefined
  const holder: { stack?: string } = {}
  Error.captureStackTrace(holder, fn)
  const frame = holder.stack?.split("\n")[1]?.trim()
  if (frame === undefined || !frame.startsWith("at ")) return undefined
  // "at name (file:line:column)" or, for a top-level call, "at file:line:column".
  const inParentheses = /\((.+)\)$/.exec(frame)
  return inParentheses === null ? frame.slice(3) : inParentheses[1]
}

/**
 * A fetched job's arguments do not match its definition's Schema; the handler was not called.
 * The worker FAILs the job with errtype `InvalidArguments`.
 *
 * @example
 * ```ts
 * import { Job } from "@effect-faktory/core"
 *
 * new Job.InvalidArgumentsError({ jobtype: "SendEmail", detail: "[0]: Expected string" }).errtype // "InvalidArguments"
 * ```
 *
 * @since 0.1.0
 * @category errors
 */
export class InvalidArgumentsError extends Schema.TaggedError<InvalidArgumentsError>()("InvalidArgumentsError", {
  jobtype: Schema.String,
  detail: Schema.String
}) {
  /** The errtype the worker reports. */
  readonly errtype = "InvalidArguments"
  override get message(): string {
    return `invalid arguments for ${this.jobtype}: ${this.detail}`
  }
}

/**
 * A handler returned something other than an Effect (a Promise from an `async` function, say).
 * The worker FAILs the job with errtype `HandlerReturnedNonEffect`.
 *
 * @example
 * ```ts
 * import { Job } from "@effect-faktory/core"
 *
 * new Job.NotAnEffectError({ jobtype: "SendEmail", returned: "a Promise" }).errtype // "HandlerReturnedNonEffect"
 * ```
 *
 * @since 0.2.0
 * @category errors
 */
export class NotAnEffectError extends Schema.TaggedError<NotAnEffectError>()("NotAnEffectError", {
  jobtype: Schema.String,
  returned: Schema.String,
  by: Schema.optional(Schema.String)
}) {
  /** The errtype the worker reports. */
  readonly errtype = "HandlerReturnedNonEffect"
  override get message(): string {
    return `${this.by ?? "the handler"} for ${this.jobtype} returned ${this.returned}, not an Effect` +
      (this.returned === "a Promise" ? " (wrap it: Effect.tryPromise(() => ...))" : "")
  }
}

/**
 * What a handler or middleware returned instead of an Effect, in words.
 *
 * @example
 * ```ts
 * import { Job } from "@effect-faktory/core"
 *
 * Job.describeReturned(Promise.resolve(1)) // "a Promise"
 * ```
 *
 * @since 0.2.0
 * @category errors
 */
export const describeReturned = (value: unknown): string =>
  value === null
    ? "null"
    : value === undefined
    ? "undefined"
    : typeof value === "object" && "then" in value && typeof value.then === "function"
    ? "a Promise"
    : `a value of type ${typeof value}`

/**
 * Calls a handler, checking what it returns: plain-JS callers (and unchecked casts) can hand back a
 * Promise, which would otherwise run unsupervised with its rejection unreported.
 */
const callHandler = <A, E, R>(
  handler: (args: A, context: JobContext) => Effect.Effect<unknown, E, R>,
  args: A,
  job: JobContext
): Effect.Effect<unknown, E | NotAnEffectError, R> => {
  const effect = handler(args, job)
  if (Effect.isEffect(effect)) return effect
  const returned: unknown = effect
  if (typeof returned === "object" && returned !== null && "catch" in returned && typeof returned.catch === "function") {
    // Observed, so that its rejection is not also an unhandled rejection of the process.
    Reflect.apply(returned.catch, returned, [() => undefined])
  }
  return Effect.fail(new NotAnEffectError({ jobtype: job.jobtype, returned: describeReturned(returned) }))
}

/**
 * The service a handler layer provides. Each registration has its own key, so two handlers
 * for one jobtype both reach the worker, which refuses them.
 *
 * @since 0.1.0
 * @category models
 */
export interface JobHandler<Name extends string> {
  readonly _JobHandler: Name
}

let registrations = 0

/**
 * The handlers in a context, by jobtype. Fails when a jobtype has two.
 *
 * @example
 * ```ts
 * import { Context } from "effect"
 * import { Job } from "@effect-faktory/core"
 *
 * Job.handlersIn(Context.empty()) // Either.right(Map {})
 * ```
 *
 * @since 0.1.0
 * @category handlers
 */
export const handlersIn = (
  context: Context.Context<never>
): Effect.Effect<ReadonlyMap<string, HandlerEntry>, JobValidationError> => {
  const found = new Map<string, HandlerEntry>()
  for (const value of context.unsafeMap.values()) {
    if (!isHandlerEntry(value)) continue
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

/**
 * A job type with typed arguments.
 *
 * @since 0.1.0
 * @category models
 */
export interface JobDefinition<Name extends string, A, I> {
  readonly jobtype: Name
  readonly args: Schema.Schema<A, I>
  /** True when the Schema maps onto `args` itself, false when it travels as `args[0]`. */
  readonly positional: boolean
  readonly options: JobOptions
  /** The same definition with other options; `custom` is deep-merged. */
  readonly with: (options: JobOptions) => JobDefinition<Name, A, I>
  /** The wire payload for these arguments, encoded and checked. */
  readonly payload: (args: A) => Effect.Effect<JobPayload.PushableJob, JobValidationError>
  /** Pushes a job with these arguments; returns its jid. */
  readonly push: (args: A) => Effect.Effect<string, PushError>
  /** Pushes a job to run at `at`. */
  readonly pushAt: (args: A, at: Date) => Effect.Effect<string, PushError>
  /** Pushes a job to run after `delay`. */
  readonly pushIn: (args: A, delay: Duration.DurationInput) => Effect.Effect<string, PushError>
  /** Pushes many jobs with PUSHB. */
  readonly pushBulk: (args: ReadonlyArray<A>) => Effect.Effect<PushBulkResult, PushError>
  /** Decodes the arguments of a fetched job. */
  readonly decodeArgs: (args: ReadonlyArray<unknown>) => Effect.Effect<A, ParseResult.ParseError>
  /** A layer that registers `handler` for this jobtype with the worker. */
  readonly handle: <E, R>(
    handler: (args: A, context: JobContext) => Effect.Effect<unknown, E, R>
  ) => Layer.Layer<JobHandler<Name>, never, Exclude<R, CurrentJob>>
  /**
   * `handle`, with the handler built by an Effect as the worker starts. The services taken
   * there must be present then: a missing one fails the start ("Service not found: app/Db"),
   * where a service first used inside a job fails each job. Prefer it in modules that
   * `faktory-worker` loads, which no compiler checks against the worker's layers.
   */
  readonly handleWith: <E, R, E2, R2>(
    build: Effect.Effect<(args: A, context: JobContext) => Effect.Effect<unknown, E, R>, E2, R2>
  ) => Layer.Layer<JobHandler<Name>, E2, R2 | Exclude<R, CurrentJob>>
}

/**
 * What pushing a typed job can fail with.
 *
 * @since 0.1.0
 * @category models
 */
export type PushError = JobValidationError | CommandError | DefaultClient.DefaultClientError

const isPositional = (schema: Schema.Schema.Any): boolean => SchemaAST.isTupleType(SchemaAST.encodedAST(schema.ast))

/**
 * Whether what `schema` encodes to may hold a value that is no JSON but that the push lets
 * through (a Date): only a declared type (`Schema.DateFromSelf`) does so and then expects it
 * back on the worker; `Schema.Unknown` takes the string JSON makes of it. Decided once per
 * definition, so that ordinary pushes walk their arguments no second time. A recursive Schema
 * (`Schema.suspend`) counts as one that may.
 */
const encodesDeclared = (ast: SchemaAST.AST): boolean => {
  switch (ast._tag) {
    case "Declaration":
    case "Suspend":
      return true
    case "TupleType":
      return ast.elements.some((element) => encodesDeclared(element.type)) || ast.rest.some((rest) => encodesDeclared(rest.type))
    case "TypeLiteral":
      return ast.propertySignatures.some((property) => encodesDeclared(property.type)) ||
        ast.indexSignatures.some((index) => encodesDeclared(index.type))
    case "Union":
      return ast.types.some(encodesDeclared)
    case "Refinement":
      return encodesDeclared(ast.from)
    case "Transformation":
      return encodesDeclared(ast.from)
    default:
      return false
  }
}

const mergeCustom = (
  base: Readonly<Record<string, unknown>> | undefined,
  extra: Readonly<Record<string, unknown>> | undefined
): Readonly<Record<string, unknown>> | undefined => {
  if (base === undefined) return extra
  if (extra === undefined) return base
  const merged: Record<string, unknown> = { ...base }
  for (const [key, value] of Object.entries(extra)) {
    const existing = merged[key]
    merged[key] = isPlainObject(existing) && isPlainObject(value) ? mergeCustom(existing, value) : value
  }
  return merged
}

const isPlainObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value) &&
  Object.getPrototypeOf(value) === Object.prototype

const mergeOptions = (base: JobOptions, extra: JobOptions): JobOptions => {
  const merged: Record<string, unknown> = { ...base }
  for (const [key, value] of Object.entries(extra)) {
    if (value !== undefined) merged[key] = value
  }
  const custom = mergeCustom(base.custom, extra.custom)
  return custom === undefined ? merged : { ...merged, custom }
}

/**
 * Defines a job type.
 *
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import { Job } from "@effect-faktory/core"
 *
 * const SendEmail = Job.define("SendEmail", {
 *   args: Schema.Tuple(Schema.String, Schema.Number),
 *   queue: "mail",
 *   retry: 5
 * })
 *
 * // producer
 * const enqueue = SendEmail.push(["a@example.com", 3])
 * // worker
 * const Handlers = SendEmail.handle(([to, attempt]) => Effect.log(`mail ${to} (${attempt})`))
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const define = <const Name extends string, A, I>(
  jobtype: Name,
  options: JobOptions & { readonly args: Schema.Schema<A, I> }
): JobDefinition<Name, A, I> => {
  const { args: schema, ...rest } = options
  return makeDefinition(jobtype, schema, rest)
}

/**
 * The path to the first Date in arguments already checked by `JobPayload.prepare` (no cycles,
 * bounded nesting), or `undefined`. Segments are built only for what is found.
 */
const dateIn = (value: unknown): Array<string> | undefined => {
  if (value instanceof Date) return []
  if (typeof value !== "object" || value === null) return undefined
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const found = dateIn(value[i])
      if (found !== undefined) {
        found.unshift(`[${i}]`)
        return found
      }
    }
    return undefined
  }
  for (const key in value) {
    if (!Object.hasOwn(value, key)) continue
    const found = dateIn(Reflect.get(value, key))
    if (found !== undefined) {
      found.unshift(`.${key}`)
      return found
    }
  }
  return undefined
}

const makeDefinition = <Name extends string, A, I>(
  jobtype: Name,
  schema: Schema.Schema<A, I>,
  options: JobOptions
): JobDefinition<Name, A, I> => {
  const positional = isPositional(schema)
  const mayEncodeDates = encodesDeclared(SchemaAST.encodedAST(schema.ast))
  const encode = Schema.encode(schema)
  // A non-positional Schema travels as the only element of `args`.
  const decodeArgs: (args: ReadonlyArray<unknown>) => Effect.Effect<A, ParseResult.ParseError> = positional
    ? Schema.decodeUnknown(schema)
    : Effect.fnUntraced(function*(args: ReadonlyArray<unknown>) {
      const [only] = yield* Schema.decodeUnknown(Schema.Tuple(schema))(args)
      return only
    })
  const decodeArgsSync: (args: ReadonlyArray<unknown>) => Either.Either<A, ParseResult.ParseError> = positional
    ? Schema.decodeUnknownEither(schema)
    : (args) => Either.map(Schema.decodeUnknownEither(Schema.Tuple(schema))(args), ([only]) => only)

  const payload = (args: A, extra: JobOptions = {}): Effect.Effect<JobPayload.PushableJob, JobValidationError> =>
    Effect.gen(function*() {
      const encoded = yield* Effect.suspend(() => encode(args)).pipe(
        Effect.mapError((error) =>
          new JobValidationError({ jobtype, detail: `args: ${JobPayload.formatIssues(error)}` })
        ),
        // Encoding reads the arguments, and reading may throw (a getter, a proxy, a transform):
        // the push is refused like any other bad argument, not turned into a defect.
        Effect.catchAllDefect((defect) =>
          Effect.fail(new JobValidationError({ jobtype, detail: `args: encoding them threw ${describeThrown(defect)}` }))
        )
      )
      const merged = mergeOptions(options, extra)
      const wireArgs: ReadonlyArray<unknown> = positional ? encoded as ReadonlyArray<unknown> : [encoded]
      const prepared = yield* JobPayload.prepare({
        jobtype,
        args: wireArgs,
        queue: merged.queue,
        retry: merged.retry,
        reserve_for: merged.reserveFor,
        backtrace: merged.backtrace,
        at: merged.at,
        custom: merged.custom
      })
      const date = mayEncodeDates ? dateIn(prepared.args) : undefined
      if (date !== undefined) {
        // A raw push may carry a Date (its JSON is an ISO string); here the worker's own
        // decoding would expect a Date again and refuse every such job (InvalidArguments).
        return yield* new JobValidationError({
          jobtype,
          detail: `args${date.join("")} is a Date once encoded: JSON carries it as a string, which this Schema ` +
            "(Schema.DateFromSelf) will not decode on the worker; use Schema.Date, an ISO string on the wire"
        })
      }
      return prepared
    })

  const pushPayload = (job: JobPayload.PushableJob) => DefaultClient.withClient((client) => client.push(job))

  const handleAt = <E, R>(
    handler: (args: A, context: JobContext) => Effect.Effect<unknown, E, R>,
    registeredAt: string | undefined
  ): Layer.Layer<JobHandler<Name>, never, Exclude<R, CurrentJob>> =>
    Layer.effectContext(
      Effect.map(Effect.context<Exclude<R, CurrentJob>>(), (services) => {
        const run = (rawArgs: ReadonlyArray<unknown>, job: JobContext): Effect.Effect<unknown, unknown, R> => {
          // Synchronous decoding first: it is cheaper. When it fails, the effectful decoding
          // decides, as a Schema with asynchronous parts cannot decode synchronously.
          const quick = decodeArgsSync(rawArgs)
          if (Either.isRight(quick)) return callHandler(handler, quick.right, job)
          return decodeArgs(rawArgs).pipe(
            Effect.mapError((error) => new InvalidArgumentsError({ jobtype, detail: JobPayload.formatIssues(error) })),
            Effect.flatMap((args) => callHandler(handler, args, job))
          )
        }
        const entry = new HandlerEntry(
          jobtype,
          (rawArgs, job, options) => {
            // One runtime per job, built rather than provided: the fiber starts with its
            // services in place (providing them costs more than the rest of a small job).
            // R is always within Exclude<R, CurrentJob> | CurrentJob; TypeScript cannot show
            // it for a generic R, hence the one assertion.
            const withJob = Context.add(services, CurrentJob, job) as Context.Context<R>
            const context = options.span === undefined ? withJob : Context.add(withJob, Tracer.ParentSpan, options.span)
            const runtime = Runtime.make({ context, fiberRefs: options.fiberRefs, runtimeFlags: options.runtimeFlags })
            // Everything the user wrote runs inside the fiber: a handler or middleware that
            // throws instead of returning an Effect is a defect of this job, reported like any
            // other, never an exception in the worker's own code.
            const handled = Effect.suspend(() => run(rawArgs, job))
            return Runtime.runFork(runtime, options.around === undefined ? handled : options.around(job, handled), {
              updateRefs: options.updateRefs
            })
          },
          options.guardReservation ?? true,
          registeredAt
        )
        const tag = Context.GenericTag<JobHandler<Name>, HandlerEntry>(
          `@effect-faktory/core/JobHandler/${jobtype}/${++registrations}`
        )
        return Context.make(tag, entry)
      })
    )

  const handle = <E, R>(
    handler: (args: A, context: JobContext) => Effect.Effect<unknown, E, R>
  ): Layer.Layer<JobHandler<Name>, never, Exclude<R, CurrentJob>> => handleAt(handler, callerOf(handle))
  const handleWith: JobDefinition<Name, A, I>["handleWith"] = (build) => {
    const registeredAt = callerOf(handleWith)
    return Layer.unwrapEffect(Effect.map(build, (handler) => handleAt(handler, registeredAt)))
  }

  return {
    jobtype,
    args: schema,
    positional,
    options,
    with: (extra) => makeDefinition(jobtype, schema, mergeOptions(options, extra)),
    payload: (args) => payload(args),
    // The client's producer span (`send <queue>`) names the jobtype; no span of its own here.
    push: (args) => Effect.flatMap(payload(args), pushPayload),
    pushAt: (args, at) => Effect.flatMap(payload(args, { at }), pushPayload),
    pushIn: (args, delay) =>
      Effect.suspend(() => {
        // Unreadable text was a defect thrown by Duration.decode, and NaN ran the job at once.
        const millis = Option.map(DurationInput.decode(delay), Duration.toMillis)
        if (Option.isNone(millis) || !Number.isFinite(millis.value)) {
          return Effect.fail(
            new JobValidationError({
              jobtype,
              detail: `pushIn's delay ${DurationInput.describe(delay)} is not a finite duration (${DurationInput.howToWrite})`
            })
          )
        }
        return Effect.flatMap(payload(args, { at: new Date(Date.now() + millis.value) }), pushPayload)
      }),
    pushBulk: (many) =>
      Array.isArray(many)
        ? Effect.flatMap(
          Effect.forEach(many, (args) => payload(args)),
          (jobs) => DefaultClient.withClient((client) => client.pushBulk(jobs))
        )
        : Effect.fail(new JobValidationError({ jobtype, detail: "pushBulk takes an array of arguments" })),
    decodeArgs: (args) => decodeArgs(args),
    handle,
    handleWith
  }
}
