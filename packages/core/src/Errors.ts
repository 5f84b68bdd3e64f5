/**
 * The errors a Faktory client can fail with. Each is a `Schema.TaggedError`, so it can be
 * matched with `Effect.catchTag`, serialised, and carried across process boundaries.
 *
 * None of them ever contains a password: addresses are printed as `host:port`.
 *
 * @since 0.1.0
 */
import * as Schema from "effect/Schema"

/**
 * Why a connection could not be opened or was lost.
 *
 * - `Refused`: nothing listens on the address.
 * - `Dns`: the host name does not resolve.
 * - `Timeout`: the TCP connect, the handshake or a reply took longer than its deadline.
 * - `Closed`: the server closed the connection (shutdown, restart, or a malformed command).
 * - `Tls`: the TLS handshake failed (untrusted certificate, plaintext server, wrong name).
 * - `TooManyConnections`: the server is at its connection limit.
 * - `Unknown`: any other socket failure; see `cause`.
 *
 * @since 0.1.0
 * @category models
 */
export const ConnectionErrorReason = Schema.Literal(
  "Refused",
  "Dns",
  "Timeout",
  "Closed",
  "Tls",
  "TooManyConnections",
  "Unknown"
)

/**
 * @since 0.1.0
 * @category models
 */
export type ConnectionErrorReason = typeof ConnectionErrorReason.Type

/**
 * The server could not be reached, or the connection broke.
 *
 * A command that fails with `Closed` or `Timeout` after it was written may or may not have
 * been carried out by the server.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { ConnectionError, push } from "@effect-faktory/core"
 *
 * push({ jobtype: "Ping", args: [] }).pipe(
 *   Effect.catchTag("ConnectionError", (e) => Effect.logWarning(`Faktory is down: ${e.message}`))
 * )
 * ```
 *
 * @since 0.1.0
 * @category errors
 */
export class ConnectionError extends Schema.TaggedError<ConnectionError>()("ConnectionError", {
  reason: ConnectionErrorReason,
  address: Schema.String,
  detail: Schema.String,
  cause: Schema.optional(Schema.Defect)
}) {
  override get message(): string {
    return `${this.reason}: ${this.detail} (${this.address})`
  }
}

/**
 * The server refused the password, or asked for one and none was configured.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { push } from "@effect-faktory/core"
 *
 * push({ jobtype: "Ping", args: [] }).pipe(
 *   Effect.catchTag("AuthenticationError", (e) => Effect.die(`check FAKTORY_URL: ${e.message}`))
 * )
 * ```
 *
 * @since 0.1.0
 * @category errors
 */
export class AuthenticationError extends Schema.TaggedError<AuthenticationError>()("AuthenticationError", {
  address: Schema.String,
  detail: Schema.String
}) {
  override get message(): string {
    return `${this.detail} (${this.address})`
  }
}

/**
 * What was wrong with bytes or a reply the server sent.
 *
 * @since 0.1.0
 * @category models
 */
export const ProtocolErrorReason = Schema.Literal(
  "UnexpectedByte",
  "UnsupportedType",
  "InvalidLength",
  "MissingTerminator",
  "LineTooLong",
  "BulkTooLarge",
  "UnexpectedReply",
  "MalformedPayload"
)

/**
 * @since 0.1.0
 * @category models
 */
export type ProtocolErrorReason = typeof ProtocolErrorReason.Type

/**
 * The server sent something this client cannot understand: malformed RESP framing, a reply
 * of the wrong shape for the command, or JSON that does not match its schema. The connection
 * it happened on is dropped.
 *
 * @example
 * ```ts
 * import { ProtocolError } from "@effect-faktory/core"
 *
 * const error = new ProtocolError({ reason: "UnexpectedByte", detail: "reply starts with '!'" })
 * console.log(error.message) // "UnexpectedByte: reply starts with '!'"
 * ```
 *
 * @since 0.1.0
 * @category errors
 */
export class ProtocolError extends Schema.TaggedError<ProtocolError>()("ProtocolError", {
  reason: ProtocolErrorReason,
  detail: Schema.String,
  /** The server's `host:port`, once known (a reply reader alone does not know it). */
  address: Schema.optional(Schema.String),
  /**
   * The jid of a fetched job that does not decode, when it can be read: such a job can still
   * be FAILed, rather than left to wait out its reservation.
   */
  jid: Schema.optional(Schema.String)
}) {
  override get message(): string {
    return `${this.reason}: ${this.detail}${this.address === undefined ? "" : ` (${this.address})`}`
  }

  /** The same error, saying which server sent what it could not understand. */
  at(address: string): ProtocolError {
    return this.address !== undefined
      ? this
      : new ProtocolError({ reason: this.reason, detail: this.detail, address, ...(this.jid === undefined ? {} : { jid: this.jid }) })
  }
}

