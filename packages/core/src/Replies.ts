/**
 * What the server's replies mean: the one place where a reply becomes a value or a typed
 * error. The client's commands and the worker's FETCH, ACK, FAIL and BEAT read their replies
 * here, so an `-ERR` always becomes the same `ServerError` and a FETCH reply means the same
 * job wherever it is read.
 *
 * Readers return an `Either` (itself an Effect), so callback code below the fibers, such as
 * the worker's report path, reads replies without a fiber step.
 *
 * @since 0.2.0
 */
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import type { ParseError } from "effect/ParseResult"
import * as Schema from "effect/Schema"
import { BatchNotFoundError, EnterpriseRequiredError, NotUniqueError, ProtocolError, ServerError } from "./Errors.js"
import * as Enterprise from "./Enterprise.js"
import * as JobPayload from "./JobPayload.js"
import type * as Resp from "./Resp.js"
import * as ServerInfo from "./ServerInfo.js"
import { describeReply } from "./internal/wire/describeReply.js"

/** The open-source server's answer to Enterprise commands. */
const enterpriseMarker = "only available in Faktory Enterprise"

/**
 * Turns an error reply into the error a user can act on.
 *
 * @example
 * ```ts
 * import { Replies, Resp } from "@effect-faktory/core"
 *
 * const reply = Resp.errorReply("ERR", "Job not found x")
 * if (reply._tag === "ErrorReply") Replies.errorFrom("FAIL", reply) // ServerError
 * ```
 *
 * @since 0.2.0
 * @category errors
 */
export const errorFrom = (verb: string, reply: Resp.ErrorReply): ServerError | EnterpriseRequiredError =>
  reply.message.includes(enterpriseMarker)
    ? new EnterpriseRequiredError({ feature: featureOf(verb), detail: reply.message })
    : new ServerError({ command: verb, code: reply.code, detail: reply.message })

/** What an Enterprise command is for, as `EnterpriseRequiredError` names it. */
const featureOf = (verb: string): string =>
  verb.startsWith("BATCH") ? `batches (${verb})` : verb.startsWith("TRACK") ? `job tracking (${verb})` : verb.toLowerCase()

/**
 * A reply that no reading of the command allows.
 *
 * @example
 * ```ts
 * import { Replies, Resp } from "@effect-faktory/core"
 *
 * Replies.unexpected("ACK", Resp.nullBulk).message // "unexpected reply to ACK: a null bulk string"
 * ```
 *
 * @since 0.2.0
 * @category errors
 */
export const unexpected = (verb: string, reply: Resp.Reply): ProtocolError =>
  new ProtocolError({ reason: "UnexpectedReply", detail: `unexpected reply to ${verb}: ${describeReply(reply)}` })

/** An error reply to a command of the open-source server. */
const serverError = (verb: string, reply: Resp.ErrorReply): ServerError =>
  new ServerError({ command: verb, code: reply.code, detail: reply.message })

const okValue = Either.right<void>(undefined)

/**
 * `+OK`, or the error the reply stands for.
 *
 * @example
 * ```ts
 * import { Replies, Resp } from "@effect-faktory/core"
 *
 * Replies.ok("ACK")(Resp.simpleString("OK")) // Either.right(undefined)
 * ```
 *
 * @since 0.2.0
 * @category readers
 */
export const ok = (verb: string) => (reply: Resp.Reply): Either.Either<void, ServerError | ProtocolError> => {
  if (reply._tag === "SimpleString" && reply.value === "OK") return okValue
  if (reply._tag === "ErrorReply") return Either.left(serverError(verb, reply))
  return Either.left(unexpected(verb, reply))
}

/**
 * A JSON bulk string decoded with a Schema.
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { Replies, Resp } from "@effect-faktory/core"
 *
 * Replies.json("QUEUE", Schema.Record({ key: Schema.String, value: Schema.Number }))(Resp.bulkString('{"a":1}'))
 * ```
 *
 * @since 0.2.0
 * @category readers
 */
