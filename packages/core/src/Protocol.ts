/**
 * The client's half of the wire format: one line per command, `VERB[ argument]\r\n`, with
 * compact single-line JSON arguments. Each command is a value that knows its reply: it carries
 * its line and the reader (from `Replies`) that turns the server's answer into a value or a
 * typed error, so whoever sends it, the client, the worker or a user's own pipeline, reads
 * the answer the same way. Pure functions, no I/O. Arguments the server would mangle or
 * choke on are refused here with an `InvalidArgumentError`.
 *
 * @since 0.1.0
 */
import * as Either from "effect/Either"
import type * as Option from "effect/Option"
import type * as Enterprise from "./Enterprise.js"
import { parseBid } from "./Enterprise.js"
import type { BatchNotFoundError, EnterpriseRequiredError, NotUniqueError, ProtocolError, ServerError } from "./Errors.js"
import { InvalidArgumentError } from "./Errors.js"
import { describeThrown } from "./internal/shared/describeThrown.js"
import { DEFAULT_RETRY, type Job, type PushableJob } from "./JobPayload.js"
import * as Replies from "./Replies.js"
import type * as Resp from "./Resp.js"
import type * as ServerInfo from "./ServerInfo.js"

/**
 * A command that knows its reply: its verb (for errors and spans), the whole line to write,
 * and `reply`, which reads the server's answer into an `A`, or fails with the typed error `E`
 * that the answer stands for.
 *
 * @since 0.1.0
 * @category models
 */
export interface Command<A = Resp.Reply, E = never> {
  readonly verb: string
  readonly line: string
  readonly reply: (reply: Resp.Reply) => Either.Either<A, E>
}

/**
 * The failures a reply of the open-source server's commands can stand for.
 *
 * @since 0.2.0
 * @category models
 */
export type ReplyError = ServerError | ProtocolError

const text = (verb: string, argument: string | undefined): string =>
  argument === undefined ? `${verb}\r\n` : `${verb} ${argument}\r\n`

// One object built at once, not spread from another: every PUSH and ACK is one of these
// (measured with 50 concurrent pushers: 10.3 KB allocated a push with a spread, 9.6 KB without).
const command = <A, E>(
  verb: string,
  argument: string | undefined,
  reply: (reply: Resp.Reply) => Either.Either<A, E>
): Command<A, E> => ({ verb, line: text(verb, argument), reply })

/**
 * A command from its verb, argument and reader: for a command this module does not know.
 *
 * @example
 * ```ts
 * import { Protocol, Replies } from "@effect-faktory/core"
 *
 * const flush = Protocol.make("FLUSH", undefined, Replies.ok("FLUSH"))
 * ```
 *
 * @since 0.2.0
 * @category constructors
 */
export const make: <A, E>(
  verb: string,
  argument: string | undefined,
  reply: (reply: Resp.Reply) => Either.Either<A, E>
) => Command<A, E> = command

// Readers made once: commands on the hot path share them.
const ackOk = Replies.ok("ACK")
const failOk = Replies.ok("FAIL")
const flushOk = Replies.ok("FLUSH")
const mutateOk = Replies.ok("MUTATE")
const pushBulkRefusals = Replies.json("PUSHB", Replies.RejectedJobs)
const latencies = Replies.json("QUEUE", Replies.Latencies)

/**
 * Who a worker connection is, as its HELLO says. Producers leave it out; a connection with a
 * `wid` must BEAT.
 *
 * @since 0.1.0
 * @category models
 */
export interface WorkerIdentity {
  readonly wid: string
  readonly hostname: string
  readonly pid: number
  readonly labels: ReadonlyArray<string>
}

/**
 * @since 0.1.0
 * @category commands
 */
export const info: Command<ServerInfo.ServerInfo, ReplyError> = command("INFO", undefined, Replies.info)

/**
 * `FLUSH`: deletes every job and queue in the server's storage.
 *
 * @since 0.1.0
 * @category commands
 */
export const flush: Command<void, ReplyError> = command("FLUSH", undefined, flushOk)

