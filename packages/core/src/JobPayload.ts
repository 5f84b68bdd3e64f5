/**
 * The Faktory work unit: the JSON a producer PUSHes and a worker FETCHes. `Job` decodes what
 * the server returns (jobs pushed by any client, in any language); `prepare` checks and
 * completes what this client is about to push, so the server never sees a job it would
 * reject or silently alter.
 *
 * @since 0.1.0
 */
import * as Arr from "effect/Array"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import * as SchemaAST from "effect/SchemaAST"
import type * as Enterprise from "./Enterprise.js"
import { isBid } from "./Enterprise.js"
import { JobValidationError, ProtocolError } from "./Errors.js"
import { brief, MAX_WHOLE } from "./internal/shared/brief.js"
import { describeThrown } from "./internal/shared/describeThrown.js"

const utf8 = new TextEncoder()

const queueName = /^[a-zA-Z0-9._-]+$/

/**
 * The queue-name rule the server applies when it creates a queue.
 *
 * @since 0.1.0
 * @category schemas
 */
export const QueueName = Schema.String.pipe(
  Schema.pattern(queueName, {
    message: (issue) => `queue name ${JSON.stringify(issue.actual)} must match ^[a-zA-Z0-9._-]+$`
  })
)

/**
 * What the server records about a job's failures so far.
 *
 * @since 0.1.0
 * @category schemas
 */
export const JobFailure = Schema.Struct({
  retry_count: Schema.Number,
  remaining: Schema.optional(Schema.Number),
  failed_at: Schema.optional(Schema.String),
  next_at: Schema.optional(Schema.String),
  message: Schema.optional(Schema.String),
  errtype: Schema.optional(Schema.String),
  backtrace: Schema.optional(Schema.Array(Schema.String))
})

/**
 * @since 0.1.0
 * @category models
 */
export type JobFailure = typeof JobFailure.Type

/**
 * A job as the server stores and returns it. Lenient where the server is: values the server
 * accepts from other clients (a short `reserve_for`, a `null` retry) decode.
 *
 * @since 0.1.0
 * @category schemas
 */
export const Job = Schema.Struct({
  jid: Schema.String,
  jobtype: Schema.String,
  args: Schema.Array(Schema.Unknown),
  queue: Schema.optional(Schema.String),
  at: Schema.optional(Schema.String),
  retry: Schema.optional(Schema.NullOr(Schema.Number)),
  reserve_for: Schema.optional(Schema.Number),
  backtrace: Schema.optional(Schema.Number),
  created_at: Schema.optional(Schema.String),
  enqueued_at: Schema.optional(Schema.String),
  failure: Schema.optional(JobFailure),
  custom: Schema.optional(Schema.Record({ key: Schema.String, value: Schema.Unknown }))
})

/**
 * @since 0.1.0
 * @category models
 */
export type Job = typeof Job.Type

const decodeJobJson = Schema.decodeUnknownEither(Schema.parseJson(Job))

/**
 * Decodes a job from the JSON text FETCH returns.
 *
 * @example
 * ```ts
 * import { JobPayload } from "@effect-faktory/core"
 *
 * JobPayload.decode('{"jid":"0123456789ab","jobtype":"Ping","args":[]}') // Either.right(job)
 * ```
 *
 * @since 0.1.0
 * @category decoding
 */
export const decode = (json: string): Either.Either<Job, ProtocolError> => {
  const parsed = parseJson(json)
  if (isPlainJob(parsed)) return Either.right(parsed)
  return Either.mapLeft(decodeJobJson(json), (error) =>
    new ProtocolError({
      reason: "MalformedPayload",
      detail: `the server returned a malformed job: ${ParseResult.TreeFormatter.formatErrorSync(error)}`
    }))
}

const parseJson = (json: string): unknown => {
  try {
    return JSON.parse(json)
  } catch {
    return undefined
  }
}

const isOptional = <A>(value: unknown, is: (value: unknown) => value is A) => value === undefined || is(value)
const isString = (value: unknown): value is string => typeof value === "string"
const isNumber = (value: unknown): value is number => typeof value === "number"
const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value)

/**
 * A fetched job checked by hand: the same rules as the `Job` Schema, for jobs without a
 * failure record (first runs, nearly every fetch). `true` only when the Schema would accept
 * it; retries and anything unusual go to the Schema. Measured: the Schema's walk was the
 * largest part of a no-op job's own CPU time in the worker. The two agree by property test.
 */