export const json = <A, I>(verb: string, schema: Schema.Schema<A, I>) => {
  const decode = Schema.decodeUnknownEither(Schema.parseJson(schema))
  return (reply: Resp.Reply): Either.Either<A, ServerError | ProtocolError> => {
    if (reply._tag === "ErrorReply") return Either.left(serverError(verb, reply))
    if (reply._tag !== "BulkString") return Either.left(unexpected(verb, reply))
    return Either.mapLeft(decode(reply.value), (error) =>
      new ProtocolError({ reason: "MalformedPayload", detail: `${verb} reply: ${JobPayload.formatIssues(error)}` }))
  }
}

/**
 * A FETCH reply: a job, or none when the queues stayed empty for the 2 s the server waits.
 * A job that does not decode fails with `ProtocolError` `MalformedPayload`, carrying its jid
 * when one can be read, so that the job can still be FAILed.
 *
 * @example
 * ```ts
 * import { Replies, Resp } from "@effect-faktory/core"
 *
 * Replies.fetched(Resp.nullBulk) // Either.right(Option.none())
 * ```
 *
 * @since 0.2.0
 * @category readers
 */
export const fetched = (
  reply: Resp.Reply
): Either.Either<Option.Option<JobPayload.Job>, ServerError | ProtocolError> => {
  switch (reply._tag) {
    case "NullBulk":
      return Either.right(Option.none())
    case "BulkString": {
      const decoded = JobPayload.decode(reply.value)
      if (Either.isRight(decoded)) return Either.right(Option.some(decoded.right))
      const jid = jidOf(reply.value)
      return jid === undefined ? Either.left(decoded.left) : Either.left(new ProtocolError({ reason: decoded.left.reason, detail: decoded.left.detail, jid }))
    }
    case "ErrorReply":
      return Either.left(serverError("FETCH", reply))
    case "SimpleString":
      return Either.left(unexpected("FETCH", reply))
  }
}

/** The jid of a job's JSON that does not decode as a job, when it has one. */
const jidOf = (json: string): string | undefined => {
  try {
    const parsed: unknown = JSON.parse(json)
    if (typeof parsed !== "object" || parsed === null || !("jid" in parsed)) return undefined
    return typeof parsed.jid === "string" && parsed.jid !== "" ? parsed.jid : undefined
  } catch {
    return undefined
  }
}

/**
 * A worker's lifecycle state as BEAT carries it: the state a worker reports (`current_state`),
 * and the state the server asks it to move to in its reply.
 *
 * @since 0.2.0
 * @category models
 */
export type BeatState = "running" | "quiet" | "terminate"

const BeatReply = Schema.Struct({ state: Schema.Literal("quiet", "terminate") })
const beatState = json("BEAT", BeatReply)
const running = Either.right<BeatState>("running")

/**
 * A BEAT reply: `running` for `+OK`, else the state the server asks for.
 *
 * @example
 * ```ts
 * import { Replies, Resp } from "@effect-faktory/core"
 *
 * Replies.beat(Resp.bulkString('{"state":"quiet"}')) // Either.right("quiet")
 * ```
 *
 * @since 0.2.0
 * @category readers
 */
export const beat = (reply: Resp.Reply): Either.Either<BeatState, ServerError | ProtocolError> => {
  if (reply._tag === "SimpleString" && reply.value === "OK") return running
  return Either.map(beatState(reply), ({ state }) => state)
}

/**
 * An INFO reply: the server's state, decoded with its Schema.
 *
 * @example
 * ```ts
 * import { Replies, Resp } from "@effect-faktory/core"
 *
 * Replies.info(Resp.nullBulk) // Either.left(ProtocolError)
 * ```
 *
 * @since 0.2.0
 * @category readers
 */