/**
 * `PUSH {job}`. Faktory Enterprise refuses a unique job whose twin holds the lock with
 * `-NOTUNIQUE`, read as a `NotUniqueError` naming the job.
 *
 * @example
 * ```ts
 * import { Either } from "effect"
 * import { JobPayload, Protocol } from "@effect-faktory/core"
 *
 * const job = Either.getOrThrow(JobPayload.prepare({ jobtype: "Ping" }))
 * Protocol.push(job).line // 'PUSH {"jobtype":"Ping","jid":"…","args":[],"retry":25,"created_at":"…"}\r\n'
 * ```
 *
 * @since 0.1.0
 * @category commands
 */
export const push = (job: PushableJob): Command<void, ReplyError | NotUniqueError> =>
  command("PUSH", JSON.stringify(withRetry(job)), Replies.pushed(job))

/**
 * @since 0.1.0
 * @category commands
 */
export const pushBulk = (jobs: ReadonlyArray<PushableJob>): Command<Readonly<Record<string, string>>, ReplyError> =>
  command(
    "PUSHB",
    JSON.stringify(jobs.some((job) => job.retry === undefined) ? jobs.map(withRetry) : jobs),
    pushBulkRefusals
  )

/**
 * A job with its retry count stated. `JobPayload.prepare` always sets one; a job built by hand
 * may not, and the server would then give it whatever retry the last job pushed had (see
 * `JobPayload.DEFAULT_RETRY`).
 */
const withRetry = (job: PushableJob): PushableJob =>
  job.retry === undefined ? { ...job, retry: DEFAULT_RETRY } : job

const queueNamePattern = /^[a-zA-Z0-9._-]+$/

const checkQueueNames = (
  verb: string,
  names: ReadonlyArray<string>,
  allowWildcard: boolean
): Either.Either<ReadonlyArray<string>, InvalidArgumentError> => {
  for (const [index, name] of names.entries()) {
    if (allowWildcard && index === 0 && name === "*") continue
    if (!queueNamePattern.test(name)) {
      return Either.left(
        new InvalidArgumentError({
          command: verb,
          detail: `queue name ${JSON.stringify(name)} must match ^[a-zA-Z0-9._-]+$${
            allowWildcard ? " (or be * in first place)" : ""
          }`
        })
      )
    }
  }
  return Either.right(names)
}

/**
 * `FETCH q1 q2 …`: queues in strict priority order. At least one queue is required.
 *
 * @example
 * ```ts
 * import { Protocol } from "@effect-faktory/core"
 *
 * Protocol.fetch(["critical", "default"]) // Either.right({ verb: "FETCH", line: "FETCH critical default\r\n" })
 * ```
 *
 * @since 0.1.0
 * @category commands
 */
export const fetch = (
  queues: ReadonlyArray<string>
): Either.Either<Command<Option.Option<Job>, ReplyError>, InvalidArgumentError> => {
  if (queues.length === 0) {
    return Either.left(new InvalidArgumentError({ command: "FETCH", detail: "at least one queue is required" }))
  }
  return Either.map(checkQueueNames("FETCH", queues, false), (names) => command("FETCH", names.join(" "), Replies.fetched))
}

/**
 * @since 0.1.0
 * @category commands
 */
export const ack = (jid: string): Command<void, ReplyError> =>
  // The server's jids need no JSON escaping; any other is escaped as JSON.stringify would.
  command("ACK", plainJid.test(jid) ? `{"jid":"${jid}"}` : JSON.stringify({ jid }), ackOk)

/** Characters JSON writes as they are: a jid of only these needs no escaping. */
const plainJid = /^[A-Za-z0-9_.:-]*$/

/**
 * What FAIL reports about a failed job.
 *
 * @since 0.1.0
 * @category models
 */
export interface Failure {
  readonly jid: string
  readonly errtype: string
  readonly message: string
  readonly backtrace?: ReadonlyArray<string> | undefined
}

/**
 * The server keeps at most this many bytes of `errtype`.
 *
 * @since 0.1.0
 * @category constants
 */
export const MAX_ERRTYPE_BYTES = 100

