import { describe, expect, it } from "@effect/vitest"
import { ProtocolError, ProtocolErrorReason, Resp } from "@effect-faktory/core"
import { Chunk, Effect, FastCheck as fc, Schema, Stream } from "effect"
import * as Memory from "./support/memory.js"

// Scenario 4: the RESP decoder fed bytes no server would send, random and mutated, cut into
// random chunks. packages/core/test/Resp.test.ts covers well-formed replies (any chunking) and
// each malformed shape once; here the input is anything at all. The decoder may only return
// replies or a ProtocolError (never throw), must not depend on how the input is cut, must keep
// every reply within its limits, and must not grow with what it is fed.

const seed = process.env.RELIABILITY_SEED !== undefined && process.env.RELIABILITY_SEED !== ""
  ? Number(process.env.RELIABILITY_SEED) >>> 0
  : Date.now() >>> 0
console.log(`[resp-fuzz] fast-check seed ${seed} (replay with RELIABILITY_SEED=${seed})`)
const runs = (numRuns: number) => ({ fastCheck: { numRuns, seed } })

const isReason = Schema.is(ProtocolErrorReason)

interface Outcome {
  readonly replies: ReadonlyArray<Resp.Reply>
  /** The failure's reason, when the input was malformed. */
  readonly failed: ProtocolError["reason"] | undefined
  readonly idle: boolean
}

/** Feeds `chunks` in order; checks the shape of every answer on the way. */
const decode = (chunks: ReadonlyArray<Uint8Array>, options?: Resp.DecoderOptions): Outcome => {
  const decoder = new Resp.Decoder(options)
  const out: Array<Resp.Reply> = []
  for (const chunk of chunks) {
    const result = decoder.feed(chunk, out)
    if (Array.isArray(result)) continue
    expect(result).toBeInstanceOf(ProtocolError)
    expect(isReason(result.reason)).toBe(true)
    // Once failed it stays failed, with the same error, whatever comes next.
    expect(decoder.feed(new TextEncoder().encode("+OK\r\n"))).toBe(result)
    return { replies: out, failed: result.reason, idle: decoder.isIdle }
  }
  return { replies: out, failed: undefined, idle: decoder.isIdle }
}

const cutAt = (bytes: Uint8Array, cuts: ReadonlyArray<number>): Array<Uint8Array> => {
  const points = [...new Set(cuts.map((cut) => cut % (bytes.byteLength + 1)))].sort((a, b) => a - b)
  const chunks: Array<Uint8Array> = []
  let last = 0
  for (const point of points) {
    chunks.push(bytes.subarray(last, point))
    last = point
  }
  chunks.push(bytes.subarray(last))
  return chunks
}

const encoder = new TextEncoder()
const concat = (parts: ReadonlyArray<Uint8Array>): Uint8Array => {
  const out = new Uint8Array(parts.reduce((sum, part) => sum + part.byteLength, 0))
  let at = 0
  for (const part of parts) {
    out.set(part, at)
    at += part.byteLength
  }
  return out
}

/** Pieces that RESP is made of, so random input reaches deep states, not only "bad first byte". */
const token = fc.oneof(
  fc.constantFrom("+", "-", "$", "*", ":", "\r", "\n", "\r\n", "-1", "0", "5", "12", "99999999999", "OK", "ERR ", "é", "\u{1d11e}")
    .map((text) => encoder.encode(text)),
  fc.uint8Array({ minLength: 1, maxLength: 8 }),
  fc.integer({ min: -3, max: 40 }).map((length) => encoder.encode(`$${length}\r\n`))
)
const soup = fc.array(token, { maxLength: 80 }).map(concat)
const anyBytes = fc.oneof(fc.uint8Array({ maxLength: 2048 }), soup)

const reply: fc.Arbitrary<Resp.Reply> = fc.oneof(
  fc.string({ unit: "binary" }).filter((text) => !/[\r\n]/.test(text)).map(Resp.simpleString),
  fc.tuple(fc.stringMatching(/^[A-Z]{1,8}$/), fc.string().filter((text) => !/[\r\n]/.test(text)))
    .map(([code, message]) => Resp.errorReply(code, message)),
  fc.string({ unit: "binary", maxLength: 300 }).map(Resp.bulkString),
  fc.constant(Resp.nullBulk)
)

