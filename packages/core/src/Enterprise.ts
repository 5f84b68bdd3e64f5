/**
 * What Faktory Enterprise adds to the wire (`faktory-protocol.md` §7), as values: batch ids,
 * the replies of `BATCH STATUS` and `TRACK GET` decoded with Schemas (the odd shapes servers
 * send included), and the states they report. Pure, no I/O: `Protocol` writes the commands,
 * `Replies` reads their answers with these Schemas, and `Batch` and `Tracking` are the modules
 * applications use.
 *
 * @since 0.2.0
 */
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import { InvalidArgumentError } from "./Errors.js"
import { brief } from "./internal/shared/brief.js"

/** What the server's bids are made of: printable ASCII, no space (they travel in a command line). */
const bidPattern = /^[!-~]+$/

/**
 * A batch id, as Faktory Enterprise makes them (`b-…`). Any non-empty printable ASCII without
 * spaces is taken (the server makes the ids; their exact form is not documented): a bid goes
 * at the end of a command line, where a space or a line break would change the command.
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { Enterprise } from "@effect-faktory/core"
 *
 * const bid = Schema.decodeUnknownSync(Enterprise.Bid)("b-5pBPzTw5W0lyKA") // Bid
 * ```
 *
 * @since 0.2.0
 * @category schemas
 */
export const Bid = Schema.String.pipe(
  Schema.filter((value) => bidPattern.test(value), {
    message: (issue) => `${brief(issue.actual)} is not a batch id (one word of printable ASCII, such as b-5pBPzTw5W0lyKA)`
  }),
  Schema.brand("@effect-faktory/core/Bid")
)

/**
 * @since 0.2.0
 * @category models
 */
export type Bid = typeof Bid.Type

/**
 * Whether a value can be a batch id.
 *
 * @example
 * ```ts
 * import { Enterprise } from "@effect-faktory/core"
 *
 * Enterprise.isBid("b-5pBPzTw5W0lyKA") // true
 * Enterprise.isBid("b-1\r\nFLUSH") // false
 * ```
 *
 * @since 0.2.0
 * @category guards
 */
export const isBid = (value: unknown): value is Bid => typeof value === "string" && bidPattern.test(value)

/**
 * A value given as a batch id, checked: the bid, or an `InvalidArgumentError` naming the
 * command and saying what is wrong. Nothing is sent for a bid that is no bid.
 *
 * @example
 * ```ts
 * import { Enterprise } from "@effect-faktory/core"
 *
 * Enterprise.parseBid("BATCH OPEN", "b-5pBPzTw5W0lyKA") // Either.right(bid)
 * Enterprise.parseBid("BATCH OPEN", "not a bid") // Either.left(InvalidArgumentError)
 * ```
 *
 * @since 0.2.0
 * @category constructors
 */
export const parseBid = (command: string, value: unknown): Either.Either<Bid, InvalidArgumentError> =>
  isBid(value)
    ? Either.right(value)
    : Either.left(
      new InvalidArgumentError({
        command,
        detail: typeof value === "string"
          ? `${brief(value)} is not a batch id: a bid is one word of printable ASCII (such as b-5pBPzTw5W0lyKA), ` +
            (value === "" ? "not empty" : "with no space, line break or other control character")
          : `the batch id must be a string, not ${value === null ? "null" : typeof value}`
      })
    )

/**
 * The state of a batch's callback job, as `BATCH STATUS` reports it:
 *
 * - `notEnqueued`: not enqueued yet (the wire's `""`). A `success` callback stays so for ever
 *   when a job of the batch never succeeds.
 * - `enqueued`: the batch is done and the callback was enqueued (`"1"`); a callback job that
 *   failed stays `enqueued`.
 * - `succeeded`: the callback job ran and succeeded (`"2"`).
 *
 * @since 0.2.0
 * @category schemas
 */
export const CallbackState = Schema.Literal("notEnqueued", "enqueued", "succeeded")

/**
 * @since 0.2.0
 * @category models
 */
export type CallbackState = typeof CallbackState.Type

/**
 * A job's state as `TRACK GET` reports it. An untracked job, or one whose tracking data has
 * expired (about 30 minutes after it finished), reads as `unknown`.
 *
 * @since 0.2.0
 * @category schemas
 */
