import { describe, expect, it } from "@effect/vitest"
import { Resp } from "@effect-faktory/core"
import { Chunk, Effect, Either, FastCheck as fc, Stream } from "effect"

const bytes = (text: string) => new TextEncoder().encode(text)

const feedAll = (chunks: ReadonlyArray<Uint8Array>, options?: Resp.DecoderOptions) => {
  const decoder = new Resp.Decoder(options)
  const out: Array<Resp.Reply> = []
  for (const chunk of chunks) {
    const result = decoder.feed(chunk, out)
    if (!Array.isArray(result)) return Either.left(result)
  }
  return Either.right({ replies: out, idle: decoder.isIdle })
}

const fixture =
  "+HI {\"v\":2}\r\n-ERR Invalid password\r\n$-1\r\n$0\r\n\r\n$5\r\nhé\r\n\r\n$15\r\n{\"a\":\"€𝄞\"}\r\n+OK\r\n-NOTUNIQUE\r\n"
const expected: Array<Resp.Reply> = [
  Resp.simpleString("HI {\"v\":2}"),
  Resp.errorReply("ERR", "Invalid password"),
  Resp.nullBulk,
  Resp.bulkString(""),
  // The bulk length counts bytes: "é" is two, and CRLF inside a bulk string is data.
  Resp.bulkString("hé\r\n"),
  Resp.bulkString("{\"a\":\"€𝄞\"}"),
  Resp.simpleString("OK"),
  Resp.errorReply("NOTUNIQUE", "")
]

describe("Resp.Decoder", () => {
  it("decodes every reply shape from one chunk", () => {
    expect(feedAll([bytes(fixture)])).toEqual(Either.right({ replies: expected, idle: true }))
  })

  it("decodes the same when the input is cut at any single byte", () => {
    const all = bytes(fixture)
    for (let cut = 0; cut <= all.byteLength; cut++) {
      expect(feedAll([all.subarray(0, cut), all.subarray(cut)])).toEqual(Either.right({ replies: expected, idle: true }))
    }
  })

  it("decodes the same when fed one byte at a time (multi-byte UTF-8 split across chunks)", () => {
    const all = bytes(fixture)
    const chunks = Array.from(all, (byte) => Uint8Array.of(byte))
    expect(feedAll(chunks)).toEqual(Either.right({ replies: expected, idle: true }))
  })

  it("does not lose bytes when the socket reuses its buffer", () => {
    const buffer = new Uint8Array(8)
    const decoder = new Resp.Decoder()
    const out: Array<Resp.Reply> = []
    const parts = ["$10\r\n0123", "456789\r\n", "+OK\r\n"]
    for (const part of parts) {
      const encoded = bytes(part)
      const view = encoded.byteLength <= buffer.byteLength ? buffer.subarray(0, encoded.byteLength) : new Uint8Array(encoded.byteLength)
      view.set(encoded)
      decoder.feed(view, out)
      view.fill(0x21)
    }
    expect(out).toEqual([Resp.bulkString("0123456789"), Resp.simpleString("OK")])
  })

  it("decodes a 10 MB bulk string arriving in 64 KiB chunks", () => {
    const size = 10 * 1024 * 1024
    const payload = "x".repeat(size)
    const all = bytes(`$${size}\r\n${payload}\r\n+OK\r\n`)
    const chunks: Array<Uint8Array> = []
    for (let at = 0; at < all.byteLength; at += 65536) chunks.push(all.subarray(at, at + 65536))
    const result = feedAll(chunks)
    expect(Either.isRight(result)).toBe(true)
    if (Either.isRight(result)) {
      expect(result.right.replies).toHaveLength(2)
      const first = result.right.replies[0]
      expect(first?._tag === "BulkString" && first.value.length).toBe(size)
    }
  })

  // A hostile server may send a reply as large as the limit allows: its assembly must cost the
  // reply's size once, not once for the pieces and again for their concatenation. The
  // decoder turns the bytes into text as they arrive, so while a bulk string arrives it holds
  // no buffer: what it holds is the text so far, on the JavaScript heap.
  it("holds no copy of a bulk string's bytes while it arrives, and only its text when done", () => {
    const size = 32 * 1024 * 1024
    const header = bytes(`$${size}\r\n`)
    const all = new Uint8Array(header.byteLength + size + 2)
    all.set(header)
    all.fill(0x78, header.byteLength, header.byteLength + size)
    all.set(bytes("\r\n"), header.byteLength + size)
    const chunks: Array<Uint8Array> = []
    for (let at = 0; at < all.byteLength; at += 65536) chunks.push(all.subarray(at, at + 65536))
    const decoder = new Resp.Decoder()
    const out: Array<Resp.Reply> = []
    const memory = () => process.memoryUsage()
    const before = memory()
    for (const chunk of chunks.slice(0, -1)) expect(decoder.feed(chunk, out)).toEqual([])
    const during = memory()
    // Copying and keeping every chunk would hold 32 MiB, then 32 MiB more to concatenate them.
    expect(during.arrayBuffers - before.arrayBuffers).toBeLessThan(size / 16)
    expect(during.arrayBuffers + during.heapUsed - before.arrayBuffers - before.heapUsed).toBeLessThan(size * 1.25)
    decoder.feed(chunks.at(-1)!, out)
    const after = memory()
    expect(after.arrayBuffers - before.arrayBuffers).toBeLessThan(size / 16)
    expect(out).toHaveLength(1)
    const [reply] = out
    expect(reply?._tag === "BulkString" && reply.value.length === size && reply.value.endsWith("xxx")).toBe(true)
  })

  it("refuses by default, as it is announced, a bulk string longer than the longest string V8 holds", () => {
    // V8's longest string is 2^29 - 24 characters; one byte more could never become a reply.
    expect(new Resp.Decoder().feed(bytes(`$${2 ** 29 - 24}\r\n`))).toEqual([])
    const result = new Resp.Decoder().feed(bytes(`$${2 ** 29 - 23}\r\n`))
    expect(Array.isArray(result) ? result : result.reason).toBe("BulkTooLarge")
  })

  const malformed: Array<[string, string, Resp.DecoderOptions | undefined, string]> = [
    ["an unknown type byte", "!oops\r\n", undefined, "UnexpectedByte"],
    ["an empty line", "\r\n", undefined, "UnexpectedByte"],
    ["a RESP array", "*1\r\n$1\r\na\r\n", undefined, "UnsupportedType"],
    ["a RESP integer", ":1\r\n", undefined, "UnsupportedType"],
    ["a negative bulk length", "$-2\r\n", undefined, "InvalidLength"],
    ["a non-numeric bulk length", "$abc\r\n", undefined, "InvalidLength"],
    ["a bulk length with a sign", "$+3\r\nabc\r\n", undefined, "InvalidLength"],
    ["a bulk string without its CRLF", "$3\r\nabcXY", undefined, "MissingTerminator"],
    ["a line ending in LF alone", "+OK\n", undefined, "MissingTerminator"],
    ["a line over the limit", `+${"a".repeat(100)}\r\n`, { maxLineBytes: 50 }, "LineTooLong"],
    ["a bulk string over the limit", "$100\r\n", { maxBulkBytes: 99 }, "BulkTooLarge"]
  ]
  for (const [name, input, options, reason] of malformed) {
    it(`fails with ProtocolError on ${name}`, () => {
      const result = feedAll([bytes(input)], options)
      expect(Either.isLeft(result) && result.left.reason).toBe(reason)
    })
  }

  it("bounds an unterminated line even when it arrives in small pieces", () => {
    const decoder = new Resp.Decoder({ maxLineBytes: 1000 })
    let result: ReturnType<Resp.Decoder["feed"]> = []
    for (let i = 0; i < 200 && Array.isArray(result); i++) result = decoder.feed(bytes("+aaaaaaaaaa"))
    expect(Array.isArray(result)).toBe(false)
  })

  it("stays failed after a protocol error", () => {
    const decoder = new Resp.Decoder()
    expect(Array.isArray(decoder.feed(bytes("!\r\n")))).toBe(false)
    expect(Array.isArray(decoder.feed(bytes("+OK\r\n")))).toBe(false)
  })
})

