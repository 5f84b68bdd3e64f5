/**
 * SHA-256, used for Faktory's password hash, from `@noble/hashes` (audited, synchronous, no
 * platform modules).
 *
 * Why not WebCrypto: the handshake hashes up to 8,095 times in a row, and the server closes
 * a connection whose handshake takes over 2 s. `crypto.subtle.digest` is asynchronous and
 * took 435 ms for 8,095 rounds on the reference machine; a synchronous digest takes a few
 * milliseconds.
 *
 * @since 0.1.0
 */
import { sha256 } from "@noble/hashes/sha2.js"
import * as Encoding from "effect/Encoding"

/**
 * The SHA-256 digest of `message`.
 *
 * @example
 * ```ts
 * import { Sha256 } from "@effect-faktory/core"
 *
 * Sha256.toHex(Sha256.digest(new TextEncoder().encode("abc")))
 * // "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
 * ```
 *
 * @since 0.1.0
 * @category hashing
 */
export const digest = (message: Uint8Array): Uint8Array => sha256(message)

/**
 * Lowercase hexadecimal of some bytes.
 *
 * @example
 * ```ts
 * import { Sha256 } from "@effect-faktory/core"
 *
 * Sha256.toHex(new Uint8Array([0, 255])) // "00ff"
 * ```
 *
 * @since 0.1.0
 * @category encoding
 */
export const toHex = (bytes: Uint8Array): string => Encoding.encodeHex(bytes)
