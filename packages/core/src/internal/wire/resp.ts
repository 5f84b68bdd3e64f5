/**
 * The pure half of `Resp`: the reply shapes, their encoding and the incremental decoder, with
 * no Stream or Channel. Connections read with it; `Resp` re-exports it beside the stream forms,
 * so that a client that only pushes does not load effect's Stream modules.
 *
 * @internal
 */
import { ProtocolError } from "../../Errors.js"

/**
 * A `+text` reply.
 *
 * @since 0.1.0
 * @category models
 */
export interface SimpleString {
  readonly _tag: "SimpleString"
  readonly value: string
}

/**
 * A `-CODE message` reply. `code` is the first word (`ERR` in open-source Faktory).
 *
 * @since 0.1.0
 * @category models
 */
export interface ErrorReply {
  readonly _tag: "ErrorReply"
  readonly code: string
  readonly message: string
}

/**
 * A `$n` reply: `n` bytes decoded as UTF-8.
 *
 * @since 0.1.0
 * @category models
 */
export interface BulkString {
  readonly _tag: "BulkString"
  readonly value: string
}

/**
 * The `$-1` reply (for example, FETCH found no job).
 *
 * @since 0.1.0
 * @category models
 */
export interface NullBulk {
  readonly _tag: "NullBulk"
}

/**
 * One reply from the server.
 *
 * @since 0.1.0
 * @category models
 */
export type Reply = SimpleString | ErrorReply | BulkString | NullBulk

/**
 * @since 0.1.0
 * @category constructors
 */
export const simpleString = (value: string): Reply => ({ _tag: "SimpleString", value })

/**
 * @since 0.1.0
 * @category constructors
 */
export const errorReply = (code: string, message: string): Reply => ({ _tag: "ErrorReply", code, message })

/**
 * @since 0.1.0
 * @category constructors
 */
export const bulkString = (value: string): Reply => ({ _tag: "BulkString", value })

/**
 * @since 0.1.0
 * @category constructors
 */
export const nullBulk: Reply = { _tag: "NullBulk" }

/**
 * Encodes a reply the way the server writes it. The client never sends replies; this exists
 * for fixtures and property tests.
 *
 * @example
 * ```ts
 * import { Resp } from "@effect-faktory/core"
 *
 * Resp.encode(Resp.bulkString("héllo")) // "$6\r\nhéllo\r\n"
 * ```
 *
 * @since 0.1.0
 * @category encoding
 */
export const encode = (reply: Reply): string => {
  switch (reply._tag) {
    case "SimpleString":
      return `+${reply.value}\r\n`
    case "ErrorReply":
      return `-${reply.code}${reply.message === "" ? "" : ` ${reply.message}`}\r\n`
    case "BulkString":
      return `$${utf8.encode(reply.value).byteLength}\r\n${reply.value}\r\n`
    case "NullBulk":
      return "$-1\r\n"
  }
}

/**
 * Limits that keep a misbehaving peer from growing the decoder's buffers without bound.
 *
 * @since 0.1.0
 * @category models
 */
export interface DecoderOptions {
  /** Longest `+`, `-` or `$` line, without its CRLF. Default 1 MiB (error lines may echo a long argument). */
  readonly maxLineBytes?: number | undefined
  /**
   * Largest bulk string, in bytes. Default `DEFAULT_MAX_BULK_BYTES`: about 512 MiB, Redis's
   * own cap on a value, less 24 bytes.
   */
  readonly maxBulkBytes?: number | undefined
}

/**
 * The default largest bulk string: 2^29 - 24 bytes, the longest string V8 can hold (Redis
 * caps a value at 2^29 bytes). UTF-8 never takes fewer bytes than UTF-16 code units, so any
 * reply within it can become a string; a longer one is refused as soon as it is announced.
 *
 * @since 0.1.0
 * @category constants
 */
export const DEFAULT_MAX_BULK_BYTES = 2 ** 29 - 24

const CR = 13
const LF = 10
const utf8 = new TextEncoder()
const utf8Decoder = new TextDecoder("utf-8")