/**
 * The server keeps at most this many bytes of a failure `message`.
 *
 * @since 0.1.0
 * @category constants
 */
export const MAX_MESSAGE_BYTES = 1000

/**
 * The server keeps at most this many backtrace lines.
 *
 * @since 0.1.0
 * @category constants
 */
export const MAX_BACKTRACE_LINES = 50

/**
 * Each backtrace line is cut to this many bytes. The server keeps lines whole, so without a
 * bound one line (often the error's own message, repeated) could make a FAIL as large as
 * the message it was meant to cut.
 *
 * @since 0.1.0
 * @category constants
 */
export const MAX_BACKTRACE_LINE_BYTES = 1000

const utf8 = new TextEncoder()
const utf8Decoder = new TextDecoder()

/**
 * Cuts a string to at most `maxBytes` of UTF-8 without splitting a character (the server
 * cuts bytes blindly and leaves U+FFFD behind).
 *
 * @example
 * ```ts
 * import { Protocol } from "@effect-faktory/core"
 *
 * Protocol.truncateUtf8("héllo", 2) // "h"
 * ```
 *
 * @since 0.1.0
 * @category encoding
 */
export const truncateUtf8 = (text: string, maxBytes: number): string => {
  // A UTF-16 code unit is at most 3 UTF-8 bytes, so short strings need no encoding.
  if (text.length * 3 <= maxBytes) return text
  const bytes = utf8.encode(text)
  if (bytes.byteLength <= maxBytes) return text
  let end = maxBytes
  // Step back over continuation bytes (10xxxxxx) to a character boundary.
  while (end > 0 && (bytes[end]! & 0xc0) === 0x80) end--
  return utf8Decoder.decode(bytes.subarray(0, end))
}

/**
 * `FAIL {…}`, with `errtype`, `message` and `backtrace` cut to what the server keeps, and
 * each backtrace line to `MAX_BACKTRACE_LINE_BYTES`.
 *
 * @example
 * ```ts
 * import { Protocol } from "@effect-faktory/core"
 *
 * Protocol.fail({ jid: "0123456789ab", errtype: "TypeError", message: "boom", backtrace: ["at f (a.ts:1)"] })
 * ```
 *
 * @since 0.1.0
 * @category commands
 */
export const fail = (failure: Failure): Command<void, ReplyError> =>
  command(
    "FAIL",
    JSON.stringify({
      jid: failure.jid,
      errtype: truncateUtf8(failure.errtype, MAX_ERRTYPE_BYTES),
      message: truncateUtf8(failure.message, MAX_MESSAGE_BYTES),
      backtrace: (failure.backtrace ?? []).slice(0, MAX_BACKTRACE_LINES).map((line) =>
        truncateUtf8(line, MAX_BACKTRACE_LINE_BYTES)
      )
    }),
    failOk
  )

/**
 * What a heartbeat carries.
 *
 * @since 0.1.0
 * @category models
 */
export interface Beat {
  readonly wid: string
  /** The state the worker has moved to on its own; the server only moves state forward. */
  readonly currentState?: Replies.BeatState | undefined
  /** Resident memory in kilobytes, shown on the Web UI's Busy page. */
  readonly rssKb?: number | undefined
}

/**
 * @example
 * ```ts
 * import { Protocol } from "@effect-faktory/core"
 *
 * Protocol.beat({ wid: "w1", currentState: "quiet", rssKb: 51200 }).line
 * // 'BEAT {"wid":"w1","current_state":"quiet","rss_kb":51200}\r\n'
 * ```
 *
 * @since 0.1.0
 * @category commands
 */
export const beat = (payload: Beat): Command<Replies.BeatState, ReplyError> =>
  command(
    "BEAT",
    JSON.stringify({
      wid: payload.wid,
      ...(payload.currentState === undefined || payload.currentState === "running"
        ? {}
        : { current_state: payload.currentState }),
      ...(payload.rssKb === undefined ? {} : { rss_kb: Math.round(payload.rssKb) })
    }),
    Replies.beat
  )