export const info = (reply: Resp.Reply): Either.Either<ServerInfo.ServerInfo, ServerError | ProtocolError> => {
  if (reply._tag === "BulkString") return ServerInfo.decode(reply.value)
  if (reply._tag === "ErrorReply") return Either.left(serverError("INFO", reply))
  return Either.left(unexpected("INFO", reply))
}

/**
 * The PUSHB reply's shape: each refused job's jid with its reason.
 *
 * @since 0.2.0
 * @category schemas
 */
export const RejectedJobs = Schema.Record({ key: Schema.String, value: Schema.String })

/**
 * The `QUEUE LATENCY` reply's shape: seconds by queue name.
 *
 * @since 0.2.0
 * @category schemas
 */
export const Latencies = Schema.Record({ key: Schema.String, value: Schema.Number })

/** `CODE message` for the server's coded refusals (NOTUNIQUE, …), as PUSH's `-CODE message`. */
const codedReason = /^([A-Z][A-Z_]*) (.*)$/s

/** The job a PUSH reply is about, to name it in its refusal. */
interface Pushed {
  readonly jid: string
  readonly jobtype: string
}

const notUnique = (detail: string, job: Pushed | undefined): NotUniqueError =>
  new NotUniqueError({ ...(job === undefined ? {} : { jid: job.jid, jobtype: job.jobtype }), detail })

/**
 * A job refused inside a PUSHB, as the error a PUSH of it alone would have failed with: a
 * `NotUniqueError` for Faktory Enterprise's `NOTUNIQUE` (the map's value carries the code as
 * text, `NOTUNIQUE Job not unique`), else a `ServerError` with the reason's code (`ERR` when
 * it has none).
 *
 * @example
 * ```ts
 * import { Replies } from "@effect-faktory/core"
 *
 * Replies.pushRefusal("NOTUNIQUE Job not unique")._tag // "NotUniqueError"
 * Replies.pushRefusal("jobs must have a jobtype parameter")._tag // "ServerError"
 * ```
 *
 * @since 0.2.0
 * @category errors
 */
export const pushRefusal = (reason: string, job?: Pushed): ServerError | NotUniqueError => {
  const coded = codedReason.exec(reason)
  if (coded === null) {
    return reason === "NOTUNIQUE"
      ? notUnique("", job)
      : new ServerError({ command: "PUSH", code: "ERR", detail: reason })
  }
  return coded[1] === "NOTUNIQUE"
    ? notUnique(coded[2]!, job)
    : new ServerError({ command: "PUSH", code: coded[1]!, detail: coded[2]! })
}

/**
 * A PUSH reply: `+OK`, or the refusal. Faktory Enterprise's `-NOTUNIQUE Job not unique` (a
 * unique job whose twin holds the lock) is a `NotUniqueError` naming the job.
 *
 * @example
 * ```ts
 * import { Replies, Resp } from "@effect-faktory/core"
 *
 * Replies.pushed({ jid: "0123456789ab", jobtype: "Sync" })(Resp.errorReply("NOTUNIQUE", "Job not unique")) // Either.left(NotUniqueError)
 * ```
 *
 * @since 0.2.0
 * @category readers
 */
export const pushed = (job: Pushed) => (reply: Resp.Reply): Either.Either<void, ServerError | NotUniqueError | ProtocolError> => {
  if (reply._tag === "SimpleString" && reply.value === "OK") return okValue
  if (reply._tag === "ErrorReply") {
    return Either.left(reply.code === "NOTUNIQUE" ? notUnique(reply.message, job) : serverError("PUSH", reply))
  }
  return Either.left(unexpected("PUSH", reply))
}

/** The errors the replies of the Enterprise commands stand for. */
type EnterpriseError = ServerError | EnterpriseRequiredError | ProtocolError

/**
 * Newer servers say `no such batch <bid>`, older ones `No such batch <bid>` (Rust client,
 * `is_batch_not_found_error`): matched without regard to case.
 */
const noSuchBatch = /^no such batch(\s|$)/i

