/**
 * The opening of every Faktory connection: the server greets with `HI {json}`, the client
 * answers `HELLO {json}` (with a password hash when the greeting carries a salt), and the
 * server says `OK`.
 *
 * SHA-256 comes from `@noble/hashes` (audited, synchronous, no platform modules) rather than
 * WebCrypto: the handshake hashes up to 8,095 times in a row and the server closes a
 * connection whose handshake takes over 2 s; `crypto.subtle.digest` is asynchronous and took
 * 435 ms for 8,095 rounds on the reference machine, a synchronous digest a few milliseconds.
 */
import { sha256 } from "@noble/hashes/sha2.js"
import * as Either from "effect/Either"
import * as Encoding from "effect/Encoding"
import * as Schema from "effect/Schema"
import { AuthenticationError, ProtocolError } from "../../Errors.js"
import * as JobPayload from "../../JobPayload.js"
import * as Protocol from "../../Protocol.js"
import type { Reply } from "../../Resp.js"
import { describeReply } from "./describeReply.js"

/** The protocol version this client speaks. */
export const PROTOCOL_VERSION = 2

/**
 * The most password-hash rounds a greeting may ask for. Faktory asks for 4,000 to 8,095
 * (`rand.Intn(4096) + 4000`); this leaves eight times that for a future server. Hashing
 * blocks the event loop: a greeting asking for 1,000,000 rounds blocked it for 5 to 7
 * seconds per connection attempt, and a round costs microseconds, so this many stays
 * within a few tenths of a second.
 */
export const MAX_HASH_ITERATIONS = 65_536

/**
 * The server's greeting. `s` (salt) and `i` (iterations) are present when a password is set.
 */
export const Hi = Schema.Struct({
  v: Schema.Int,
  s: Schema.optional(Schema.String),
  i: Schema.optional(Schema.Int.pipe(Schema.positive()))
})

export type Hi = typeof Hi.Type

const decodeHi = Schema.decodeUnknownEither(Hi)

/**
 * Reads the greeting out of the first reply, and refuses one this client cannot answer
 * safely: another protocol version, or more hash rounds than `MAX_HASH_ITERATIONS`.
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
 * Faktory's password hash: SHA-256 of password + salt, then SHA-256 of the digest,
 * `iterations` rounds in all, as lowercase hex.
 */
export const passwordHash = (password: string, salt: string, iterations: number): string => {
  let digest = sha256(new TextEncoder().encode(password + salt))
  for (let round = 1; round < iterations; round++) digest = sha256(digest)
  return Encoding.encodeHex(digest)
}

/** The HELLO payload. */
export interface Hello {
  readonly v: number
  readonly pwdhash?: string
  readonly wid?: string
  readonly hostname?: string
  readonly pid?: number
  readonly labels?: ReadonlyArray<string>
}

/** The HELLO payload for a greeting. */
export const hello = (hi: Hi, password: string | undefined, worker: Protocol.WorkerIdentity | undefined): Hello => {
  const base: Hello = worker === undefined
    ? { v: PROTOCOL_VERSION }
    : { v: PROTOCOL_VERSION, wid: worker.wid, hostname: worker.hostname, pid: worker.pid, labels: worker.labels }
  return hi.s !== undefined && password !== undefined
    ? { ...base, pwdhash: passwordHash(password, hi.s, hi.i ?? 1) }
    : base
}

/**
 * The HELLO command for a greeting, to the server at `address`. Its reply is `+OK`; a refusal
 * about the password is an `AuthenticationError`, any other reply a `ProtocolError`.
 */
export const helloCommand = (
  hi: Hi,
  password: string | undefined,
  worker: Protocol.WorkerIdentity | undefined,
  address: string
): Protocol.Command<void, AuthenticationError | ProtocolError> =>
  Protocol.make("HELLO", JSON.stringify(hello(hi, password, worker)), (reply) => {
    if (reply._tag === "SimpleString" && reply.value === "OK") return helloOk
    if (reply._tag === "ErrorReply") {
      return Either.left(
        reply.message.toLowerCase().includes("password")
          ? new AuthenticationError({ address, detail: reply.message })
          : new ProtocolError({ reason: "UnexpectedReply", detail: `HELLO was refused: ${describeReply(reply)}` })
      )
    }
    return Either.left(
      new ProtocolError({ reason: "UnexpectedReply", detail: `expected OK after HELLO, got ${describeReply(reply)}` })
    )
  })

const helloOk = Either.right<void>(undefined)
