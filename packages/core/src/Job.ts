/**
 * Typed job definitions: define a job once, with a Schema for its arguments, and use the same
 * definition to push it (typed, encoded, validated before sending) and to register its
 * handler (a `JobHandler` layer; the worker decodes the arguments before calling it).
 *
 * Arguments are positional on the wire, so jobs stay interoperable with workers and producers
 * in Ruby, Go or Python: a tuple (or array) Schema maps onto `args` itself; any other Schema
 * (a struct, say) travels as `args[0]`.
 *
 * Faktory Enterprise's job options are options like the others, on the definition or per push
 * with `.with`: `unique` (unique jobs: a twin pushed while one holds the lock fails with
 * `NotUniqueError`), `expiresAt`/`expiresIn` (expiring jobs, dropped at fetch once expired),
 * `track` (job tracking, read with `Tracking.status`). They travel in `custom` as the server
 * reads them (`unique_for` in seconds, `unique_until`, `expires_at` as an RFC 3339 time,
 * `track: 1`). **Open-source Faktory ignores them silently**: a unique job is enqueued twice,
 * an expired one runs, a tracked one reads as `unknown` (its `TRACK GET` is refused anyway).
 * No warning is logged for them: telling would cost every producer an INFO round trip, and the
 * same program may push to several servers; a program that relies on them checks once, at
 * start, with `client.isEnterprise`.
 *
 * @since 0.1.0
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Function from "effect/Function"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import * as SchemaAST from "effect/SchemaAST"
import { Client, type PushBulkResult, type PushError as ClientPushError } from "./Client.js"
import { JobValidationError } from "./Errors.js"
import { callerOf } from "./internal/shared/callerOf.js"
import { describeThrown } from "./internal/shared/describeThrown.js"
import * as DurationInput from "./internal/shared/durationInput.js"
import * as JobHandler from "./JobHandler.js"
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
   * A handler that extends its reservation (`Tracking.extendReservation`) moves the guard.
   */
  readonly guardReservation?: boolean | undefined
  /**
   * How this jobtype's contract (`Contract.make`, `faktory-worker contracts`) may differ from
   * what the worker accepts: `{ weaker: "why" }` accepts the parts of the Schema that JSON
   * Schema cannot say, which the contract then lists with this reason.
   */
  readonly contract?: JobHandler.ContractOptions | undefined
  /**
   * Faktory Enterprise: the job is unique by jobtype, arguments and queue for a while; a twin
   * pushed meanwhile fails with `NotUniqueError` (in `pushBulk`, is listed in `notUnique`).
   * `false` turns a definition's uniqueness off for a push (`.with({ unique: false })`).
   * Open-source Faktory ignores it.
   */
  readonly unique?: UniqueOptions | false | undefined
  /**
   * Faktory Enterprise: the job is dropped, unrun, if a worker fetches it after this time
   * (written as `custom.expires_at`). Replaces an `expiresIn` given earlier. Open-source
   * Faktory ignores it.
   */
  readonly expiresAt?: Date | undefined
  /**
   * Faktory Enterprise: `expiresAt`, counted from the push (`"1 hour"`). Replaces an
   * `expiresAt` given earlier. Open-source Faktory ignores it.
   */
  readonly expiresIn?: Duration.DurationInput | undefined
  /**
   * Faktory Enterprise: track the job (`custom.track: 1`), so that `Tracking.status` reads its
   * state and the progress its handler reports. `false` turns a definition's tracking off for
   * a push. Open-source Faktory refuses `TRACK GET`, and ignores this option.
   */
  readonly track?: boolean | undefined
}

/**
 * How a unique job is unique (Faktory Enterprise).
 *
 * @since 0.2.0
 * @category models
 */
export interface UniqueOptions {
  /**
   * How long the lock may hold at most: at least a second (`"10 minutes"`), written as
   * `custom.unique_for` in whole seconds (a fraction rounds up). For a scheduled job it counts
   * from when the job is due.
   */
  readonly for: Duration.DurationInput
  /**
   * When the lock is released before `for` runs out: `"success"` once the job has succeeded
   * (the server's default, used when this is unset; a job waiting for a retry keeps the lock),
   * or `"start"` as soon as a worker fetches it.
   */
  readonly until?: "success" | "start" | undefined
}