/** An error reply to a batch command: a missing batch, the open-source refusal, or another refusal. */
const batchError = (command: string, bid: string, reply: Resp.ErrorReply): EnterpriseError | BatchNotFoundError =>
  noSuchBatch.test(reply.message)
    ? new BatchNotFoundError({ bid, command, detail: reply.message })
    : errorFrom(command, reply)

const notFound = (command: string, bid: string, detail: string) => new BatchNotFoundError({ bid, command, detail })

/** A batch id in a simple or bulk string, checked. */
const bidIn = (command: string, value: string): Either.Either<Enterprise.Bid, ProtocolError> =>
  Enterprise.isBid(value)
    ? Either.right(value)
    : Either.left(
      new ProtocolError({ reason: "UnexpectedReply", detail: `unexpected reply to ${command}: ${JSON.stringify(value)} is no batch id` })
    )

/**
 * The reply to `BATCH NEW`: the new batch's id, as a bulk string (Go client `BatchNew`, Rust
 * client `read_bid`; a simple string is taken too). `parent` is the parent the batch was
 * asked for, for the error when the server has no such batch.
 *
 * @example
 * ```ts
 * import { Replies, Resp } from "@effect-faktory/core"
 *
 * Replies.batchCreated(undefined)(Resp.bulkString("b-5pBPzTw5W0lyKA")) // Either.right("b-5pBPzTw5W0lyKA")
 * ```
 *
 * @since 0.2.0
 * @category readers
 */
export const batchCreated = (parent: string | undefined) =>
(reply: Resp.Reply): Either.Either<Enterprise.Bid, EnterpriseError | BatchNotFoundError> => {
  switch (reply._tag) {
    case "BulkString":
    case "SimpleString":
      // `+OK` is no bid: BATCH NEW must say which batch it made.
      return reply.value === "OK" ? Either.left(unexpected("BATCH NEW", reply)) : bidIn("BATCH NEW", reply.value)
    case "ErrorReply":
      return Either.left(
        parent === undefined ? errorFrom("BATCH NEW", reply) : batchError("BATCH NEW", parent, reply)
      )
    case "NullBulk":
      return Either.left(unexpected("BATCH NEW", reply))
  }
}

/**
 * The reply to `BATCH OPEN <bid>`: the bid as a bulk string (Go client `BatchOpen`, Rust client
 * `open_batch`), or `+OK` (the Ruby client ignores the value, so a server may send either),
 * read as the bid asked for. `No such batch` in any case, or a null reply, is a
 * `BatchNotFoundError`.
 *
 * @example
 * ```ts
 * import { Replies, Resp } from "@effect-faktory/core"
 *
 * Replies.batchOpened("b-1")(Resp.simpleString("OK")) // Either.right("b-1")
 * Replies.batchOpened("b-1")(Resp.errorReply("ERR", "no such batch b-1")) // Either.left(BatchNotFoundError)
 * ```
 *
 * @since 0.2.0
 * @category readers
 */
export const batchOpened = (bid: string) =>
(reply: Resp.Reply): Either.Either<Enterprise.Bid, EnterpriseError | BatchNotFoundError> => {
  switch (reply._tag) {
    case "BulkString":
    case "SimpleString":
      return bidIn("BATCH OPEN", reply.value === "OK" ? bid : reply.value)
    case "ErrorReply":
      return Either.left(batchError("BATCH OPEN", bid, reply))
    case "NullBulk":
      return Either.left(notFound("BATCH OPEN", bid, "the server answered with a null reply"))
  }
}

/**
 * The reply to `BATCH COMMIT <bid>`: `+OK`.
 *
 * @example
 * ```ts
 * import { Replies, Resp } from "@effect-faktory/core"
 *
 * Replies.batchCommitted("b-1")(Resp.simpleString("OK")) // Either.right(undefined)
 * ```
 *
 * @since 0.2.0
 * @category readers
 */