const isPlainJob = (value: unknown): value is Job => {
  if (!isRecord(value)) return false
  const { args, at, backtrace, created_at, custom, enqueued_at, failure, jid, jobtype, queue, reserve_for, retry } = value
  return isString(jid) && isString(jobtype) && Array.isArray(args) && failure === undefined &&
    isOptional(queue, isString) && isOptional(at, isString) && isOptional(created_at, isString) &&
    isOptional(enqueued_at, isString) && (retry === null || isOptional(retry, isNumber)) &&
    isOptional(reserve_for, isNumber) && isOptional(backtrace, isNumber) &&
    (custom === undefined || (isRecord(custom) && !Object.hasOwn(custom, "__proto__")))
}

/** Where a value JSON cannot carry sits (path segments, outermost first) and what it is. */
interface NonJson {
  readonly path: Array<string>
  readonly problem: string
}

/**
 * The deepest nesting of arrays and objects accepted in `args` and `custom`. `JSON.stringify`
 * overflows the stack at about 4,000 levels when called with little on the stack, fewer from
 * deep inside a program, and the walk below recurses too; the server's decoder stops at
 * 10,000. Real arguments are a few levels deep.
 *
 * @since 0.1.0
 * @category constants
 */
export const MAX_NESTING = 1000

/**
 * Finds the first value JSON cannot carry as is: `undefined` (but for an object's field, left
 * out as JSON does), functions, symbols, bigints,
 * non-finite numbers, class instances, cycles, or nesting deeper than `MAX_NESTING`.
 * `ancestors` holds the objects above `value`. Paths are built only for what is found, as
 * the walk runs on every push.
 */
const findNonJsonIn = (value: unknown, ancestors: Array<object>): NonJson | undefined => {
  switch (typeof value) {
    case "string":
    case "boolean":
      return undefined
    case "number":
      return Number.isFinite(value) ? undefined : { path: [], problem: `is ${value}, which JSON cannot carry` }
    case "object": {
      if (value === null) return undefined
      if (ancestors.length >= MAX_NESTING) return { path: [], problem: `is nested deeper than ${MAX_NESTING} levels` }
      if (ancestors.includes(value)) return { path: [], problem: "refers back to itself" }
      if (value instanceof Date) {
        return Number.isNaN(value.getTime()) ? { path: [], problem: "is an invalid Date" } : undefined
      }
      if (Array.isArray(value)) {
        ancestors.push(value)
        for (let i = 0; i < value.length; i++) {
          const found = findNonJsonIn(value[i], ancestors)
          if (found !== undefined) {
            found.path.unshift(`[${i}]`)
            return found
          }
        }
        ancestors.pop()
        return undefined
      }
      const proto: unknown = Object.getPrototypeOf(value)
      if (proto !== Object.prototype && proto !== null) {
        return { path: [], problem: `is a ${value.constructor?.name ?? "class instance"}, not a plain object` }
      }
      ancestors.push(value)
      for (const key in value) {
        if (!Object.hasOwn(value, key)) continue
        const field: unknown = Reflect.get(value, key)
        // A field set to undefined is left out, as JSON does: to the receiver it is absent,
        // which is what an optional field (Schema.optional) means. In an array, undefined
        // would become null instead, and is refused above.
        if (field === undefined) continue
        const found = findNonJsonIn(field, ancestors)
        if (found !== undefined) {
          found.path.unshift(`.${key}`)
          return found
        }
      }
      ancestors.pop()
      return undefined
    }
    default:
      return {
        path: [],
        problem: `is ${typeof value === "undefined" ? "undefined" : `a ${typeof value}`}, which JSON cannot carry`
      }
  }
}

/** Describes the first value under `root` that JSON cannot carry, or `undefined` if none. */
const findNonJson = (value: unknown, root: string): string | undefined => {
  const found = findNonJsonIn(value, [])
  if (found === undefined) return undefined
  // A path down a deep structure is shortened: its ends say where it is.
  const path = found.path.length <= 8 ? found.path : [...found.path.slice(0, 4), "…", ...found.path.slice(-3)]
  return `${root}${path.join("")} ${found.problem}`
}

/** Why `value` is not a plain object (`{…}` or `Object.create(null)`), or `undefined` when it is one. */
const notPlainObject = (value: unknown): string | undefined => {
  if (typeof value !== "object") return `is ${typeof value === "undefined" ? "undefined" : `a ${typeof value}`}, not an object`
  if (value === null) return "is null, not an object"
  if (Array.isArray(value)) return "is an array, not a plain object"
  const proto: unknown = Object.getPrototypeOf(value)
  if (proto === Object.prototype || proto === null) return undefined
  return `is a ${value.constructor?.name ?? "class instance"}, not a plain object`
}