/**
 * A job type with typed arguments.
 *
 * @since 0.1.0
 * @category models
 */
export interface JobDefinition<Name extends string, A, I> {
  readonly [DefinitionTypeId]: typeof DefinitionTypeId
  readonly jobtype: Name
  readonly args: Schema.Schema<A, I>
  /** True when the Schema maps onto `args` itself, false when it travels as `args[0]`. */
  readonly positional: boolean
  readonly options: JobOptions
  /** The same definition with other options; `custom` is deep-merged. */
  readonly with: (options: JobOptions) => JobDefinition<Name, A, I>
  /** The wire payload for these arguments, encoded and checked. */
  readonly payload: (args: A) => Effect.Effect<JobPayload.PushableJob, JobValidationError>
  /** Pushes a job with these arguments through the `Client` in context; returns its jid. */
  readonly push: (args: A) => Effect.Effect<string, PushError, Client>
  /** Pushes a job to run at `at`. */
  readonly pushAt: (args: A, at: Date) => Effect.Effect<string, PushError, Client>
  /** Pushes a job to run after `delay`. */
  readonly pushIn: (args: A, delay: Duration.DurationInput) => Effect.Effect<string, PushError, Client>
  /** Pushes many jobs with PUSHB. */
  readonly pushBulk: (args: ReadonlyArray<A>) => Effect.Effect<PushBulkResult, PushError, Client>
  /** Decodes the arguments of a fetched job. */
  readonly decodeArgs: (args: ReadonlyArray<unknown>) => Effect.Effect<A, ParseResult.ParseError>
  /**
   * A layer that registers `handler` for this jobtype with the worker. The handler runs with
   * `JobHandler.CurrentJob` and a `Client` (the worker's own, unless the layer is given one).
   */
  readonly handle: <E = never, R = never>(
    handler: (args: A, context: JobHandler.JobContext) => Effect.Effect<unknown, E, R>
  ) => Layer.Layer<JobHandler.JobHandler<Name>, never, Exclude<R, JobHandler.CurrentJob | Client>>
  /**
   * `handle`, with the handler built by an Effect as the worker starts. The services taken
   * there must be present then: a missing one fails the start ("Service not found: app/Db"),
   * where a service first used inside a job fails each job. Prefer it in modules that
   * `faktory-worker` loads, which no compiler checks against the worker's layers.
   */
  readonly handleWith: <E = never, R = never, E2 = never, R2 = never>(
    build: Effect.Effect<(args: A, context: JobHandler.JobContext) => Effect.Effect<unknown, E, R>, E2, R2>
  ) => Layer.Layer<JobHandler.JobHandler<Name>, E2, R2 | Exclude<R, JobHandler.CurrentJob | Client>>
}

/**
 * What pushing a typed job can fail with: its arguments or options refused before anything is
 * sent, a unique job whose twin holds the lock (Enterprise), or the command's failure.
 *
 * @since 0.1.0
 * @category models
 */
export type PushError = ClientPushError

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
  // An expiry given later replaces the one given before, in either form.
  if (extra.expiresAt !== undefined) delete merged.expiresIn
  if (extra.expiresIn !== undefined) delete merged.expiresAt
  for (const [key, value] of Object.entries(extra)) {
    if (value !== undefined) merged[key] = value
  }
  const custom = mergeCustom(base.custom, extra.custom)
  return custom === undefined ? merged : { ...merged, custom }
}

/**
 * The brand of a job definition. A global symbol: an application may load another copy of
 * this library than the one a module of its jobs imported.
 *
 * @since 0.2.0
 * @category symbols
 */
export const DefinitionTypeId: unique symbol = Symbol.for("@effect-faktory/core/Job/Definition")

/**
 * Whether a value is a job definition (`Job.define(…)`, or one made from it with `.with`):
 * by brand, not `instanceof`, so that a definition made by another copy of this library counts.
 * `faktory-worker contracts --definitions` finds a module's jobs with it, without building
 * any layer.
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { Job } from "@effect-faktory/core"
 *
 * const Ping = Job.define("Ping", { args: Schema.Tuple(Schema.String) })
 * Job.isDefinition(Ping) // true
 * Job.isDefinition({ jobtype: "Ping" }) // false
 * ```
 *
 * @since 0.2.0
 * @category guards
 */
