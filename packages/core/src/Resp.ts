/**
 * The server's half of the Faktory wire format: an incremental decoder for the four RESP2
 * shapes Faktory sends (simple strings, errors, bulk strings and the null bulk string),
 * usable directly or as a `Channel`/`Stream` transformation from socket chunks to replies.
 *
 * Input may be cut anywhere: inside a CRLF, inside a multi-byte UTF-8 character, inside a
 * bulk length. A bulk string that spans chunks is turned into text chunk by chunk as it
 * arrives, and no bytes are kept: a reply costs its text once, not its bytes, then a
 * concatenated copy of them, then its text. Every buffer is bounded: lines by
 * `maxLineBytes`, bulk strings by `maxBulkBytes`.
 *
 * @since 0.1.0
 */
import * as Channel from "effect/Channel"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import { dual } from "effect/Function"
import * as Stream from "effect/Stream"
import { ProtocolError } from "./Errors.js"
import { Decoder, type DecoderOptions, type Reply } from "./internal/wire/resp.js"

/**
 * The reply shapes (`Reply`, `SimpleString`, `ErrorReply`, `BulkString`, `NullBulk`), their
 * constructors and `encode`, and the incremental `Decoder` with its `DecoderOptions` and
 * `DEFAULT_MAX_BULK_BYTES`.
 *
 * @example
 * ```ts
 * import { Resp } from "@effect-faktory/core"
 *
 * const decoder = new Resp.Decoder()
 * decoder.feed(new TextEncoder().encode("+O")) // []
 * decoder.feed(new TextEncoder().encode("K\r\n$-1\r\n")) // [SimpleString "OK", NullBulk]
 * Resp.encode(Resp.simpleString("OK")) // "+OK\r\n"
 * ```
 *
 * @since 0.1.0
 */
export * from "./internal/wire/resp.js"

/**
 * A channel from socket chunks to replies. It fails with `ProtocolError` on malformed input,
 * and with the upstream error when the input fails.
 *
 * @example
 * ```ts
 * import { Stream } from "effect"
 * import { Resp } from "@effect-faktory/core"
 *
 * const bytes = Stream.make(new TextEncoder().encode("+OK\r\n$-1\r\n"))
 * const replies = bytes.pipe(Stream.pipeThroughChannel(Resp.decodeChannel()))
 * ```
 *
 * @since 0.1.0
 * @category decoding
 */
export const decodeChannel = <IE = never>(
  options?: DecoderOptions
): Channel.Channel<Chunk.Chunk<Reply>, Chunk.Chunk<Uint8Array>, ProtocolError | IE, IE, void, unknown> =>
  Channel.suspend(() => {
    const decoder = new Decoder(options)
    const loop: Channel.Channel<Chunk.Chunk<Reply>, Chunk.Chunk<Uint8Array>, ProtocolError | IE, IE, void, unknown> =
      Channel.readWithCause({
        onInput: (chunks: Chunk.Chunk<Uint8Array>) => {
          const out: Array<Reply> = []
          for (const chunk of chunks) {
            const result = decoder.feed(chunk, out)
            if (!Array.isArray(result)) {
              return out.length === 0
                ? Channel.fail(result)
                : Channel.zipRight(Channel.write(Chunk.unsafeFromArray(out)), Channel.fail(result))
            }
          }
          return out.length === 0 ? loop : Channel.zipRight(Channel.write(Chunk.unsafeFromArray(out)), loop)
        },
        onFailure: Channel.failCause,
        onDone: () =>
          decoder.isIdle
            ? Channel.void
            : Channel.fail(new ProtocolError({ reason: "MissingTerminator", detail: "input ended inside a reply" }))
      })
    return loop
  })

/**
 * Decodes a stream of socket chunks into a stream of replies.
 *
 * @example
 * ```ts
 * import { Effect, Stream } from "effect"
 * import { Resp } from "@effect-faktory/core"
 *
 * const replies = Stream.make(new TextEncoder().encode("+OK\r\n")).pipe(Resp.decodeStream(), Stream.runCollect)
 * Effect.runPromise(replies)
 * ```
 *
 * @since 0.1.0
 * @category decoding
 */
export const decodeStream: {
  (options?: DecoderOptions): <E, R>(self: Stream.Stream<Uint8Array, E, R>) => Stream.Stream<Reply, E | ProtocolError, R>
  <E, R>(self: Stream.Stream<Uint8Array, E, R>, options?: DecoderOptions): Stream.Stream<Reply, E | ProtocolError, R>
} = dual(
  (args) => typeof args[0] === "object" && args[0] !== null && Stream.StreamTypeId in args[0],
  <E, R>(self: Stream.Stream<Uint8Array, E, R>, options?: DecoderOptions): Stream.Stream<Reply, E | ProtocolError, R> =>
    Stream.pipeThroughChannelOrFail(self, decodeChannel<E>(options))
)

/**
 * Decodes a complete byte sequence, for tests and tools.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Resp } from "@effect-faktory/core"
 *
 * Effect.runSync(Resp.decodeAll(new TextEncoder().encode("+OK\r\n"))) // [SimpleString "OK"]
 * ```
 *
 * @since 0.1.0
 * @category decoding
 */
export const decodeAll = (bytes: Uint8Array, options?: DecoderOptions): Effect.Effect<Array<Reply>, ProtocolError> =>
  Effect.suspend(() => {
    const decoder = new Decoder(options)
    const out = decoder.feed(bytes)
    if (!Array.isArray(out)) return Effect.fail(out)
    return decoder.isIdle
      ? Effect.succeed(out)
      : Effect.fail(new ProtocolError({ reason: "MissingTerminator", detail: "input ended inside a reply" }))
  })