/**
 * A MUTATE operation on one of the server's sorted sets.
 *
 * - `clear` empties the set (the filter is ignored);
 * - `discard` deletes the matching jobs;
 * - `kill` moves them to the dead set;
 * - `requeue` pushes them back onto their queues.
 *
 * A filter selects by `jids` alone, or by `jobtype` (matched exactly), `pattern` or both (a job
 * must then match both): the server ignores jids given with either. A filter with nothing in
 * it, or an empty value, is refused: the server would take it to mean every job.
 *
 * @since 0.1.0
 * @category models
 */
export interface Mutation {
  readonly cmd: "clear" | "kill" | "discard" | "requeue"
  readonly target: "retries" | "dead" | "scheduled"
  readonly filter?: {
    /** The jobtype, matched exactly. */
    readonly jobtype?: string | undefined
    readonly jids?: ReadonlyArray<string> | undefined
    /** A Redis glob (not a regex) over the job's JSON, such as `*"queue":"mail"*`; a space in it is a space. */
    readonly pattern?: string | undefined
  } | undefined
}

const refuseMutation = (detail: string) => Either.left(new InvalidArgumentError({ command: "MUTATE", detail }))

/**
 * `MUTATE {…}`. The server splits the line on spaces and wants exactly two parts, so every
 * space in the JSON, which can only be inside a string (a jobtype, a jid, a pattern), is sent
 * as the escape `\u0020`: the split does not see it, and the server's JSON decoder turns it back
 * into a space. A pattern with a space matches that space exactly.
 *
 * The server matches a jobtype given alone as part of a Redis glob, where `*`, `?` and `[`
 * would match other jobtypes; given with a pattern, it compares the jobtype exactly. So a
 * jobtype alone goes with the pattern `*` (every job), and matches exactly.
 *
 * @example
 * ```ts
 * import { Protocol } from "@effect-faktory/core"
 *
 * Protocol.mutate({ cmd: "kill", target: "retries", filter: { jobtype: "SendEmail" } })
 * ```
 *
 * @since 0.1.0
 * @category commands
 */
export const mutate = (mutation: Mutation): Either.Either<Command<void, ReplyError>, InvalidArgumentError> => {
  const filter = mutation.cmd === "clear" ? undefined : mutation.filter
  if (filter !== undefined) {
    const { jids, jobtype, pattern } = filter
    if (jobtype === undefined && jids === undefined && pattern === undefined) {
      return refuseMutation(`the filter selects nothing, which the server reads as every job: give jids, a jobtype or a pattern, or use cmd "clear"`)
    }
    if (jobtype === "") return refuseMutation(`an empty jobtype would select every job`)
    if (pattern === "") return refuseMutation(`an empty pattern would select every job`)
    if (jids !== undefined && jids.length === 0) return refuseMutation(`an empty list of jids would select every job`)
    if (jids !== undefined && (jobtype !== undefined || pattern !== undefined)) {
      return refuseMutation(`the server ignores jids given with a jobtype or a pattern: filter by jids alone`)
    }
  }
  const wire = {
    cmd: mutation.cmd,
    target: mutation.target,
    ...(filter === undefined
      ? {}
      : {
        filter: {
          ...(filter.jobtype === undefined ? {} : { jobtype: filter.jobtype }),
          ...(filter.jids === undefined ? {} : { jids: filter.jids }),
          ...(filter.pattern === undefined
            ? filter.jobtype === undefined ? {} : { regexp: "*" }
            : { regexp: filter.pattern })
        }
      })
  }
  // JSON.stringify writes no space outside strings, and no escape holds one.
  const json = JSON.stringify(wire).replace(/ /g, "\\u0020")
  return Either.right(command("MUTATE", json, mutateOk))
}

/**
 * A QUEUE subcommand that changes queues.
 *
 * @since 0.1.0
 * @category models
 */
export type QueueAction = "PAUSE" | "RESUME" | "REMOVE"

/**
 * `QUEUE PAUSE|RESUME|REMOVE names…`; `*` in first place means every queue.
 *
 * @example
 * ```ts
 * import { Protocol } from "@effect-faktory/core"
 *
 * Protocol.queue("PAUSE", ["mail"]) // Either.right({ verb: "QUEUE", line: "QUEUE PAUSE mail\r\n" })
 * ```
 *
 * @since 0.1.0
 * @category commands
 */