export const isDefinition = (value: unknown): value is JobDefinition<string, unknown, unknown> =>
  typeof value === "object" && value !== null && Reflect.get(value, DefinitionTypeId) === DefinitionTypeId &&
  typeof Reflect.get(value, "jobtype") === "string" && Schema.isSchema(Reflect.get(value, "args")) &&
  typeof Reflect.get(value, "positional") === "boolean" && typeof Reflect.get(value, "options") === "object"

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

/**
 * `custom` with the Enterprise options written in (`faktory-protocol.md` §7.2, §7.3): the
 * fields the server reads, or what is wrong with an option. `custom` as it was when no such
 * option is set (the common push allocates nothing here).
 */
const withEnterpriseOptions = (
  options: JobOptions,
  now: number
): Either.Either<Readonly<Record<string, unknown>> | undefined, string> => {
  const { expiresAt, expiresIn, track, unique } = options
  if (unique === undefined && expiresAt === undefined && expiresIn === undefined && track === undefined) {
    return Either.right(options.custom)
  }
  const custom: Record<string, unknown> = { ...options.custom }
  if (unique === false) {
    delete custom.unique_for
    delete custom.unique_until
  } else if (unique !== undefined) {
    // One message for every refusal: a unique job needs a time limit of at least a second,
    // since the server counts the lock in whole seconds and takes less than one as none.
    const seconds = positiveSeconds(unique.for)
    if (seconds === undefined || seconds < 1) {
      return Either.left(
        `unique.for ${DurationInput.describe(unique.for)} is not a duration of at least 1 second ` +
          `(${DurationInput.howToWrite}; a number is milliseconds): a unique job needs a time limit, which the server counts in whole seconds`
      )
    }
    // Whole seconds, as the Go and Ruby clients send them; a fraction rounds up, never shortening the lock.
    custom.unique_for = Math.ceil(seconds)
    if (unique.until !== undefined) {
      if (unique.until !== "success" && unique.until !== "start") {
        return Either.left(`unique.until must be "success" or "start", not ${JSON.stringify(unique.until)}`)
      }
      custom.unique_until = unique.until
    } else {
      delete custom.unique_until
    }
  }
  if (expiresAt !== undefined || expiresIn !== undefined) {
    let expiry: number
    if (expiresAt !== undefined) {
      expiry = expiresAt instanceof Date ? expiresAt.getTime() : Number.NaN
      if (Number.isNaN(expiry)) return Either.left("expiresAt must be a valid Date")
      if (expiry <= now) {
        return Either.left(`expiresAt ${expiresAt.toISOString()} has passed: the server would drop the job unrun`)
      }
    } else {
      const seconds = positiveSeconds(expiresIn)
      if (seconds === undefined) {
        return Either.left(`expiresIn ${DurationInput.describe(expiresIn)} is not a duration above 0 (${DurationInput.howToWrite})`)
      }
      expiry = now + seconds * 1000
    }
    const at = options.at === undefined ? undefined : options.at instanceof Date ? options.at.getTime() : Date.parse(options.at)
    if (at !== undefined && at >= expiry) {
      return Either.left(
        `it expires at ${new Date(expiry).toISOString()}, before it is due at ${new Date(at).toISOString()}: ` +
          "the server would drop it unrun"
      )
    }
    custom.expires_at = new Date(expiry).toISOString()
  }
  if (track === true) custom.track = 1
  else if (track === false) delete custom.track
  return Either.right(options.custom === undefined && Object.keys(custom).length === 0 ? undefined : custom)
}

/** A duration given as an option, in seconds, when it is finite and above 0. */
const positiveSeconds = (input: Duration.DurationInput | undefined): number | undefined => {
  if (input === undefined) return undefined
  const millis = Option.map(DurationInput.decode(input), Duration.toMillis)
  return Option.isSome(millis) && Number.isFinite(millis.value) && millis.value > 0 ? millis.value / 1000 : undefined
}

/**
 * A Schema's decoding of a job's arguments, with what its parser throws read as a parse issue.
 * Effect's parser can throw on what a hostile producer sends: its union lookup turns a
 * discriminant into a string, and `{ "type": { "toString": 1 } }` cannot be one. Such
 * arguments are as invalid as any others, and their job's FAIL says so.
 */