type Mutation =
  | { readonly kind: "flip"; readonly at: number; readonly bit: number }
  | { readonly kind: "insert"; readonly at: number; readonly byte: number }
  | { readonly kind: "delete"; readonly at: number; readonly count: number }
  | { readonly kind: "duplicate"; readonly at: number; readonly count: number }
  | { readonly kind: "truncate"; readonly at: number }

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant("flip" as const), at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }),
  fc.record({ kind: fc.constant("insert" as const), at: fc.nat(), byte: fc.constantFrom(13, 10, 36, 43, 45, 48, 57, 0, 255) }),
  fc.record({ kind: fc.constant("delete" as const), at: fc.nat(), count: fc.integer({ min: 1, max: 4 }) }),
  fc.record({ kind: fc.constant("duplicate" as const), at: fc.nat(), count: fc.integer({ min: 1, max: 32 }) }),
  fc.record({ kind: fc.constant("truncate" as const), at: fc.nat() })
)

const mutate = (bytes: Uint8Array, mutations: ReadonlyArray<Mutation>): Uint8Array => {
  let current = Array.from(bytes)
  for (const change of mutations) {
    const at = current.length === 0 ? 0 : change.at % current.length
    switch (change.kind) {
      case "flip":
        if (current.length > 0) current[at] = current[at]! ^ (1 << change.bit)
        break
      case "insert":
        current.splice(at, 0, change.byte)
        break
      case "delete":
        current.splice(at, change.count)
        break
      case "duplicate":
        current.splice(at, 0, ...current.slice(at, at + change.count))
        break
      case "truncate":
        current = current.slice(0, at)
        break
    }
  }
  return Uint8Array.from(current)
}

const mutatedReplies = fc.tuple(fc.array(reply, { minLength: 1, maxLength: 12 }), fc.array(mutation, { minLength: 1, maxLength: 4 }))
  .map(([replies, mutations]) => mutate(encoder.encode(replies.map(Resp.encode).join("")), mutations))

const cuts = fc.array(fc.nat(), { maxLength: 24 })

describe("the RESP decoder, fuzzed", () => {
  it.prop(
    "random bytes, cut anywhere: replies or a ProtocolError, never a throw, the same however cut",
    [anyBytes, cuts],
    ([bytes, at]) => {
      const whole = decode([bytes])
      expect(decode(cutAt(bytes, at))).toEqual(whole)
      expect(decode(cutAt(bytes, Array.from({ length: bytes.byteLength }, (_, i) => i)))).toEqual(whole)
    },
    runs(10_000)
  )

  it.prop(
    "valid replies with bytes flipped, inserted, deleted, duplicated or cut off: the same guarantees",
    [mutatedReplies, cuts],
    ([bytes, at]) => {
      const whole = decode([bytes])
      expect(decode(cutAt(bytes, at))).toEqual(whole)
    },
    runs(10_000)
  )

  it.prop(
    "with tiny limits, no reply it returns is larger than they allow",
    [anyBytes, cuts, fc.integer({ min: 1, max: 48 }), fc.integer({ min: 0, max: 48 })],
    ([bytes, at, maxLineBytes, maxBulkBytes]) => {
      const { replies } = decode(cutAt(bytes, at), { maxLineBytes, maxBulkBytes })
      for (const one of replies) {
        if (one._tag === "BulkString") expect(one.value.length).toBeLessThanOrEqual(maxBulkBytes)
        // A byte never becomes more than one UTF-16 unit (an invalid one is one U+FFFD), and a
        // line's limit counts its type byte: its text has at most maxLineBytes - 1 units.
        if (one._tag === "SimpleString") expect(one.value.length).toBeLessThan(maxLineBytes)
        if (one._tag === "ErrorReply") {
          expect(one.code.length + (one.message === "" ? 0 : 1 + one.message.length)).toBeLessThan(maxLineBytes)
        }
      }
    },
    runs(5000)
  )

  it.prop(
    "as a Stream, malformed input is a ProtocolError failure, never a defect",
    [anyBytes, cuts],
    ([bytes, at]) => {
      const exit = Effect.runSyncExit(
        Stream.fromIterable(cutAt(bytes, at)).pipe(Resp.decodeStream(), Stream.runCollect, Effect.map(Chunk.toArray))
      )
      const whole = decode([bytes])
      if (exit._tag === "Success") {
        expect(whole.failed).toBeUndefined()
        expect(whole.idle).toBe(true)
        expect(exit.value).toEqual(whole.replies)
      } else {
        const failure = exit.cause._tag === "Fail" ? exit.cause.error : undefined
        expect(failure).toBeInstanceOf(ProtocolError)
      }
    },
    runs(1000)
  )
})