describe("Resp streams", () => {
  it.effect("decodeStream turns chunks into replies", () =>
    Effect.gen(function*() {
      const all = bytes(fixture)
      const replies = yield* Stream.make(all.subarray(0, 7), all.subarray(7, 30), all.subarray(30)).pipe(
        Resp.decodeStream(),
        Stream.runCollect
      )
      expect(Chunk.toArray(replies)).toEqual(expected)
    }))

  it.effect("decodeStream fails when the input ends inside a reply", () =>
    Effect.gen(function*() {
      const error = yield* Stream.make(bytes("+OK\r\n$5\r\nab")).pipe(Resp.decodeStream(), Stream.runCollect, Effect.flip)
      expect(error.reason).toBe("MissingTerminator")
    }))

  it.effect("decodeStream emits the replies before a malformed one, then fails", () =>
    Effect.gen(function*() {
      const seen: Array<Resp.Reply> = []
      const error = yield* Stream.make(bytes("+OK\r\n?\r\n")).pipe(
        Resp.decodeStream(),
        Stream.runForEach((reply) => Effect.sync(() => seen.push(reply))),
        Effect.flip
      )
      expect(seen).toEqual([Resp.simpleString("OK")])
      expect(error._tag).toBe("ProtocolError")
    }))
})

// Any text without CR or LF can be a simple string or error message; any text at all a bulk string.
const lineText = fc.string({ unit: "grapheme" }).filter((text) => !/[\r\n]/.test(text))
const reply: fc.Arbitrary<Resp.Reply> = fc.oneof(
  lineText.map(Resp.simpleString),
  fc.tuple(fc.stringMatching(/^[A-Z]{1,10}$/), lineText).map(([code, message]) => Resp.errorReply(code, message)),
  fc.string({ unit: "binary" }).map(Resp.bulkString),
  fc.constant(Resp.nullBulk)
)

describe("Resp properties", () => {
  it.prop(
    "any replies, cut into any chunks, decode to the same replies",
    [fc.array(reply, { maxLength: 30 }), fc.array(fc.nat(), { maxLength: 20 })],
    ([replies, cuts]) => {
      const all = bytes(replies.map(Resp.encode).join(""))
      const points = [...new Set(cuts.map((cut) => cut % (all.byteLength + 1)))].sort((a, b) => a - b)
      const chunks: Array<Uint8Array> = []
      let last = 0
      for (const point of points) {
        chunks.push(all.subarray(last, point))
        last = point
      }
      chunks.push(all.subarray(last))
      expect(feedAll(chunks)).toEqual(Either.right({ replies, idle: true }))
    },
    { fastCheck: { numRuns: 300 } }
  )
})