const guardedDecoding = <T, I>(
  schema: Schema.Schema<T, I>,
  decode: (args: unknown) => Effect.Effect<T, ParseResult.ParseError>,
  decodeSync: (args: unknown) => Either.Either<T, ParseResult.ParseError>
) => {
  const thrownIssue = (args: unknown, thrown: unknown) =>
    new ParseResult.ParseError({
      issue: new ParseResult.Type(schema.ast, args, `Effect's Schema parser threw on these arguments (${describeThrown(thrown)}): a value it reads as text or a number, such as a union's tag, is an object that cannot be one`)
    })
  return {
    decode: (args: ReadonlyArray<unknown>): Effect.Effect<T, ParseResult.ParseError> =>
      Effect.suspend(() => decode(args)).pipe(Effect.catchAllDefect((thrown) => Effect.fail(thrownIssue(args, thrown)))),
    decodeSync: (args: ReadonlyArray<unknown>): Either.Either<T, ParseResult.ParseError> => {
      try {
        return decodeSync(args)
      } catch (thrown) {
        return Either.left(thrownIssue(args, thrown))
      }
    }
  }
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
  // The effectful decoding runs when the synchronous one failed (or cannot decide): every issue
  // is said, not only the first, since its message is what the job's FAIL tells.
  const all = { errors: "all" } as const
  const decoding = positional
    ? guardedDecoding(schema, Schema.decodeUnknown(schema, all), Schema.decodeUnknownEither(schema))
    : Function.pipe(
      Schema.Tuple(schema),
      (tuple) => guardedDecoding(tuple, Schema.decodeUnknown(tuple, all), Schema.decodeUnknownEither(tuple)),
      ({ decode, decodeSync }) => ({
        decode: (args: ReadonlyArray<unknown>) => Effect.map(decode(args), ([only]) => only),
        decodeSync: (args: ReadonlyArray<unknown>) => Either.map(decodeSync(args), ([only]) => only)
      })
    )
  const decodeArgs: (args: ReadonlyArray<unknown>) => Effect.Effect<A, ParseResult.ParseError> = decoding.decode
  const decodeArgsSync: (args: ReadonlyArray<unknown>) => Either.Either<A, ParseResult.ParseError> = decoding.decodeSync

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
      const custom = withEnterpriseOptions(merged, Date.now())
      if (Either.isLeft(custom)) return yield* new JobValidationError({ jobtype, detail: custom.left })
      const wireArgs: ReadonlyArray<unknown> = positional ? encoded as ReadonlyArray<unknown> : [encoded]
      const prepared = yield* JobPayload.prepare({
        jobtype,
        args: wireArgs,
        queue: merged.queue,
        retry: merged.retry,
        reserve_for: merged.reserveFor,
        backtrace: merged.backtrace,
        at: merged.at,
        custom: custom.right
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

  const pushPayload = (job: JobPayload.PushableJob) => Effect.flatMap(Client, (client) => client.push(job))

  const handleAt = <E, R>(
    handler: (args: A, context: JobHandler.JobContext) => Effect.Effect<unknown, E, R>,
    registeredAt: string | undefined
  ) =>
    JobHandler.layer({
      jobtype,
      decodeSync: decodeArgsSync,
      decode: decodeArgs,
      handler,
      guardReservation: options.guardReservation ?? true,
      registeredAt,
      definition: { jobtype, args: schema, positional, options }
    })

  const handle: JobDefinition<Name, A, I>["handle"] = (handler) => handleAt(handler, callerOf(handle))
  const handleWith: JobDefinition<Name, A, I>["handleWith"] = (build) => {
    const registeredAt = callerOf(handleWith)
    return Layer.unwrapEffect(Effect.map(build, (handler) => handleAt(handler, registeredAt)))
  }

  return {
    [DefinitionTypeId]: DefinitionTypeId,
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
        // Duration.decode throws on unreadable text, and a NaN delay would run the job at once.
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
          (jobs) => Effect.flatMap(Client, (client) => client.pushBulk(jobs))
        )
        : Effect.fail(new JobValidationError({ jobtype, detail: "pushBulk takes an array of arguments" })),
    decodeArgs: (args) => decodeArgs(args),
    handle,
    handleWith
  }
}