const JsonArgs = Schema.Array(Schema.Unknown).pipe(
  Schema.filter((args) => findNonJson(args, "args") ?? true)
)

/**
 * `custom`: a plain object, taken as it is. A Record Schema would accept any object and copy
 * its own enumerable fields, so a Map or a Date became `{}` and their content was lost.
 */
const JsonObject = Schema.declare(
  (value: unknown): value is { readonly [key: string]: unknown } => notPlainObject(value) === undefined,
  { identifier: "JsonObject", message: (issue) => `custom ${notPlainObject(issue.actual) ?? "is not a plain object"}` }
).pipe(
  Schema.filter((custom) => findNonJson(custom, "custom") ?? true)
)

const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.\d{1,9})?(?:Z|[+-](\d{2}):(\d{2}))$/

/**
 * An RFC 3339 time the server's parser (Go's `time.RFC3339Nano`) accepts: a real calendar
 * day and in-range fields. `Date.parse` alone is laxer: it rolls 30 February over to March
 * and reads hour 24 as the next day, which the server refuses.
 */
const isRfc3339 = (value: string): boolean => {
  const parts = RFC3339.exec(value)
  if (parts === null) return false
  const field = (index: number) => Number(parts[index] ?? 0)
  const year = field(1)
  const month = field(2)
  const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0)
  const daysInMonth = month === 2 ? (leap ? 29 : 28) : [4, 6, 9, 11].includes(month) ? 30 : 31
  return month >= 1 && month <= 12 && field(3) >= 1 && field(3) <= daysInMonth && field(4) <= 23 &&
    field(5) <= 59 && field(6) <= 59 && field(7) <= 23 && field(8) <= 59
}

/** The fields the server reads from a pushed job, and what JSON each takes (besides null). */
const serverFields: ReadonlyArray<readonly [string, "string" | "array" | "integer" | "object"]> = [
  ["jid", "string"],
  ["jobtype", "string"],
  ["queue", "string"],
  ["args", "array"],
  ["created_at", "string"],
  ["enqueued_at", "string"],
  ["at", "string"],
  ["retry", "integer"],
  ["reserve_for", "integer"],
  ["backtrace", "integer"],
  ["custom", "object"],
  ["failure", "object"]
]

/** Go's int: 64 bits. */
const GO_INT_MAX = 2 ** 63

/**
 * Where in `value` a number lies beyond a 64-bit float's range, or undefined. JSON.parse reads
 * such a number (1e400) as ±Infinity; Go's decoder refuses it, and with it the whole job.
 * Walked with a stack of its own: parsed JSON may nest deeper than the call stack goes.
 */
const beyondFloat64 = (value: unknown, path: string): string | undefined => {
  const pending: Array<readonly [unknown, string]> = [[value, path]]
  for (let next = pending.pop(); next !== undefined; next = pending.pop()) {
    const [item, at] = next
    if (typeof item === "number" && !Number.isFinite(item)) return at
    if (Array.isArray(item)) item.forEach((element, i) => pending.push([element, `${at}[${i}]`]))
    else if (isRecord(item)) for (const [key, property] of Object.entries(item)) pending.push([property, `${at}.${key}`])
  }
  return undefined
}

const jsonType = (value: unknown): string =>
  value === null ? "null" : Array.isArray(value) ? "an array" : typeof value === "object" ? "an object" : `a ${typeof value}`

/**
 * Why Faktory (1.10) would refuse this job at PUSH from any producer, in the server's words,
 * or `undefined` when it takes it: each field of the JSON type the server's Go decoder needs
 * (null counts as absent; other fields are dropped), a jid of at least 8 bytes, a jobtype,
 * `args`, `reserve_for` at most a day, `at` an RFC 3339 time, and a queue name the server
 * creates (an empty one means `default`), and no number in `args` or `custom` beyond a 64-bit
 * float's range (`1e400`, which JSON.parse reads as Infinity). What `prepare` checks for this client's own pushes
 * is stricter.
 *
 * @example
 * ```ts
 * import { JobPayload } from "@effect-faktory/core"
 *
 * JobPayload.serverRefusal({ jid: "short", jobtype: "Ping", args: [] }) // "jobs must have a reasonable jid parameter"
 * JobPayload.serverRefusal({ jid: "0123456789ab", jobtype: "Ping", args: [] }) // undefined
 * ```
 *
 * @since 0.2.0
 * @category decoding
 */