export const JobState = Schema.Literal("unknown", "enqueued", "working", "success", "failed", "dead")

/**
 * @since 0.2.0
 * @category models
 */
export type JobState = typeof JobState.Type

/** A wire field that may be absent or null; both read as absent. */
const absentOr = <A, I>(schema: Schema.Schema<A, I>) => Schema.optional(Schema.NullOr(schema))

/** A count, as a number; a numeric string is taken too (a value read back from Redis). */
const Count = Schema.Union(Schema.NonNegativeInt, Schema.compose(Schema.NumberFromString, Schema.NonNegativeInt))

/** The callback states on the wire: `""`, `"1"`, `"2"`; the numbers 1 and 2 are taken too. */
const WireCallbackState = Schema.Literal("", "1", "2", 1, 2)

const callbackStateOf = (wire: typeof WireCallbackState.Type | null | undefined): CallbackState =>
  wire === "1" || wire === 1 ? "enqueued" : wire === "2" || wire === 2 ? "succeeded" : "notEnqueued"

const wireCallbackState = (state: CallbackState): "" | "1" | "2" =>
  state === "enqueued" ? "1" : state === "succeeded" ? "2" : ""

/** `""` and absent are no text. */
const someText = (value: string | null | undefined): Option.Option<string> =>
  value === undefined || value === null || value === "" ? Option.none() : Option.some(value)

/** An RFC 3339 time; `""` or absent is none (the server sends `""` for an untracked job). */
const timeOf = (
  value: string | null | undefined,
  ast: Schema.Schema.AnyNoContext["ast"],
  field: string
): Either.Either<Option.Option<Date>, ParseResult.ParseIssue> => {
  if (value === undefined || value === null || value === "") return Either.right(Option.none())
  const time = Date.parse(value)
  return Number.isNaN(time)
    ? Either.left(new ParseResult.Type(ast, value, `${field} ${brief(value)} is not an RFC 3339 time`))
    : Either.right(Option.some(new Date(time)))
}

/**
 * `BATCH STATUS`'s JSON as the servers send it (Go client `BatchStatus`; Rust client
 * `BatchStatus`; the Ent-Batches wiki page).
 *
 * @since 0.2.0
 * @category schemas
 */
export const BatchStatusWire = Schema.Struct({
  bid: Schema.String,
  parent_bid: absentOr(Schema.String),
  description: absentOr(Schema.String),
  created_at: absentOr(Schema.String),
  total: Count,
  pending: Count,
  failed: Count,
  complete_st: absentOr(WireCallbackState),
  success_st: absentOr(WireCallbackState)
})

/**
 * A batch's state as a value.
 *
 * @since 0.2.0
 * @category schemas
 */
export const BatchStatusValue = Schema.Struct({
  bid: Bid,
  /** The batch this one is a child of. */
  parentBid: Schema.OptionFromSelf(Bid),
  description: Schema.OptionFromSelf(Schema.String),
  createdAt: Schema.OptionFromSelf(Schema.DateFromSelf),
  /** Jobs pushed into the batch. */
  total: Schema.Number,
  /** Jobs not finished yet (a failed job waiting for a retry counts as pending). */
  pending: Schema.Number,
  /** Jobs that failed (their latest run). */
  failed: Schema.Number,
  /** The `success` callback: enqueued once every job has succeeded. */
  success: CallbackState,
  /** The `complete` callback: enqueued once every job has run, succeeded or failed. */
  complete: CallbackState
})

/**
 * @since 0.2.0
 * @category models
 */
export type BatchStatus = typeof BatchStatusValue.Type

/**
 * `BATCH STATUS`'s JSON decoded into a `BatchStatus`. Taken as servers send it: an empty or
 * absent `parent_bid`, `description` or `created_at` is none, callback states `""`, `"1"`,
 * `"2"` (or the numbers 1 and 2, or absent), counts as numbers or numeric strings.
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { Enterprise } from "@effect-faktory/core"
 *
 * const status = Schema.decodeUnknownSync(Schema.parseJson(Enterprise.BatchStatus))(
 *   '{"bid":"b-1","total":3,"pending":1,"failed":0,"created_at":"2026-07-01T10:00:00Z","description":"",' +
 *     '"complete_st":"1","success_st":""}'
 * )
 * status.complete // "enqueued"
 * ```
 *
 * @since 0.2.0
 * @category schemas
 */