/**
 * An incremental RESP decoder. Feed it chunks as they arrive; it returns the replies they
 * complete. After a `ProtocolError` it stays failed: the stream it reads cannot be trusted.
 *
 * @example
 * ```ts
 * import { Resp } from "@effect-faktory/core"
 *
 * const decoder = new Resp.Decoder()
 * decoder.feed(new TextEncoder().encode("+O")) // []
 * decoder.feed(new TextEncoder().encode("K\r\n$-1\r\n")) // [SimpleString "OK", NullBulk]
 * ```
 *
 * @since 0.1.0
 * @category decoding
 */
export class Decoder {
  readonly maxLineBytes: number
  readonly maxBulkBytes: number
  /** Bytes of the line being read, before the chunk now being scanned. */
  private lineParts: Array<Uint8Array> = []
  private lineBytes = 0
  /** While reading a bulk string: bytes still wanted, CRLF included; -1 otherwise. */
  private bulkRemaining = -1
  private bulkLength = 0
  /**
   * The text of a bulk string that spans chunks, so far. Concatenated strings are joined
   * lazily by the engine, so appending a chunk's text copies nothing.
   */
  private bulkText = ""
  /** Whether the bulk string being read spans chunks: its text is decoded in streaming mode. */
  private bulkStreaming = false
  /** Keeps a character cut between two chunks; made on first need, reused after. */
  private streamingDecoder: TextDecoder | undefined = undefined
  private failure: ProtocolError | undefined = undefined

  constructor(options?: DecoderOptions) {
    this.maxLineBytes = options?.maxLineBytes ?? 1024 * 1024
    this.maxBulkBytes = options?.maxBulkBytes ?? DEFAULT_MAX_BULK_BYTES
  }

  /**
   * Decodes as many replies as `chunk` completes, appending them to `out`. Returns a
   * `ProtocolError` when the input is malformed (the replies decoded before it stay in `out`).
   */
  feed(chunk: Uint8Array, out: Array<Reply> = []): Array<Reply> | ProtocolError {
    if (this.failure !== undefined) return this.failure
    let offset = 0
    while (offset < chunk.byteLength) {
      if (this.bulkRemaining >= 0) {
        offset = this.readBulk(chunk, offset, out)
        if (this.failure !== undefined) return this.failure
        continue
      }
      const lf = chunk.indexOf(LF, offset)
      if (lf === -1) {
        this.keepLinePart(chunk.subarray(offset))
        if (this.failure !== undefined) return this.failure
        return out
      }
      const line = this.takeLine(chunk.subarray(offset, lf))
      offset = lf + 1
      if (line === undefined) return this.failure ?? this.fail("MissingTerminator", "line ends without CR")
      const reply = this.parseLine(line)
      if (this.failure !== undefined) return this.failure
      if (reply !== undefined) out.push(reply)
    }
    return out
  }

  /** True when no reply is half read. */
  get isIdle(): boolean {
    return this.lineBytes === 0 && this.bulkRemaining < 0
  }

  private fail(reason: ProtocolError["reason"], detail: string): ProtocolError {
    this.failure = new ProtocolError({ reason, detail })
    return this.failure
  }

  private keepLinePart(part: Uint8Array): void {
    this.lineBytes += part.byteLength
    if (this.lineBytes > this.maxLineBytes + 1) {
      this.fail("LineTooLong", `a reply line exceeds ${this.maxLineBytes} bytes`)
      return
    }
    // The chunk may be reused by the socket, so a kept part is copied.
    this.lineParts.push(part.slice())
  }

  /** Joins the kept parts with the tail up to (not including) LF; checks and strips the CR. */
  private takeLine(tail: Uint8Array): Uint8Array | undefined {
    let line: Uint8Array
    if (this.lineParts.length === 0) {
      line = tail
    } else {
      line = concat([...this.lineParts, tail], this.lineBytes + tail.byteLength)
      this.lineParts = []
    }
    this.lineBytes = 0
    if (line.byteLength > this.maxLineBytes + 1) {
      this.fail("LineTooLong", `a reply line exceeds ${this.maxLineBytes} bytes`)
      return undefined
    }
    if (line.byteLength === 0 || line[line.byteLength - 1] !== CR) return undefined
    return line.subarray(0, line.byteLength - 1)
  }