export const queue = (
  action: QueueAction,
  names: ReadonlyArray<string>
): Either.Either<Command<void, ReplyError>, InvalidArgumentError> =>
  Either.map(checkQueueNames(`QUEUE ${action}`, names, true), (checked) =>
    command("QUEUE", `${action} ${checked.join(" ")}`, Replies.ok(`QUEUE ${action}`)))

/**
 * `QUEUE LATENCY names…`: seconds since the oldest job in each queue was enqueued.
 *
 * @since 0.1.0
 * @category commands
 */
export const queueLatency = (
  names: ReadonlyArray<string>
): Either.Either<Command<Readonly<Record<string, number>>, ReplyError>, InvalidArgumentError> =>
  Either.map(checkQueueNames("QUEUE LATENCY", names, false), (checked) =>
    command("QUEUE", `LATENCY ${checked.join(" ")}`, latencies))

/**
 * The failures a reply of an Enterprise command can stand for: those of any command, and the
 * open-source server's refusal (`EnterpriseRequiredError`).
 *
 * @since 0.2.0
 * @category models
 */
export type EnterpriseReplyError = ReplyError | EnterpriseRequiredError

/**
 * A batch to create with `BATCH NEW`: its callback jobs (at least one), already checked
 * (`JobPayload.prepare`), a description for the Web UI, and the batch it is a child of.
 *
 * @since 0.2.0
 * @category models
 */
export interface NewBatch {
  readonly description?: string | undefined
  /** The parent batch: this batch's callbacks fire before the parent's, which waits for it. */
  readonly parentBid?: string | undefined
  /** Enqueued once every job of the batch has succeeded. */
  readonly success?: PushableJob | undefined
  /** Enqueued once every job of the batch has run, succeeded or failed. */
  readonly complete?: PushableJob | undefined
}

/**
 * `BATCH NEW {…}`: creates a batch; its reply is the new batch's id. Refused here, with nothing
 * to send, when the batch has no callback (the server requires one), its parent is no batch
 * id, or a callback cannot be written as JSON.
 *
 * @example
 * ```ts
 * import { Either } from "effect"
 * import { JobPayload, Protocol } from "@effect-faktory/core"
 *
 * const success = Either.getOrThrow(JobPayload.prepare({ jobtype: "AlbumReady", args: [42] }))
 * Protocol.batchNew({ description: "album 42", success }) // Either.right(command)
 * Protocol.batchNew({ description: "no callback" }) // Either.left(InvalidArgumentError)
 * ```
 *
 * @since 0.2.0
 * @category commands
 */
export const batchNew = (
  batch: NewBatch
): Either.Either<Command<Enterprise.Bid, EnterpriseReplyError | BatchNotFoundError>, InvalidArgumentError> => {
  const refused = (detail: string) => Either.left(new InvalidArgumentError({ command: "BATCH NEW", detail }))
  if (batch.success === undefined && batch.complete === undefined) {
    return refused("a batch needs a success or a complete callback job (or both); the server refuses one with neither")
  }
  if (batch.description !== undefined && typeof batch.description !== "string") {
    return refused(`the description must be a string, not ${typeof batch.description}`)
  }
  let parent: Enterprise.Bid | undefined = undefined
  if (batch.parentBid !== undefined) {
    const checked = parseBid("BATCH NEW", batch.parentBid)
    if (Either.isLeft(checked)) return refused(`parent: ${checked.left.detail}`)
    parent = checked.right
  }
  let json: string
  try {
    json = JSON.stringify({
      ...(batch.description === undefined ? {} : { description: batch.description }),
      ...(parent === undefined ? {} : { parent_bid: parent }),
      ...(batch.success === undefined ? {} : { success: withRetry(batch.success) }),
      ...(batch.complete === undefined ? {} : { complete: withRetry(batch.complete) })
    })
  } catch (error) {
    return refused(`writing the callbacks as JSON threw ${describeThrown(error)}`)
  }
  return Either.right(command("BATCH", `NEW ${json}`, Replies.batchCreated(parent)))
}