/**
 * The server answered a command with an error reply (`-CODE message`). Open-source Faktory
 * always uses the code `ERR`; Enterprise middleware adds others such as `NOTUNIQUE`.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { fail } from "@effect-faktory/core"
 *
 * fail({ jid: "not-reserved", errtype: "Boom", message: "x" }).pipe(
 *   Effect.catchTag("ServerError", (e) => Effect.log(e.code, e.detail))
 * )
 * ```
 *
 * @since 0.1.0
 * @category errors
 */
export class ServerError extends Schema.TaggedError<ServerError>()("ServerError", {
  command: Schema.String,
  code: Schema.String,
  detail: Schema.String
}) {
  override get message(): string {
    return `${this.command} failed: ${this.code} ${this.detail}`
  }
}

/**
 * The command exists only in Faktory Enterprise (batches, job tracking) and the server is the
 * open-source edition, which refuses it (`batch subsystem is only available in Faktory
 * Enterprise`). `feature` names what was asked for; `detail` is the server's text, and what
 * the refusal means for the caller. (The unique, expiring and tracked options of a job are no
 * commands: open-source Faktory ignores them silently, with no error to report.)
 *
 * @example
 * ```ts
 * import { EnterpriseRequiredError } from "@effect-faktory/core"
 *
 * const error = new EnterpriseRequiredError({ feature: "batch", detail: "batch subsystem is only available in Faktory Enterprise" })
 * console.log(error.message)
 * ```
 *
 * @since 0.1.0
 * @category errors
 */
export class EnterpriseRequiredError extends Schema.TaggedError<EnterpriseRequiredError>()(
  "EnterpriseRequiredError",
  {
    feature: Schema.String,
    detail: Schema.String
  }
) {
  override get message(): string {
    return `${this.feature} needs Faktory Enterprise: ${this.detail}`
  }
}

/**
 * Faktory Enterprise refused a unique job: another job with the same jobtype, arguments and
 * queue holds the unique lock (the server's `NOTUNIQUE` code). The job was not enqueued; its
 * twin is already queued, scheduled, running or waiting for a retry. Not a failure to retry:
 * a producer that only wants the job done once can treat it as done.
 *
 * `push` fails with it; `pushBulk` lists such jobs in `notUnique`, apart from real refusals.
 *
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import { Job } from "@effect-faktory/core"
 *
 * const SyncAddress = Job.define("SyncAddress", { args: Schema.Tuple(Schema.Number), unique: { for: "10 minutes" } })
 *
 * const enqueue = SyncAddress.push([42]).pipe(
 *   Effect.catchTag("NotUniqueError", (e) => Effect.log(`already queued: ${e.message}`))
 * )
 * ```
 *
 * @since 0.2.0
 * @category errors
 */
export class NotUniqueError extends Schema.TaggedError<NotUniqueError>()("NotUniqueError", {
  jobtype: Schema.optional(Schema.String),
  jid: Schema.optional(Schema.String),
  /** What the server said after its code, such as `Job not unique`. */
  detail: Schema.String
}) {
  override get message(): string {
    const subject = this.jobtype === undefined ? "job" : `job ${this.jobtype}`
    return `${subject}${this.jid === undefined ? "" : ` (${this.jid})`} is not unique: a job with its jobtype, ` +
      `arguments and queue holds the unique lock, so it was not enqueued (${this.detail === "" ? "NOTUNIQUE" : this.detail})`
  }
}

/**
 * Faktory Enterprise has no batch with this bid: it never existed, it expired (an uncommitted
 * batch after 30 minutes), or it was finished and cleaned up. The server's text (`No such
 * batch …`, lower-case in newer servers) is in `detail`.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Batch } from "@effect-faktory/core"
 *
 * const status = Batch.status("b-gone").pipe(
 *   Effect.catchTag("BatchNotFoundError", (e) => Effect.log(e.message))
 * )
 * ```
 *
 * @since 0.2.0
 * @category errors
 */
export class BatchNotFoundError extends Schema.TaggedError<BatchNotFoundError>()("BatchNotFoundError", {
  bid: Schema.String,
  /** The command that found no batch: `BATCH OPEN`, `BATCH COMMIT`, `BATCH STATUS` or `BATCH NEW` (its parent). */
  command: Schema.String,
  detail: Schema.String
}) {
  override get message(): string {
    return `${this.command}: no batch ${this.bid} on the server (${this.detail}); an uncommitted batch expires after 30 minutes`
  }
}

/**
 * A job was rejected before anything was sent: missing or malformed fields, arguments that
 * are not JSON, or a value that fails its job definition's schema.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { push } from "@effect-faktory/core"
 *
 * push({ jobtype: "", args: [] }).pipe(
 *   Effect.catchTag("JobValidationError", (e) => Effect.log(e.message))
 * )
 * ```
 *
 * @since 0.1.0
 * @category errors
 */
export class JobValidationError extends Schema.TaggedError<JobValidationError>()("JobValidationError", {
  jobtype: Schema.optional(Schema.String),
  jid: Schema.optional(Schema.String),
  detail: Schema.String
}) {
  override get message(): string {
    const subject = this.jobtype === undefined ? "job" : `job ${this.jobtype}`
    return `${subject}${this.jid === undefined ? "" : ` (${this.jid})`} is invalid: ${this.detail}`
  }
}