export const serverRefusal = (job: unknown): string | undefined => {
  if (!isRecord(job)) return `a job must be a JSON object, not ${jsonType(job)}`
  for (const [field, type] of serverFields) {
    const value = job[field]
    if (value === undefined || value === null) continue
    const fits = type === "string"
      ? typeof value === "string"
      : type === "array"
      ? Array.isArray(value)
      : type === "object"
      ? isRecord(value)
      : typeof value === "number" && Number.isInteger(value) && value >= -GO_INT_MAX && value < GO_INT_MAX
    if (!fits) {
      return `${field} must be ${type === "integer" ? "an integer" : type === "array" || type === "object" ? `an ${type}` : "a string"}, not ${
        typeof value === "number" ? String(value) : jsonType(value)
      } (the server cannot decode the job)`
    }
  }
  const { args, at, custom, jid, jobtype, queue, reserve_for } = job
  if (typeof jid !== "string" || utf8.encode(jid).byteLength < 8) return "jobs must have a reasonable jid parameter"
  if (typeof jobtype !== "string" || jobtype === "") return "jobs must have a jobtype parameter"
  if (!Array.isArray(args)) return "jobs must have an args parameter"
  const beyond = beyondFloat64(args, "args") ?? beyondFloat64(custom, "custom")
  if (beyond !== undefined) return `${beyond} is a number beyond the range of a 64-bit float (the server cannot decode the job)`
  if (typeof reserve_for === "number" && reserve_for > 86400) return "jobs cannot be reserved for more than one day"
  if (typeof at === "string" && at !== "" && !isRfc3339(at)) return `invalid timestamp for 'at': ${JSON.stringify(at)}`
  if (typeof queue === "string" && queue !== "" && !queueName.test(queue)) {
    return `queue names must match ${queueName.source} (${JSON.stringify(queue)})`
  }
  return undefined
}

/**
 * The job this client pushes: every field the server checks, checked the same way, plus the
 * JSON-ness of `args` and `custom`. Unknown fields are rejected (the server would drop them).
 *
 * @since 0.1.0
 * @category schemas
 */
export const PushableJob = Schema.Struct({
  jid: Schema.String.pipe(
    // A UTF-16 code unit is at least one UTF-8 byte: only short strings need encoding.
    Schema.filter((jid) => jid.length >= 8 || utf8.encode(jid).byteLength >= 8 || "jid must be at least 8 bytes")
  ),
  jobtype: Schema.String.pipe(Schema.filter((jobtype) => jobtype.trim() !== "" || "jobtype must not be empty")),
  args: JsonArgs,
  queue: Schema.optional(QueueName),
  at: Schema.optional(
    Schema.String.pipe(
      Schema.filter((at) =>
        isRfc3339(at) || `at ${JSON.stringify(at)} is not an RFC 3339 time`
      )
    )
  ),
  retry: Schema.optional(Schema.Int),
  reserve_for: Schema.optional(
    Schema.Int.pipe(
      Schema.between(60, 86400, { message: (issue) => `reserve_for must be 60 to 86400 seconds, not ${String(issue.actual)}` })
    )
  ),
  backtrace: Schema.optional(Schema.NonNegativeInt),
  created_at: Schema.String,
  custom: Schema.optional(JsonObject)
})

/**
 * @since 0.1.0
 * @category models
 */
export type PushableJob = typeof PushableJob.Type

/**
 * The retry count sent with a job that names none: the server's own default, which every
 * official client sends explicitly.
 *
 * It must be sent: Faktory 1.10 decodes each pushed job over one default retry policy shared
 * by all pushes, so after a job pushed with `"retry": 0`, every later job pushed without a
 * `retry` field also gets 0 (until the server restarts).
 *
 * @since 0.1.0
 * @category constants
 */
export const DEFAULT_RETRY = 25

/**
 * What `push` accepts. Only `jobtype` is required: `args` defaults to `[]`, `retry` to
 * `DEFAULT_RETRY` (25), `jid` to 12 random bytes in base64url, `created_at` to now; `at` may
 * be a `Date`.
 *
 * @since 0.1.0
 * @category models
 */
export interface JobInput {
  readonly jobtype: string
  readonly args?: ReadonlyArray<unknown> | undefined
  readonly jid?: string | undefined
  readonly queue?: string | undefined
  readonly at?: Date | string | undefined
  readonly retry?: number | undefined
  readonly reserve_for?: number | undefined
  readonly backtrace?: number | undefined
  readonly custom?: Readonly<Record<string, unknown>> | undefined
}