  private parseLine(line: Uint8Array): Reply | undefined {
    if (line.byteLength === 0) {
      this.fail("UnexpectedByte", "empty reply line")
      return undefined
    }
    const type = line[0]
    switch (type) {
      case 0x2b /* + */:
        return { _tag: "SimpleString", value: utf8Decoder.decode(line.subarray(1)) }
      case 0x2d /* - */: {
        const text = utf8Decoder.decode(line.subarray(1))
        const space = text.indexOf(" ")
        return space === -1
          ? { _tag: "ErrorReply", code: text, message: "" }
          : { _tag: "ErrorReply", code: text.slice(0, space), message: text.slice(space + 1) }
      }
      case 0x24 /* $ */:
        return this.startBulk(line)
      case 0x2a /* * */:
      case 0x3a /* : */:
        this.fail("UnsupportedType", `Faktory never sends RESP ${type === 0x2a ? "arrays" : "integers"}`)
        return undefined
      default:
        this.fail("UnexpectedByte", `a reply cannot start with byte 0x${(type ?? 0).toString(16).padStart(2, "0")}`)
        return undefined
    }
  }

  private startBulk(line: Uint8Array): Reply | undefined {
    const text = utf8Decoder.decode(line.subarray(1))
    if (!/^(?:-1|0|[1-9][0-9]{0,15})$/.test(text)) {
      this.fail("InvalidLength", `bad bulk length ${JSON.stringify(text.slice(0, 32))}`)
      return undefined
    }
    const length = Number(text)
    if (length === -1) return nullBulk
    if (length > this.maxBulkBytes) {
      this.fail("BulkTooLarge", `a bulk string of ${length} bytes exceeds the limit of ${this.maxBulkBytes}`)
      return undefined
    }
    this.bulkLength = length
    this.bulkRemaining = length + 2
    return undefined
  }

  private readBulk(chunk: Uint8Array, offset: number, out: Array<Reply>): number {
    let at = offset
    const bodyLeft = this.bulkRemaining - 2
    if (bodyLeft > 0) {
      const available = chunk.byteLength - at
      if (!this.bulkStreaming && available >= this.bulkRemaining) {
        // The whole bulk string, CRLF included, is in this chunk: decoded in one step.
        const end = at + bodyLeft
        if (!this.appendText(chunk.subarray(at, end), false)) return end
        at = end
        this.bulkRemaining = 2
      } else {
        const take = Math.min(bodyLeft, available)
        this.bulkStreaming = true
        if (!this.appendText(chunk.subarray(at, at + take), true)) return at + take
        at += take
        this.bulkRemaining -= take
      }
    }
    // The CRLF after the body, which may itself be cut between chunks.
    while (this.bulkRemaining > 0 && at < chunk.byteLength) {
      if (chunk[at] !== (this.bulkRemaining === 2 ? CR : LF)) {
        this.fail("MissingTerminator", `bulk string of ${this.bulkLength} bytes is not followed by CRLF`)
        return at
      }
      at++
      this.bulkRemaining--
    }
    if (this.bulkRemaining === 0) {
      // A character cut short at the very end becomes U+FFFD, as in a one-step decode.
      if (this.bulkStreaming && !this.appendText(new Uint8Array(0), false)) return at
      out.push({ _tag: "BulkString", value: this.bulkText })
      this.bulkText = ""
      this.bulkStreaming = false
      this.bulkRemaining = -1
    }
    return at
  }

  /**
   * Appends the text of `bytes` to the bulk string being read. The engine refuses strings
   * beyond its longest (V8: 2^29 - 24 characters), which only a `maxBulkBytes` above the
   * default can reach: that is a reply too large, not a crash.
   */
  private appendText(bytes: Uint8Array, stream: boolean): boolean {
    try {
      // A decode without `stream` also resets the streaming decoder for the next bulk string.
      const decoder = this.bulkStreaming ? (this.streamingDecoder ??= new TextDecoder("utf-8")) : utf8Decoder
      this.bulkText += decoder.decode(bytes, { stream })
      return true
    } catch {
      this.bulkText = ""
      this.fail("BulkTooLarge", `a bulk string of ${this.bulkLength} bytes is longer than this engine's longest string`)
      return false
    }
  }
}

const concat = (parts: ReadonlyArray<Uint8Array>, length: number): Uint8Array => {
  const result = new Uint8Array(length)
  let at = 0
  for (const part of parts) {
    result.set(part, at)
    at += part.byteLength
  }
  return result
}