/**
 * `BATCH OPEN <bid>`: reopens a batch to add jobs (or child batches) to it, until `BATCH
 * COMMIT`. Its reply is the bid (or `+OK`); a batch the server does not know is a
 * `BatchNotFoundError`.
 *
 * @example
 * ```ts
 * import { Protocol } from "@effect-faktory/core"
 *
 * Protocol.batchOpen("b-5pBPzTw5W0lyKA") // Either.right({ verb: "BATCH", line: "BATCH OPEN b-5pBPzTw5W0lyKA\r\n" })
 * Protocol.batchOpen("b-1\r\nFLUSH") // Either.left(InvalidArgumentError)
 * ```
 *
 * @since 0.2.0
 * @category commands
 */
export const batchOpen = (
  bid: string
): Either.Either<Command<Enterprise.Bid, EnterpriseReplyError | BatchNotFoundError>, InvalidArgumentError> =>
  Either.map(parseBid("BATCH OPEN", bid), (checked) => command("BATCH", `OPEN ${checked}`, Replies.batchOpened(checked)))

/**
 * `BATCH COMMIT <bid>`: the batch's jobs are all pushed; its callbacks may fire once they are
 * done. A batch never committed expires after 30 minutes, its callbacks never enqueued.
 *
 * @example
 * ```ts
 * import { Protocol } from "@effect-faktory/core"
 *
 * Protocol.batchCommit("b-5pBPzTw5W0lyKA") // Either.right({ verb: "BATCH", line: "BATCH COMMIT b-5pBPzTw5W0lyKA\r\n" })
 * ```
 *
 * @since 0.2.0
 * @category commands
 */
export const batchCommit = (
  bid: string
): Either.Either<Command<void, EnterpriseReplyError | BatchNotFoundError>, InvalidArgumentError> =>
  Either.map(parseBid("BATCH COMMIT", bid), (checked) => command("BATCH", `COMMIT ${checked}`, Replies.batchCommitted(checked)))

/**
 * `BATCH STATUS <bid>`: the batch's counts and callback states, decoded
 * (`Enterprise.BatchStatus`).
 *
 * @example
 * ```ts
 * import { Protocol } from "@effect-faktory/core"
 *
 * Protocol.batchStatus("b-5pBPzTw5W0lyKA") // Either.right({ verb: "BATCH", line: "BATCH STATUS b-5pBPzTw5W0lyKA\r\n" })
 * ```
 *
 * @since 0.2.0
 * @category commands
 */
export const batchStatus = (
  bid: string
): Either.Either<Command<Enterprise.BatchStatus, EnterpriseReplyError | BatchNotFoundError>, InvalidArgumentError> =>
  Either.map(parseBid("BATCH STATUS", bid), (checked) => command("BATCH", `STATUS ${checked}`, Replies.batchStatus(checked)))

/** A jid that can end a command line: no space, line break or other control character. */
const lineJid = /^[^\s\p{Cc}]+$/u

/**
 * `TRACK GET <jid>`: a job's tracking state, decoded (`Enterprise.JobStatus`). A job pushed
 * without tracking reads as `unknown`.
 *
 * @example
 * ```ts
 * import { Protocol } from "@effect-faktory/core"
 *
 * Protocol.trackGet("f7APFzrS2RZi9eaA") // Either.right({ verb: "TRACK", line: "TRACK GET f7APFzrS2RZi9eaA\r\n" })
 * ```
 *
 * @since 0.2.0
 * @category commands
 */
export const trackGet = (
  jid: string
): Either.Either<Command<Enterprise.JobStatus, EnterpriseReplyError>, InvalidArgumentError> =>
  typeof jid === "string" && lineJid.test(jid)
    ? Either.right(command("TRACK", `GET ${jid}`, Replies.jobStatus(jid)))
    : Either.left(
      new InvalidArgumentError({
        command: "TRACK GET",
        detail: typeof jid === "string"
          ? `jid ${JSON.stringify(jid.slice(0, 40))} cannot be sent: a jid here must be one word, with no space, line break or control character`
          : `the jid must be a string, not ${jid === null ? "null" : typeof jid}`
      })
    )

