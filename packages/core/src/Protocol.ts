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
import type { EnterpriseRequiredError, ProtocolError, ServerError } from "./Errors.js"
import { InvalidArgumentError } from "./Errors.js"
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
const pushOk = Replies.ok("PUSH")
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
export const push = (job: PushableJob): Command<void, ReplyError> =>
  command("PUSH", JSON.stringify(withRetry(job)), pushOk)

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
 * Enterprise batch commands. Against open-source Faktory every one of them is refused.
 *
 * @since 0.1.0
 * @category models
 */
export type BatchCommand =
  | { readonly _tag: "New"; readonly batch: Readonly<Record<string, unknown>> }
  | { readonly _tag: "Open"; readonly bid: string }
  | { readonly _tag: "Commit"; readonly bid: string }
  | { readonly _tag: "Status"; readonly bid: string }

/**
 * @example
 * ```ts
 * import { Protocol } from "@effect-faktory/core"
 *
 * Protocol.batch({ _tag: "Status", bid: "b-123" }).line // "BATCH STATUS b-123\r\n"
 * ```
 *
 * @since 0.1.0
 * @category commands
 */
export const batch = (request: BatchCommand): Command<string, ReplyError | EnterpriseRequiredError> => {
  switch (request._tag) {
    case "New":
      return command("BATCH", `NEW ${JSON.stringify(request.batch)}`, batchText)
    case "Open":
      return command("BATCH", `OPEN ${request.bid}`, batchText)
    case "Commit":
      return command("BATCH", `COMMIT ${request.bid}`, batchText)
    case "Status":
      return command("BATCH", `STATUS ${request.bid}`, batchText)
  }
}

const batchText = Replies.text("BATCH")
const trackText = Replies.text("TRACK")

/**
 * Enterprise job tracking: `TRACK GET jid` or `TRACK SET {…}`.
 *
 * @since 0.1.0
 * @category models
 */
export type TrackCommand =
  | { readonly _tag: "Get"; readonly jid: string }
  | { readonly _tag: "Set"; readonly progress: Readonly<Record<string, unknown>> }

/**
 * @example
 * ```ts
 * import { Protocol } from "@effect-faktory/core"
 *
 * Protocol.track({ _tag: "Get", jid: "0123456789ab" }).line // "TRACK GET 0123456789ab\r\n"
 * ```
 *
 * @since 0.1.0
 * @category commands
 */
export const track = (request: TrackCommand): Command<string, ReplyError | EnterpriseRequiredError> =>
  request._tag === "Get"
    ? command("TRACK", `GET ${request.jid}`, trackText)
    : command("TRACK", `SET ${JSON.stringify(request.progress)}`, trackText)