describe("the RESP decoder's memory", () => {
  const chunkBytes = 64 * 1024

  it("an endless line (100 MiB, no LF) fails within the line limit and keeps at most about that", () => {
    expect(Memory.canCollect()).toBe(true)
    const before = Memory.settledBytes()
    const decoder = new Resp.Decoder()
    const chunk = new Uint8Array(chunkBytes).fill(0x61)
    chunk[0] = 0x2b
    let fed = 0
    let result: Array<Resp.Reply> | ProtocolError = []
    while (fed < 100 * 1024 * 1024 && Array.isArray(result)) {
      result = decoder.feed(chunk)
      fed += chunkBytes
    }
    const grown = Memory.settledBytes() - before
    console.log(`[resp-fuzz] endless line: failed after ${Memory.mib(fed)}, retained ${Memory.mib(grown)}`)
    expect(result).toMatchObject({ _tag: "ProtocolError", reason: "LineTooLong" })
    expect(fed).toBeLessThanOrEqual(decoder.maxLineBytes + 2 * chunkBytes)
    expect(grown).toBeLessThan(4 * 1024 * 1024)
  })

  it("a 500 MB bulk string announced (within the default limit), 1 KiB sent: nothing is allocated for the rest", () => {
    const before = Memory.settledBytes()
    const decoder = new Resp.Decoder()
    expect(decoder.feed(encoder.encode(`$500000000\r\n${"x".repeat(1024)}`))).toEqual([])
    const grown = Memory.settledBytes() - before
    console.log(`[resp-fuzz] 500 MB announced: retained ${Memory.mib(grown)}`)
    expect(grown).toBeLessThan(1024 * 1024)
    expect(decoder.isIdle).toBe(false)
  })

  it("a bulk string that runs on past its length fails at once with MissingTerminator", () => {
    const decoder = new Resp.Decoder()
    const result = decoder.feed(encoder.encode(`$4\r\nabcdefgh${"x".repeat(chunkBytes)}`))
    expect(result).toMatchObject({ _tag: "ProtocolError", reason: "MissingTerminator" })
  })

  it("2 million replies (36 MiB) through one decoder: what it keeps does not grow", () => {
    const decoder = new Resp.Decoder()
    // One batch: every reply shape, cut at an odd size so that lines and bulk strings span chunks.
    const batch = encoder.encode(
      Array.from({ length: 1000 }, (_, i) =>
        [Resp.simpleString("OK"), Resp.bulkString(`{"jid":"${i}","args":["é${"x".repeat(i % 40)}"]}`), Resp.nullBulk, Resp.errorReply("ERR", `no ${i}`)][i % 4]!
      ).map(Resp.encode).join("")
    )
    const chunks = cutAt(batch, Array.from({ length: Math.floor(batch.byteLength / 1361) }, (_, i) => (i + 1) * 1361))
    const out: Array<Resp.Reply> = []
    const feedBatch = () => {
      for (const chunk of chunks) {
        const result = decoder.feed(chunk, out)
        expect(Array.isArray(result)).toBe(true)
      }
      expect(out).toHaveLength(1000)
      out.length = 0
    }
    for (let i = 0; i < 50; i++) feedBatch()
    const before = Memory.settledBytes()
    let bytes = 0
    for (let i = 0; i < 2000; i++) {
      feedBatch()
      bytes += batch.byteLength
    }
    const grown = Memory.settledBytes() - before
    console.log(`[resp-fuzz] ${Memory.mib(bytes)} of replies: retained ${Memory.mib(grown)}`)
    expect(decoder.isIdle).toBe(true)
    expect(grown).toBeLessThan(2 * 1024 * 1024)
  })
})