/**
 * What `TRACK SET` reports about a job. Every field but `jid` is optional.
 *
 * @since 0.2.0
 * @category models
 */
export interface TrackUpdate {
  readonly jid: string
  /** How far the job is, 0 to 100; a fraction is cut to a whole number (the server keeps whole numbers; 99.6 is 99). */
  readonly percent?: number | undefined
  /** What the job is doing, for whoever reads its status. */
  readonly description?: string | undefined
  /**
   * Extends the running job's reservation until then: later than now and at most
   * `MAX_RESERVATION_EXTENSION` (24 h) ahead. The server never shortens a reservation.
   */
  readonly reserveUntil?: Date | undefined
}

/**
 * How far ahead `TRACK SET` may extend a reservation: 24 hours, as the server allows.
 *
 * @since 0.2.0
 * @category constants
 */
export const MAX_RESERVATION_EXTENSION_MILLIS = 24 * 60 * 60 * 1000

/**
 * `TRACK SET {…}`: reports a job's progress (`percent`, `desc`) and extends its reservation
 * (`reserve_until`, RFC 3339). Refused here, with nothing sent, for a percent outside 0–100,
 * a reservation end that is past (at `now`) or more than 24 h ahead, or an empty jid.
 *
 * @example
 * ```ts
 * import { Protocol } from "@effect-faktory/core"
 *
 * Protocol.trackSet({ jid: "f7APFzrS2RZi9eaA", percent: 40, description: "resizing" })
 * // Either.right({ verb: "TRACK", line: 'TRACK SET {"jid":"f7APFzrS2RZi9eaA","percent":40,"desc":"resizing"}\r\n' })
 * Protocol.trackSet({ jid: "f7APFzrS2RZi9eaA", percent: 140 }) // Either.left(InvalidArgumentError)
 * ```
 *
 * @since 0.2.0
 * @category commands
 */
export const trackSet = (
  update: TrackUpdate,
  now: Date = new Date()
): Either.Either<Command<void, EnterpriseReplyError>, InvalidArgumentError> => {
  const refused = (detail: string) => Either.left(new InvalidArgumentError({ command: "TRACK SET", detail }))
  const { description, jid, percent, reserveUntil } = update
  if (typeof jid !== "string" || jid === "") return refused("a jid is required: tracking is kept per job")
  if (percent !== undefined && (typeof percent !== "number" || !(percent >= 0 && percent <= 100))) {
    return refused(
      `percent must be a number from 0 to 100, not ${typeof percent === "number" ? String(percent) : `${JSON.stringify(percent) ?? String(percent)} (a ${typeof percent})`}`
    )
  }
  if (description !== undefined && typeof description !== "string") {
    return refused(`the description must be a string, not ${typeof description}`)
  }
  let until: string | undefined = undefined
  if (reserveUntil !== undefined) {
    const time = reserveUntil instanceof Date ? reserveUntil.getTime() : Number.NaN
    if (Number.isNaN(time)) return refused("reserveUntil must be a valid Date")
    if (time <= now.getTime()) {
      return refused(`reserveUntil ${reserveUntil.toISOString()} is not in the future (now is ${now.toISOString()})`)
    }
    if (time > now.getTime() + MAX_RESERVATION_EXTENSION_MILLIS) {
      return refused(`reserveUntil ${reserveUntil.toISOString()} is more than 24 hours ahead: the server extends a reservation by at most 24 h`)
    }
    until = reserveUntil.toISOString()
  }
  const json = JSON.stringify({
    jid,
    // Whole percents, cut as Ruby's client cuts them: a job at 99.6% is not yet at 100.
    ...(percent === undefined ? {} : { percent: Math.floor(percent) }),
    ...(description === undefined ? {} : { desc: description }),
    ...(until === undefined ? {} : { reserve_until: until })
  })
  return Either.right(command("TRACK", `SET ${json}`, Replies.trackSet))
}
