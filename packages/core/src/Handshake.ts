/**
 * The opening of every Faktory connection: the server greets with `HI {json}`, the client
 * answers `HELLO {json}` (with a password hash when the greeting carries a salt), and the
 * server says `OK`.
 *
 * @since 0.1.0
 */
import * as Either from "effect/Either"
import * as Schema from "effect/Schema"
import { ProtocolError } from "./Errors.js"
import * as JobPayload from "./JobPayload.js"
import type { Reply } from "./Resp.js"
import * as Sha256 from "./Sha256.js"

/**
 * The protocol version this client speaks.
 *
 * @since 0.1.0
 * @category constants
 */
export const PROTOCOL_VERSION = 2

/**
 * The most password-hash rounds a greeting may ask for. Faktory asks for 4,000 to 8,095
 * (`rand.Intn(4096) + 4000`); this leaves eight times that for a future server. Hashing
 * blocks the event loop: a greeting asking for 1,000,000 rounds blocked it for 5 to 7
 * seconds per connection attempt, and a round costs microseconds, so this many stays
 * within a few tenths of a second.
 *
 * @since 0.1.0
 * @category constants
 */
export const MAX_HASH_ITERATIONS = 65_536

/**
 * The server's greeting. `s` (salt) and `i` (iterations) are present when a password is set.
 *
 * @since 0.1.0
 * @category schemas
 */
export const Hi = Schema.Struct({
  v: Schema.Int,
  s: Schema.optional(Schema.String),
  i: Schema.optional(Schema.Int.pipe(Schema.positive()))
})

/**
 * @since 0.1.0
 * @category models
 */
export type Hi = typeof Hi.Type

const decodeHi = Schema.decodeUnknownEither(Hi)

/**
 * Reads the greeting out of the first reply, and refuses one this client cannot answer
 * safely: another protocol version, or more hash rounds than `MAX_HASH_ITERATIONS`.
 *
 * @example
 * ```ts
 * import { Handshake, Resp } from "@effect-faktory/core"
 *
 * Handshake.parseHi(Resp.simpleString('HI {"v":2}')) // Either.right({ v: 2 })
 * ```
 *
 * @since 0.1.0
 * @category parsing
 */
export const parseHi = (reply: Reply): Either.Either<Hi, ProtocolError> => {
  if (reply._tag !== "SimpleString" || !reply.value.startsWith("HI ")) {
    return Either.left(
      new ProtocolError({
        reason: "UnexpectedReply",
        detail: `expected the server's HI greeting, got ${describeReply(reply)} (is this a Faktory server?)`
      })
    )
  }
  const text = reply.value.slice(3)
  const shown = JSON.stringify(text.length > 60 ? `${text.slice(0, 60)}…` : text)
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch {
    return Either.left(
      new ProtocolError({ reason: "MalformedPayload", detail: `malformed HI greeting: not JSON: ${shown}` })
    )
  }
  if (typeof json !== "object" || json === null || Array.isArray(json)) {
    return Either.left(
      new ProtocolError({ reason: "MalformedPayload", detail: `malformed HI greeting: not a JSON object: ${shown}` })
    )
  }
  // Each issue as "field: what is wrong", as for jobs, not the Schema's tree (which names its internals).
  return Either.flatMap(
    Either.mapLeft(decodeHi(json), (error) =>
      new ProtocolError({ reason: "MalformedPayload", detail: `malformed HI greeting: ${JobPayload.formatIssues(error)}` })),
    checkHi
  )
}

const checkHi = (hi: Hi): Either.Either<Hi, ProtocolError> => {
  if (hi.v !== PROTOCOL_VERSION) {
    return Either.left(
      new ProtocolError({
        reason: "UnexpectedReply",
        detail: `the server speaks protocol version ${hi.v}; this client speaks version ${PROTOCOL_VERSION}`
      })
    )
  }
  if (hi.i !== undefined && hi.i > MAX_HASH_ITERATIONS) {
    return Either.left(
      new ProtocolError({
        reason: "UnexpectedReply",
        detail: `the server asks for ${hi.i} hash rounds; Faktory asks for at most 8095, this client ` +
          `hashes at most ${MAX_HASH_ITERATIONS} (is this a Faktory server?)`
      })
    )
  }
  return Either.right(hi)
}

/**
 * A short, safe description of a reply for error messages.
 *
 * @example
 * ```ts
 * import { Handshake, Resp } from "@effect-faktory/core"
 *
 * Handshake.describeReply(Resp.nullBulk) // "a null bulk string"
 * ```
 *
 * @since 0.1.0
 * @category parsing
 */
export const describeReply = (reply: Reply): string => {
  const clip = (text: string) => JSON.stringify(text.length > 80 ? `${text.slice(0, 80)}…` : text)
  switch (reply._tag) {
    case "SimpleString":
      return `+${clip(reply.value)}`
    case "ErrorReply":
      return `-${reply.code} ${clip(reply.message)}`
    case "BulkString":
      return `a bulk string ${clip(reply.value)}`
    case "NullBulk":
      return "a null bulk string"
  }
}

/**
 * Faktory's password hash: SHA-256 of password + salt, then SHA-256 of the digest,
 * `iterations` rounds in all, as lowercase hex.
 *
 * @example
 * ```ts
 * import { Handshake } from "@effect-faktory/core"
 *
 * Handshake.passwordHash("foobar", "55104dc76695721d", 1545)
 * // "6d877f8e5544b1f2598768f817413ab8a357afffa924dedae99eb91472d4ec30"
 * ```
 *
 * @since 0.1.0
 * @category hashing
 */
export const passwordHash = (password: string, salt: string, iterations: number): string => {
  let digest = Sha256.digest(new TextEncoder().encode(password + salt))
  for (let round = 1; round < iterations; round++) digest = Sha256.digest(digest)
  return Sha256.toHex(digest)
}

/**
 * Who a worker connection is. Producers leave it out; a connection with a `wid` must BEAT.
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
 * The HELLO payload.
 *
 * @since 0.1.0
 * @category models
 */
export interface Hello {
  readonly v: number
  readonly pwdhash?: string
  readonly wid?: string
  readonly hostname?: string
  readonly pid?: number
  readonly labels?: ReadonlyArray<string>
}

/**
 * Builds the HELLO payload for a greeting.
 *
 * @example
 * ```ts
 * import { Handshake } from "@effect-faktory/core"
 *
 * Handshake.hello({ v: 2 }, undefined, undefined) // { v: 2 }
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const hello = (hi: Hi, password: string | undefined, worker: WorkerIdentity | undefined): Hello => {
  const base: Hello = worker === undefined
    ? { v: PROTOCOL_VERSION }
    : { v: PROTOCOL_VERSION, wid: worker.wid, hostname: worker.hostname, pid: worker.pid, labels: worker.labels }
  return hi.s !== undefined && password !== undefined
    ? { ...base, pwdhash: passwordHash(password, hi.s, hi.i ?? 1) }
    : base
}