/**
 * A fresh job id: 12 random bytes, base64url, as the Go client makes them. Short or
 * predictable ids collide, and the server keys reservations by jid.
 *
 * @example
 * ```ts
 * import { JobPayload } from "@effect-faktory/core"
 *
 * JobPayload.randomJid().length // 16
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const randomJid = (): string => {
  if (randomOffset + 12 > randomPool.byteLength) {
    crypto.getRandomValues(randomPool)
    randomOffset = 0
  }
  // 12 bytes make exactly 16 base64url characters, 3 bytes to 4 at a time.
  let jid = ""
  for (let i = randomOffset; i < randomOffset + 12; i += 3) {
    const triple = (randomPool[i]! << 16) | (randomPool[i + 1]! << 8) | randomPool[i + 2]!
    jid += base64url[triple >>> 18]! + base64url[(triple >>> 12) & 63]! + base64url[(triple >>> 6) & 63]! +
      base64url[triple & 63]!
  }
  randomOffset += 12
  return jid
}

// Random bytes are drawn in 4 KiB batches: one getRandomValues call per 341 jids, not per jid.
const randomPool = new Uint8Array(4092)
let randomOffset = randomPool.byteLength
const base64url = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

const decodePushable = Schema.decodeUnknownEither(PushableJob, { onExcessProperty: "error", errors: "all" })

/**
 * Checks a job and fills in its defaults (`jid`, `args`, `retry`, `created_at`), ready to
 * send.
 *
 * @example
 * ```ts
 * import { JobPayload } from "@effect-faktory/core"
 *
 * JobPayload.prepare({ jobtype: "SendEmail", args: ["a@example.com"], queue: "mail" })
 * // Either.right({ jid: "…", jobtype: "SendEmail", args: [...], queue: "mail", retry: 25, created_at: "…" })
 * JobPayload.prepare({ jobtype: "SendEmail", queue: "not a queue" }) // Either.left(JobValidationError)
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const prepare = (input: JobInput, now: Date = new Date()): Either.Either<PushableJob, JobValidationError> => {
  // A job this function made is checked already (a typed job's push prepares it before the
  // client sees it): it is passed on as it is, validated once.
  if (isPrepared(input)) return Either.right(input)
  // The type says what to pass; plain JavaScript callers and data from elsewhere may pass
  // anything, and reading it may throw (a getter, a proxy). Whatever it is becomes a
  // JobValidationError: nothing is sent and no defect escapes.
  try {
    return prepareUnsafe(input, now)
  } catch (error) {
    return Either.left(invalid(input, `reading it threw ${describeThrown(error)}`))
  }
}

const prepareUnsafe = (input: JobInput, now: Date): Either.Either<PushableJob, JobValidationError> => {
  if (typeof input !== "object" || input === null || Array.isArray(input)) {
    return Either.left(invalid(input, `a job must be an object, not ${describeValue(input)}`))
  }
  // Made on the prepared prototype: when the quick check passes, this very object is the job.
  const candidate: Record<string, unknown> = Object.create(preparedPrototype)
  for (const [key, value] of Object.entries(input)) {
    if (value !== undefined) candidate[key] = value
  }
  // Only absent fields get defaults: a null is the caller's mistake, and the Schema says so.
  if (candidate.jid === undefined) candidate.jid = randomJid()
  if (candidate.args === undefined) candidate.args = []
  if (candidate.retry === undefined) candidate.retry = DEFAULT_RETRY
  if (candidate.created_at === undefined) candidate.created_at = isoString(now)
  if (input.at instanceof Date) {
    if (Number.isNaN(input.at.getTime())) {
      return Either.left(invalid(input, "at is an invalid Date"))
    }
    candidate.at = input.at.toISOString()
  }
  if (isPlainValid(candidate)) return enterpriseChecked(candidate, input)
  return Either.flatMap(
    Either.mapLeft(decodePushable(candidate), (error) => invalid(input, formatIssues(error, { unexpected: "is not a job field" }))),
    (job) => enterpriseChecked(markPrepared(job), input)
  )
}

/** The job, unless a key Faktory Enterprise reads from `custom` has a value it cannot use. */
const enterpriseChecked = (job: PushableJob, input: unknown): Either.Either<PushableJob, JobValidationError> => {
  const problem = job.custom === undefined ? undefined : enterpriseProblem(job.custom)
  return problem === undefined ? Either.right(job) : Either.left(invalid(input, problem))
}

const positiveSeconds = (value: unknown) => typeof value === "number" && Number.isFinite(value) && value > 0
/** The server counts a lock in whole seconds, and takes less than one as none. */
const lockSeconds = (value: unknown) => typeof value === "number" && Number.isFinite(value) && value >= 1