/**
 * An argument to a non-job command cannot be sent as given: an empty queue list, a queue
 * name the server would reject, a filter the wire format cannot carry.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { fetch } from "@effect-faktory/core"
 *
 * fetch([]).pipe(Effect.catchTag("InvalidArgumentError", (e) => Effect.log(e.message)))
 * ```
 *
 * @since 0.1.0
 * @category errors
 */
export class InvalidArgumentError extends Schema.TaggedError<InvalidArgumentError>()("InvalidArgumentError", {
  command: Schema.String,
  detail: Schema.String
}) {
  override get message(): string {
    return `${this.command}: ${this.detail}`
  }
}

/**
 * Two worker pools built together (in one layer graph: `Layer.mergeAll`, one
 * `Effect.provide`, one `ManagedRuntime`) claim the same thing, which is refused when the
 * second one starts, before it reaches the server:
 *
 * - `queue`: both fetch from `value`, and not both list it in `sharedQueues` (a queue
 *   belongs to one pool, so that its concurrency is that pool's);
 * - `name`: both are named `value` (the `pool` option; by default a pool is named after its
 *   queues), which their metrics and log lines would then mix;
 * - `wid`: both have the worker id `value`, which the server would take for one worker.
 *
 * @example
 * ```ts
 * import { PoolConflictError } from "@effect-faktory/core"
 *
 * new PoolConflictError({ conflict: "queue", value: "mail", pool: "bulk", otherPool: "mail" }).message
 * // pools "mail" and "bulk" both fetch from queue "mail": …
 * ```
 *
 * @since 0.2.0
 * @category errors
 */
export class PoolConflictError extends Schema.TaggedError<PoolConflictError>()("PoolConflictError", {
  conflict: Schema.Literal("queue", "name", "wid"),
  /** The queue, pool name or wid both claim. */
  value: Schema.String,
  /** The pool refused: the one starting second. */
  pool: Schema.String,
  /** The pool that claimed `value` first. */
  otherPool: Schema.String
}) {
  override get message(): string {
    const value = JSON.stringify(this.value)
    switch (this.conflict) {
      case "queue":
        return `pools ${JSON.stringify(this.otherPool)} and ${JSON.stringify(this.pool)} both fetch from queue ${value}: ` +
          "a queue belongs to one pool of a process (its concurrency is that pool's); " +
          `to share it on purpose, give both pools sharedQueues: [${value}]`
      case "name":
        return `two pools are named ${value}: give each a name of its own (the pool option), ` +
          "so that their metrics and log lines can be told apart"
      case "wid":
        return `pools ${JSON.stringify(this.otherPool)} and ${JSON.stringify(this.pool)} have the same wid ${value}: ` +
          "the server would take them for one worker; leave wid out (each pool gets a random one) or give each its own"
    }
  }
}

/**
 * A Faktory URL (from options, `FAKTORY_URL` or the variable `FAKTORY_PROVIDER` names)
 * cannot be used. `url` is the text as `FaktoryUrl.redact` shows it: `<redacted>` wherever a
 * password may be, so no rendering of the error repeats one.
 *
 * @example
 * ```ts
 * import { FaktoryUrl } from "@effect-faktory/core"
 * import { Either } from "effect"
 *
 * const result = FaktoryUrl.parse("http://localhost:7419")
 * if (Either.isLeft(result)) console.log(result.left.message)
 * ```
 *
 * @since 0.1.0
 * @category errors
 */
export class InvalidUrlError extends Schema.TaggedError<InvalidUrlError>()("InvalidUrlError", {
  url: Schema.String,
  detail: Schema.String
}) {
  override get message(): string {
    return `invalid Faktory URL ${this.url}: ${this.detail}`
  }
}

/**
 * A module-level command (`push`, `info`, …) found no `Client` in context and no platform
 * to build the default client on. Core is platform-free: the platform package registers
 * itself when it is imported, and nothing loads it behind the application's back (a computed
 * `import()` is invisible to bundlers, so a bundle would fail at run time instead).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { push } from "@effect-faktory/core"
 *
 * // Without `import "@effect-faktory/node"` anywhere in the program:
 * push({ jobtype: "Ping" }).pipe(
 *   Effect.catchTag("PlatformMissingError", (e) => Effect.logError(e.message))
 * )
 * ```
 *
 * @since 0.1.0
 * @category errors
 */
export class PlatformMissingError extends Schema.TaggedError<PlatformMissingError>()("PlatformMissingError", {}) {
  override get message(): string {
    return "no platform for the default Faktory client: import push from \"@effect-faktory/node\", " +
      "or add `import \"@effect-faktory/node\"` to the program's entry point, or provide a Client layer " +
      "(NodeClient.layer)"
  }
}

/**
 * Every error a command sent over an established connection can fail with.
 *
 * @since 0.1.0
 * @category models
 */
export type CommandError = ConnectionError | AuthenticationError | ProtocolError | ServerError