export const BatchStatus = Schema.transformOrFail(BatchStatusWire, BatchStatusValue, {
  strict: true,
  decode: (wire, _, ast) => {
    const created = timeOf(wire.created_at, ast, "created_at")
    if (Either.isLeft(created)) return ParseResult.fail(created.left)
    const parent = someText(wire.parent_bid)
    return ParseResult.succeed({
      bid: wire.bid,
      parentBid: parent,
      description: someText(wire.description),
      createdAt: created.right,
      total: wire.total,
      pending: wire.pending,
      failed: wire.failed,
      success: callbackStateOf(wire.success_st),
      complete: callbackStateOf(wire.complete_st)
    })
  },
  encode: (status) =>
    ParseResult.succeed({
      bid: status.bid,
      ...(Option.isSome(status.parentBid) ? { parent_bid: status.parentBid.value } : {}),
      ...(Option.isSome(status.description) ? { description: status.description.value } : {}),
      created_at: Option.match(status.createdAt, { onNone: () => "", onSome: (date) => date.toISOString() }),
      total: status.total,
      pending: status.pending,
      failed: status.failed,
      complete_st: wireCallbackState(status.complete),
      success_st: wireCallbackState(status.success)
    })
})

/**
 * `TRACK GET`'s JSON as the servers send it (Go client `JobTrack`; Rust client `Progress`; the
 * Ent-Tracking wiki page).
 *
 * @since 0.2.0
 * @category schemas
 */
export const JobStatusWire = Schema.Struct({
  jid: Schema.String,
  state: JobState,
  updated_at: absentOr(Schema.String),
  percent: absentOr(Schema.Number),
  desc: absentOr(Schema.String)
})

/**
 * A job's tracking state as a value.
 *
 * @since 0.2.0
 * @category schemas
 */
export const JobStatusValue = Schema.Struct({
  jid: Schema.String,
  state: JobState,
  /** The job's last report (`Tracking.progress`), when it made one. */
  percent: Schema.OptionFromSelf(Schema.Number),
  description: Schema.OptionFromSelf(Schema.String),
  /** When the state last changed; none for an untracked job (the server sends `""`). */
  updatedAt: Schema.OptionFromSelf(Schema.DateFromSelf)
})

/**
 * @since 0.2.0
 * @category models
 */
export type JobStatus = typeof JobStatusValue.Type

/**
 * `TRACK GET`'s JSON decoded into a `JobStatus`: an empty `updated_at` (as the server sends
 * for an untracked job: `{"jid":"…","state":"unknown","updated_at":""}`) and an absent
 * `percent` or `desc` are none.
 *
 * @example
 * ```ts
 * import { Option, Schema } from "effect"
 * import { Enterprise } from "@effect-faktory/core"
 *
 * const status = Schema.decodeUnknownSync(Schema.parseJson(Enterprise.JobStatus))(
 *   '{"jid":"f7APFzrS2RZi9eaA","state":"unknown","updated_at":""}'
 * )
 * Option.isNone(status.updatedAt) // true
 * ```
 *
 * @since 0.2.0
 * @category schemas
 */
export const JobStatus = Schema.transformOrFail(JobStatusWire, JobStatusValue, {
  strict: true,
  decode: (wire, _, ast) => {
    const updated = timeOf(wire.updated_at, ast, "updated_at")
    if (Either.isLeft(updated)) return ParseResult.fail(updated.left)
    return ParseResult.succeed({
      jid: wire.jid,
      state: wire.state,
      percent: wire.percent === undefined || wire.percent === null ? Option.none() : Option.some(wire.percent),
      description: someText(wire.desc),
      updatedAt: updated.right
    })
  },
  encode: (status) =>
    ParseResult.succeed({
      jid: status.jid,
      state: status.state,
      updated_at: Option.match(status.updatedAt, { onNone: () => "", onSome: (date) => date.toISOString() }),
      ...(Option.isSome(status.percent) ? { percent: status.percent.value } : {}),
      ...(Option.isSome(status.description) ? { desc: status.description.value } : {})
    })
})