/**
 * What is wrong with the keys of `custom` that Faktory Enterprise reads (`faktory-protocol.md`
 * §7), or `undefined`. Open-source Faktory ignores them; Enterprise would misread a wrong
 * value silently (a `unique_for` of `"600"`, a string, is the classic mistake).
 */
const enterpriseProblem = (custom: { readonly [key: string]: unknown }): string | undefined => {
  if (Object.hasOwn(custom, "unique_for") && !lockSeconds(custom.unique_for)) {
    return `custom.unique_for must be a number of seconds, at least 1 (how long the job stays unique; the server takes less as no lock), not ${brief(custom.unique_for)}`
  }
  if (Object.hasOwn(custom, "unique_until") && custom.unique_until !== "success" && custom.unique_until !== "start") {
    return `custom.unique_until must be "success" or "start", not ${brief(custom.unique_until)}`
  }
  if (Object.hasOwn(custom, "expires_at") && !(typeof custom.expires_at === "string" && isRfc3339(custom.expires_at))) {
    return `custom.expires_at must be an RFC 3339 time (such as 2026-07-01T10:00:00Z), not ${brief(custom.expires_at)}`
  }
  if (Object.hasOwn(custom, "expires_in") && !positiveSeconds(custom.expires_in)) {
    return `custom.expires_in must be a number of seconds above 0, not ${brief(custom.expires_in)}`
  }
  if (Object.hasOwn(custom, "bid") && !isBid(custom.bid)) {
    return `custom.bid must be a batch id (one word of printable ASCII, such as b-5pBPzTw5W0lyKA), not ${brief(custom.bid)}`
  }
  return undefined
}

/**
 * The job as a member of a batch: `custom.bid` set to `bid` (replacing one it had), the rest
 * as it was. A job `prepare` made stays marked as checked: a bid changes nothing a check looks
 * at. Every push inside `Batch.run` goes through this.
 *
 * @example
 * ```ts
 * import { Either, Schema } from "effect"
 * import { Enterprise, JobPayload } from "@effect-faktory/core"
 *
 * const job = Either.getOrThrow(JobPayload.prepare({ jobtype: "Resize", args: ["a.jpg"] }))
 * const bid = Schema.decodeUnknownSync(Enterprise.Bid)("b-5pBPzTw5W0lyKA")
 * JobPayload.inBatch(job, bid).custom // { bid: "b-5pBPzTw5W0lyKA" }
 * ```
 *
 * @since 0.2.0
 * @category constructors
 */
export const inBatch = (job: PushableJob, bid: Enterprise.Bid): PushableJob => {
  if (job.custom !== undefined && job.custom.bid === bid) return job
  const custom = job.custom === undefined ? { bid } : { ...job.custom, bid }
  const target: object = Object.create(isPrepared(job) ? preparedPrototype : Object.prototype)
  return Object.assign(target, job, { custom })
}

/**
 * The prototype of the jobs `prepare` makes: the mark that they are checked already. A
 * prototype rather than a WeakSet (measured: adding each job to a WeakSet cost more than
 * checking it again, most of it in the garbage collector) or a field (the job is sent as
 * JSON, and a spread copy made by middleware must not carry the mark: it is checked anew).
 */
const preparedPrototype: object = Object.create(Object.prototype)

const markPrepared = (job: PushableJob): PushableJob =>
  Object.getPrototypeOf(job) === preparedPrototype ? job : Object.assign(Object.create(preparedPrototype), job)

/**
 * Whether `prepare` made this job (so it is checked and complete). Such a job is passed on as
 * it is; a changed copy, as middleware makes, is checked again.
 */
const isPrepared = (job: unknown): job is PushableJob =>
  typeof job === "object" && job !== null && Object.getPrototypeOf(job) === preparedPrototype