export const batchCommitted = (bid: string) =>
(reply: Resp.Reply): Either.Either<void, EnterpriseError | BatchNotFoundError> => {
  if (reply._tag === "SimpleString" && reply.value === "OK") return okValue
  if (reply._tag === "ErrorReply") return Either.left(batchError("BATCH COMMIT", bid, reply))
  return Either.left(unexpected("BATCH COMMIT", reply))
}

const decodeBatchStatus = Schema.decodeUnknownEither(Schema.parseJson(Enterprise.BatchStatus))
const decodeJobStatus = Schema.decodeUnknownEither(Schema.parseJson(Enterprise.JobStatus))

const malformed = (command: string) => (error: ParseError) =>
  new ProtocolError({ reason: "MalformedPayload", detail: `${command} reply: ${JobPayload.formatIssues(error)}` })

/**
 * The reply to `BATCH STATUS <bid>`: JSON decoded with `Enterprise.BatchStatus`. A missing
 * batch (`No such batch`, or a null reply) is a `BatchNotFoundError`.
 *
 * @example
 * ```ts
 * import { Replies, Resp } from "@effect-faktory/core"
 *
 * Replies.batchStatus("b-1")(Resp.bulkString('{"bid":"b-1","total":2,"pending":0,"failed":0,"complete_st":"2","success_st":"2"}'))
 * ```
 *
 * @since 0.2.0
 * @category readers
 */
export const batchStatus = (bid: string) =>
(reply: Resp.Reply): Either.Either<Enterprise.BatchStatus, EnterpriseError | BatchNotFoundError> => {
  switch (reply._tag) {
    case "BulkString":
      return Either.mapLeft(decodeBatchStatus(reply.value), malformed("BATCH STATUS"))
    case "ErrorReply":
      return Either.left(batchError("BATCH STATUS", bid, reply))
    case "NullBulk":
      return Either.left(notFound("BATCH STATUS", bid, "the server answered with a null reply"))
    case "SimpleString":
      return Either.left(unexpected("BATCH STATUS", reply))
  }
}

/**
 * The reply to `TRACK GET <jid>`: JSON decoded with `Enterprise.JobStatus`. A null reply reads
 * as an untracked job (`unknown`), as the server answers for one.
 *
 * @example
 * ```ts
 * import { Replies, Resp } from "@effect-faktory/core"
 *
 * Replies.jobStatus("f7APFzrS2RZi9eaA")(Resp.bulkString('{"jid":"f7APFzrS2RZi9eaA","state":"unknown","updated_at":""}'))
 * ```
 *
 * @since 0.2.0
 * @category readers
 */
export const jobStatus = (jid: string) => (reply: Resp.Reply): Either.Either<Enterprise.JobStatus, EnterpriseError> => {
  switch (reply._tag) {
    case "BulkString":
      return Either.mapLeft(decodeJobStatus(reply.value), malformed("TRACK GET"))
    case "ErrorReply":
      return Either.left(errorFrom("TRACK GET", reply))
    case "NullBulk":
      return Either.right({
        jid,
        state: "unknown",
        percent: Option.none(),
        description: Option.none(),
        updatedAt: Option.none()
      })
    case "SimpleString":
      return Either.left(unexpected("TRACK GET", reply))
  }
}

/**
 * The reply to `TRACK SET {…}`: `+OK`; the open-source refusal is an `EnterpriseRequiredError`.
 *
 * @example
 * ```ts
 * import { Replies, Resp } from "@effect-faktory/core"
 *
 * Replies.trackSet(Resp.errorReply("ERR", "tracking subsystem is only available in Faktory Enterprise")) // Either.left(EnterpriseRequiredError)
 * ```
 *
 * @since 0.2.0
 * @category readers
 */
export const trackSet = (reply: Resp.Reply): Either.Either<void, EnterpriseError> => {
  if (reply._tag === "SimpleString" && reply.value === "OK") return okValue
  if (reply._tag === "ErrorReply") return Either.left(errorFrom("TRACK SET", reply))
  return Either.left(unexpected("TRACK SET", reply))
}
