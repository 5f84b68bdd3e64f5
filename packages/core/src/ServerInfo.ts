/**
 * The server's INFO report, decoded.
 *
 * @since 0.1.0
 */
import * as Either from "effect/Either"
import * as Schema from "effect/Schema"
import { ProtocolError } from "./Errors.js"
import { formatIssues } from "./JobPayload.js"

/**
 * The INFO payload. `total_enqueued` is the number of jobs in queues now;
 * `total_processed` counts ACKs and failures; `total_failures` FAILs and expired
 * reservations. The deprecated `tasks` section is kept undecoded.
 *
 * @since 0.1.0
 * @category schemas
 */
export const ServerInfo = Schema.Struct({
  now: Schema.String,
  server_utc_time: Schema.optional(Schema.String),
  faktory: Schema.Struct({
    queues: Schema.Record({ key: Schema.String, value: Schema.Number }),
    sets: Schema.optional(Schema.Record({ key: Schema.String, value: Schema.Number })),
    tasks: Schema.optional(Schema.Unknown),
    total_failures: Schema.Number,
    total_processed: Schema.Number,
    total_enqueued: Schema.Number,
    total_queues: Schema.Number
  }),
  server: Schema.Struct({
    description: Schema.String,
    faktory_version: Schema.String,
    uptime: Schema.Number,
    connections: Schema.Number,
    command_count: Schema.Number,
    used_memory_mb: Schema.Number
  })
})

/**
 * @since 0.1.0
 * @category models
 */
export type ServerInfo = typeof ServerInfo.Type

const decodeJson = Schema.decodeUnknownEither(Schema.parseJson(ServerInfo))

/**
 * @example
 * ```ts
 * import { ServerInfo } from "@effect-faktory/core"
 *
 * ServerInfo.decode("{}") // Either.left(ProtocolError)
 * ```
 *
 * @since 0.1.0
 * @category decoding
 */
export const decode = (json: string): Either.Either<ServerInfo, ProtocolError> =>
  Either.mapLeft(decodeJson(json), (error) =>
    new ProtocolError({ reason: "MalformedPayload", detail: `malformed INFO reply: ${formatIssues(error)}` }))

/**
 * Whether the server is Faktory Enterprise, as its INFO says: Enterprise's
 * `server.description` names it (open-source Faktory says `Faktory`). The only way a client
 * can tell: nothing else on the wire differs until an Enterprise command is refused.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Client, ServerInfo } from "@effect-faktory/core"
 *
 * const enterprise = Effect.flatMap(Client.Client, (client) => Effect.map(client.info, ServerInfo.isEnterprise))
 * ```
 *
 * @since 0.2.0
 * @category predicates
 */
export const isEnterprise = (info: ServerInfo): boolean => /enterprise/i.test(info.server.description)