/**
 * Checks and completes many jobs, for PUSHB: all of them or none. A refusal names the index of
 * the first job refused (`jobs[3]: …`). Two jobs with the same jid are refused too: the server
 * would keep both, under one reservation, and lose one of them.
 *
 * @example
 * ```ts
 * import { JobPayload } from "@effect-faktory/core"
 *
 * JobPayload.prepareAll([{ jobtype: "A" }, { jobtype: "B", queue: "bad queue" }]) // Either.left: "jobs[1]: …"
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const prepareAll = (
  inputs: ReadonlyArray<JobInput>,
  now: Date = new Date()
): Either.Either<Array<PushableJob>, JobValidationError> => {
  if (!Array.isArray(inputs)) {
    return Either.left(new JobValidationError({ detail: `jobs must be an array, not ${describeValue(inputs)}` }))
  }
  const prepared: Array<PushableJob> = []
  // Each jid's index, for a jid given twice.
  const indexOfJid = new Map<string, number>()
  for (let index = 0; index < inputs.length; index++) {
    let input: JobInput
    try {
      input = inputs[index]!
    } catch (error) {
      return Either.left(new JobValidationError({ detail: `jobs[${index}]: reading it threw ${describeThrown(error)}` }))
    }
    const checked = prepare(input, now)
    if (Either.isLeft(checked)) {
      const { detail, jid, jobtype } = checked.left
      return Either.left(
        new JobValidationError({
          ...(jobtype === undefined ? {} : { jobtype }),
          ...(jid === undefined ? {} : { jid }),
          detail: `jobs[${index}]: ${detail}`
        })
      )
    }
    const job = checked.right
    const first = indexOfJid.get(job.jid)
    if (first !== undefined) {
      return Either.left(
        new JobValidationError({
          jobtype: job.jobtype,
          jid: job.jid,
          detail: `jobs[${index}]: its jid is also jobs[${first}]'s; the server would keep both under one ` +
            "reservation and lose one (give each job its own jid)"
        })
      )
    }
    indexOfJid.set(job.jid, index)
    prepared.push(job)
  }
  return Either.right(prepared)
}

/** A short description of a value of unknown type, for messages. */
const describeValue = (value: unknown): string => {
  if (value === null) return "null"
  if (Array.isArray(value)) return "an array"
  switch (typeof value) {
    case "undefined":
      return "undefined"
    case "object":
      return "a non-array object"
    default:
      return `a ${typeof value}`
  }
}

/** The last time formatted, as pushBulk stamps thousands of jobs with one time. */
let lastTime = Number.NaN
let lastIso = ""
const isoString = (date: Date): string => {
  const time = date.getTime()
  if (time !== lastTime) {
    lastIso = date.toISOString()
    lastTime = time
  }
  return lastIso
}

const pushableKeys = new Set<string>(Object.keys(PushableJob.fields))
const isIntIn = (value: unknown, min: number, max: number) =>
  typeof value === "number" && Number.isSafeInteger(value) && value >= min && value <= max

/**
 * The common job checked by hand: the same rules as `PushableJob`, for the plain shapes
 * nearly every push has. `true` only when the Schema would accept the job as it is; anything
 * else (and every invalid job, for its message) goes to the Schema. Measured: the Schema's
 * generic walk was the largest part of a push's own CPU time. The two agree by property test.
 */
const isPlainValid = (job: Record<string, unknown>): job is PushableJob => {
  // An input key "__proto__" replaced the candidate's prototype: leave that to the Schema.
  if (Object.getPrototypeOf(job) !== preparedPrototype) return false
  for (const key in job) {
    if (!pushableKeys.has(key)) return false
  }
  const { args, at, backtrace, created_at, custom, jid, jobtype, queue, reserve_for, retry } = job
  return isString(jid) && jid.length >= 8 &&
    isString(jobtype) && jobtype.trim() !== "" &&
    Array.isArray(args) && findNonJson(args, "args") === undefined &&
    (queue === undefined || (isString(queue) && queueName.test(queue))) &&
    (at === undefined || (isString(at) && isRfc3339(at))) &&
    (retry === undefined || Number.isSafeInteger(retry)) &&
    (reserve_for === undefined || isIntIn(reserve_for, 60, 86400)) &&
    (backtrace === undefined || isIntIn(backtrace, 0, Number.MAX_SAFE_INTEGER)) &&
    isString(created_at) &&
    (custom === undefined || (notPlainObject(custom) === undefined && findNonJson(custom, "custom") === undefined))
}

const invalid = (input: unknown, detail: string) => {
  // The job's own fields name it in the message, when they can be read without throwing.
  let jobtype: unknown = undefined
  let jid: unknown = undefined
  try {
    if (isRecord(input)) {
      jobtype = input.jobtype
      jid = input.jid
    }
  } catch {
    // A getter that throws names nothing.
  }
  return new JobValidationError({
    // A blank jobtype would make "job     is invalid": it is left out, and the detail says why.
    ...(typeof jobtype === "string" && jobtype.trim() !== "" ? { jobtype } : {}),
    ...(typeof jid === "string" ? { jid } : {}),
    detail
  })
}

