import { describe, expect, it } from "@effect/vitest";
import { Resp } from "@effect-faktory/core";
import { Chunk, Effect, Either, FastCheck as fc, Stream } from "effect";
const bytes = (text) => new TextEncoder().encode(text);
const feedAll = (chunks, options) => {
    const decoder = new Resp.Decoder(options);
    const out = [];
    for (const chunk of chunks) {
        const result = decoder.feed(chunk, out);
        if (!Array.isArray(result))
            return Either.left(result);
    }
    return Either.right({ replies: out, idle: decoder.isIdle });
};
const fixture = "+HI {\"v\":2}\r\n-ERR Invalid password\r\n$-1\r\n$0\r\n\r\n$5\r\nhé\r\n\r\n$15\r\n{\"a\":\"€𝄞\"}\r\n+OK\r\n-NOTUNIQUE\r\n";
const expected = [
    Resp.simpleString("HI {\"v\":2}"),
    Resp.errorReply("ERR", "Invalid password"),
    Resp.nullBulk,
    Resp.bulkString(""),
    // The bulk length counts bytes: "é" is two, and CRLF inside a bulk string is data.
    Resp.bulkString("hé\r\n"),
    Resp.bulkString("{\"a\":\"€𝄞\"}"),
    Resp.simpleString("OK"),
    Resp.errorReply("NOTUNIQUE", "")
];
describe("Resp.Decoder", () => {
    it("decodes every reply shape from one chunk", () => {
        expect(feedAll([bytes(fixture)])).toEqual(Either.right({ replies: expected, idle: true }));
    });
    it("decodes the same when the input is cut at any single byte", () => {
        const all = bytes(fixture);
        for (let cut = 0; cut <= all.byteLength; cut++) {
            expect(feedAll([all.subarray(0, cut), all.subarray(cut)])).toEqual(Either.right({ replies: expected, idle: true }));
        }
    });
    it("decodes the same when fed one byte at a time (multi-byte UTF-8 split across chunks)", () => {
        const all = bytes(fixture);
        const chunks = Array.from(all, (byte) => Uint8Array.of(byte));
        expect(feedAll(chunks)).toEqual(Either.right({ replies: expected, idle: true }));
    });
    it("does not lose bytes when the socket reuses its buffer", () => {
        const buffer = new Uint8Array(8);
        const decoder = new Resp.Decoder();
        const out = [];
        const parts = ["$10\r\n0123", "456789\r\n", "+OK\r\n"];
        for (const part of parts) {
            const encoded = bytes(part);
            const view = encoded.byteLength <= buffer.byteLength ? buffer.subarray(0, encoded.byteLength) : new Uint8Array(encoded.byteLength);
            view.set(encoded);
            decoder.feed(view, out);
            view.fill(0x21);
        }
        expect(out).toEqual([Resp.bulkString("0123456789"), Resp.simpleString("OK")]);
    });
    it("decodes a 10 MB bulk string arriving in 64 KiB chunks", () => {
        const size = 10 * 1024 * 1024;
        const payload = "x".repeat(size);
        const all = bytes(`$${size}\r\n${payload}\r\n+OK\r\n`);
        const chunks = [];
        for (let at = 0; at < all.byteLength; at += 65536)
            chunks.push(all.subarray(at, at + 65536));
        const result = feedAll(chunks);
        expect(Either.isRight(result)).toBe(true);
        if (Either.isRight(result)) {
            expect(result.right.replies).toHaveLength(2);
            const first = result.right.replies[0];
            expect(first?._tag === "BulkString" && first.value.length).toBe(size);
        }
    });
    const malformed = [
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
    ];
    for (const [name, input, options, reason] of malformed) {
        it(`fails with ProtocolError on ${name}`, () => {
            const result = feedAll([bytes(input)], options);
            expect(Either.isLeft(result) && result.left.reason).toBe(reason);
        });
    }
    it("bounds an unterminated line even when it arrives in small pieces", () => {
        const decoder = new Resp.Decoder({ maxLineBytes: 1000 });
        let result = [];
        for (let i = 0; i < 200 && Array.isArray(result); i++)
            result = decoder.feed(bytes("+aaaaaaaaaa"));
        expect(Array.isArray(result)).toBe(false);
    });
    it("stays failed after a protocol error", () => {
        const decoder = new Resp.Decoder();
        expect(Array.isArray(decoder.feed(bytes("!\r\n")))).toBe(false);
        expect(Array.isArray(decoder.feed(bytes("+OK\r\n")))).toBe(false);
    });
});
describe("Resp streams", () => {
    it.effect("decodeStream turns chunks into replies", () => Effect.gen(function* () {
        const all = bytes(fixture);
        const replies = yield* Stream.make(all.subarray(0, 7), all.subarray(7, 30), all.subarray(30)).pipe(Resp.decodeStream(), Stream.runCollect);
        expect(Chunk.toArray(replies)).toEqual(expected);
    }));
    it.effect("decodeStream fails when the input ends inside a reply", () => Effect.gen(function* () {
        const error = yield* Stream.make(bytes("+OK\r\n$5\r\nab")).pipe(Resp.decodeStream(), Stream.runCollect, Effect.flip);
        expect(error.reason).toBe("MissingTerminator");
    }));
    it.effect("decodeStream emits the replies before a malformed one, then fails", () => Effect.gen(function* () {
        const seen = [];
        const error = yield* Stream.make(bytes("+OK\r\n?\r\n")).pipe(Resp.decodeStream(), Stream.runForEach((reply) => Effect.sync(() => seen.push(reply))), Effect.flip);
        expect(seen).toEqual([Resp.simpleString("OK")]);
        expect(error._tag).toBe("ProtocolError");
    }));
});
// Any text without CR or LF can be a simple string or error message; any text at all a bulk string.
const lineText = fc.string({ unit: "grapheme" }).filter((text) => !/[\r\n]/.test(text));
const reply = fc.oneof(lineText.map(Resp.simpleString), fc.tuple(fc.stringMatching(/^[A-Z]{1,10}$/), lineText).map(([code, message]) => Resp.errorReply(code, message)), fc.string({ unit: "binary" }).map(Resp.bulkString), fc.constant(Resp.nullBulk));
describe("Resp properties", () => {
    it.prop("any replies, cut into any chunks, decode to the same replies", [fc.array(reply, { maxLength: 30 }), fc.array(fc.nat(), { maxLength: 20 })], ([replies, cuts]) => {
        const all = bytes(replies.map(Resp.encode).join(""));
        const points = [...new Set(cuts.map((cut) => cut % (all.byteLength + 1)))].sort((a, b) => a - b);
        const chunks = [];
        let last = 0;
        for (const point of points) {
            chunks.push(all.subarray(last, point));
            last = point;
        }
        chunks.push(all.subarray(last));
        expect(feedAll(chunks)).toEqual(Either.right({ replies, idle: true }));
    }, { fastCheck: { numRuns: 300 } });
});
//# sourceMappingURL=Resp.test.js.map