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
import * as Schema from "effect/Schema"
import { EnterpriseRequiredError, ProtocolError, ServerError } from "./Errors.js"
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
    ? new EnterpriseRequiredError({ feature: verb.toLowerCase(), detail: reply.message })
    : new ServerError({ command: verb, code: reply.code, detail: reply.message })

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
 * @since 0.4.0
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
 * A text reply (the Enterprise BATCH and TRACK commands): a simple or bulk string, or an empty
 * string for a null one; an error reply saying the feature is Enterprise-only becomes
 * `EnterpriseRequiredError`.
 *
 * @example
 * ```ts
 * import { Replies, Resp } from "@effect-faktory/core"
 *
 * Replies.text("TRACK")(Resp.bulkString("{}")) // Either.right("{}")
 * ```
 *
 * @since 0.2.0
 * @category readers
 */
export const text = (verb: string) =>
(reply: Resp.Reply): Either.Either<string, ServerError | EnterpriseRequiredError | ProtocolError> => {
  switch (reply._tag) {
    case "SimpleString":
    case "BulkString":
      return Either.right(reply.value)
    case "NullBulk":
      return Either.right("")
    case "ErrorReply":
      return Either.left(errorFrom(verb, reply))
  }
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

/**
 * A job refused inside a PUSHB, as the error a PUSH of it alone would have failed with.
 *
 * @example
 * ```ts
 * import { Replies } from "@effect-faktory/core"
 *
 * Replies.pushRefusal("NOTUNIQUE Job not unique").code // "NOTUNIQUE"
 * ```
 *
 * @since 0.2.0
 * @category errors
 */
export const pushRefusal = (reason: string): ServerError => {
  const coded = codedReason.exec(reason)
  return coded === null
    ? new ServerError({ command: "PUSH", code: "ERR", detail: reason })
    : new ServerError({ command: "PUSH", code: coded[1]!, detail: coded[2]! })
}