/**
 * A schema failure as one readable line: `path: message; path: message`. The values it quotes
 * are shown briefly: whole when short, else by their size and a short prefix (a string's first
 * characters, an object's first keys and never its values), so that a job's megabytes or
 * personal data are not copied into logs and failure messages.
 *
 * @example
 * ```ts
 * import { Either, Schema } from "effect"
 * import { JobPayload } from "@effect-faktory/core"
 *
 * const result = Schema.decodeUnknownEither(Schema.Struct({ n: Schema.Number }))({ n: "1" })
 * if (Either.isLeft(result)) JobPayload.formatIssues(result.left) // "n: Expected number, actual \"1\""
 * ```
 *
 * @since 0.1.0
 * @category formatting
 */
export const formatIssues = (
  error: ParseResult.ParseError,
  options?: {
    /** What an element or field the Schema does not have is said to be. Default "is not in the Schema". */
    readonly unexpected?: string | undefined
  }
): string =>
  ParseResult.ArrayFormatter.formatIssueSync(quotingBriefly(withoutUndefinedAlternative(error.issue)))
    .map((issue) => {
      const path = issue.path.map(String).join(".")
      const message = issue._tag === "Unexpected" ? options?.unexpected ?? "is not in the Schema" : issue.message
      // Messages of this module's own checks name their field ("at … is not an RFC 3339 time").
      return path === "" || namesItsField(message, path) ? message : `${path}: ${message}`
    })
    .join("; ")

/** A value in place of the one an issue quotes: Effect renders it with `toString`. */
class Quoted {
  constructor(readonly value: unknown) {}
  toString(): string {
    return brief(this.value)
  }
}

/**
 * The issue with every value it quotes shown briefly. Effect's default messages render the
 * issue's `actual`, so it is replaced; the messages Effect's own transformations write
 * beforehand ("Unable to decode \"…\" into a number") quote a string as JSON, which is
 * replaced in the text. A message annotation is the Schema author's, left to say what it says.
 */
const quotingBriefly = (issue: ParseResult.ParseIssue): ParseResult.ParseIssue => {
  switch (issue._tag) {
    case "Type": {
      if (Option.isSome(SchemaAST.getMessageAnnotation(issue.ast))) return issue
      const { actual, message } = issue
      const quoted = message !== undefined && typeof actual === "string" && actual.length > MAX_WHOLE
        ? message.split(JSON.stringify(actual)).join(brief(actual))
        : message
      return new ParseResult.Type(issue.ast, new Quoted(actual), quoted)
    }
    case "Composite": {
      const issues = "_tag" in issue.issues ? quotingBriefly(issue.issues) : Arr.map(issue.issues, quotingBriefly)
      return new ParseResult.Composite(issue.ast, issue.actual, issues, issue.output)
    }
    default:
      return withInner(issue, quotingBriefly)
  }
}

/**
 * A Pointer, Refinement or Transformation with `rewrite` applied to the issue it wraps; any
 * other issue as it is. The walks over an issue tree share it.
 */
const withInner = (
  issue: ParseResult.ParseIssue,
  rewrite: (inner: ParseResult.ParseIssue) => ParseResult.ParseIssue
): ParseResult.ParseIssue => {
  switch (issue._tag) {
    case "Pointer":
      return new ParseResult.Pointer(issue.path, issue.actual, rewrite(issue.issue))
    case "Refinement":
      return new ParseResult.Refinement(issue.ast, issue.actual, issue.kind, rewrite(issue.issue))
    case "Transformation":
      return new ParseResult.Transformation(issue.ast, issue.actual, issue.kind, rewrite(issue.issue))
    default:
      return issue
  }
}

const namesItsField = (message: string, path: string): boolean =>
  message.startsWith(path) && (message.length === path.length || " .[".includes(message[path.length]!))

/**
 * The issue without the `undefined` alternative of an optional field. A wrong value of an
 * optional field fails both the field's Schema and `undefined`; the second says nothing
 * ("Expected undefined, actual …") and made every message say its problem twice.
 */
const withoutUndefinedAlternative = (issue: ParseResult.ParseIssue): ParseResult.ParseIssue => {
  switch (issue._tag) {
    case "Composite": {
      const all = Array.isArray(issue.issues) ? issue.issues : [issue.issues]
      const kept = SchemaAST.isUnion(issue.ast)
        ? all.filter((member) => !(member._tag === "Type" && SchemaAST.isUndefinedKeyword(member.ast)))
        : all
      const [first, ...rest] = kept.map(withoutUndefinedAlternative)
      if (first === undefined) return issue
      if (rest.length === 0 && kept.length < all.length) return first
      return new ParseResult.Composite(issue.ast, issue.actual, [first, ...rest], issue.output)
    }
    default:
      return withInner(issue, withoutUndefinedAlternative)
  }
}
