import { describe, expect, it } from "@effect/vitest"
import { Protocol } from "@effect-faktory/core"
import { Either, FastCheck as fc } from "effect"
import { utf8Length } from "./support.js"

const line = <A, F, E>(command: Either.Either<Protocol.Command<A, F>, E>) => Either.getOrThrow(Either.map(command, (c) => c.line))

describe("Protocol", () => {
  it("frames commands as one CRLF-terminated line", () => {
    expect(Protocol.info.line).toBe("INFO\r\n")
    expect(Protocol.ack("abcdefgh").line).toBe("ACK {\"jid\":\"abcdefgh\"}\r\n")
    expect(line(Protocol.fetch(["critical", "default"]))).toBe("FETCH critical default\r\n")
  })

  it("writes every ACK as JSON.stringify would, whether or not the jid takes the plain-jid shortcut", () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.stringMatching(/^[A-Za-z0-9_.:-]{0,24}$/), fc.fullUnicodeString()), (jid) => {
        expect(Protocol.ack(jid).line).toBe(`ACK ${JSON.stringify({ jid })}\r\n`)
      }),
      { numRuns: 2000 }
    )
  })

  it("refuses a FETCH without queues or with a bad queue name", () => {
    expect(Either.isLeft(Protocol.fetch([]))).toBe(true)
    expect(Either.isLeft(Protocol.fetch(["a b"]))).toBe(true)
    expect(Either.isLeft(Protocol.fetch([""]))).toBe(true)
  })

  it("encodes BEAT states and rss_kb as the server expects", () => {
    expect(Protocol.beat({ wid: "w" }).line).toBe("BEAT {\"wid\":\"w\"}\r\n")
    expect(Protocol.beat({ wid: "w", currentState: "running", rssKb: 10.6 }).line).toBe(
      "BEAT {\"wid\":\"w\",\"rss_kb\":11}\r\n"
    )
    expect(Protocol.beat({ wid: "w", currentState: "terminate" }).line).toBe(
      "BEAT {\"wid\":\"w\",\"current_state\":\"terminate\"}\r\n"
    )
  })

  it("cuts FAIL fields to the server's limits without splitting characters", () => {
    const command = Protocol.fail({
      jid: "abcdefgh",
      errtype: "E".repeat(99) + "é",
      message: "€".repeat(400),
      backtrace: Array.from({ length: 80 }, (_, i) => `line ${i}`)
    })
    const payload = JSON.parse(command.line.slice(5)) as { errtype: string; message: string; backtrace: Array<string> }
    expect(payload.errtype).toBe("E".repeat(99))
    expect(utf8Length(payload.message)).toBe(999)
    expect(payload.backtrace).toHaveLength(50)
  })

  it("a job built by hand goes out with retry 25, never without a retry", () => {
    const job = { jid: "hand-made-1", jobtype: "Hand", args: [], created_at: "2026-11-23T10:00:00Z" }
    expect(JSON.parse(Protocol.push(job).line.slice(5))).toMatchObject({ retry: 25 })
    expect(JSON.parse(Protocol.push({ ...job, retry: 0 }).line.slice(5))).toMatchObject({ retry: 0 })
    const bulk = JSON.parse(Protocol.pushBulk([{ ...job, retry: 3 }, job]).line.slice(6)) as Array<{ retry: number }>
    expect(bulk.map((entry) => entry.retry)).toEqual([3, 25])
  })

  it.prop(
    "a FAIL's backtrace is bounded like its message: 50 lines of at most 1,000 bytes",
    [fc.array(fc.string({ unit: "grapheme", maxLength: 3000 }), { maxLength: 60 }), fc.nat(3000)],
    ([lines, repeat]) => {
      // The first line repeating a long message is what a worker's describeFailure produces.
      const message = "x".repeat(repeat)
      const command = Protocol.fail({ jid: "abcdefgh", errtype: "E", message, backtrace: [`Error: ${message}`, ...lines] })
      const payload = JSON.parse(command.line.slice(5)) as { backtrace: Array<string> }
      expect(payload.backtrace.length).toBeLessThanOrEqual(Protocol.MAX_BACKTRACE_LINES)
      for (const [index, line] of payload.backtrace.entries()) {
        expect(utf8Length(line)).toBeLessThanOrEqual(Protocol.MAX_BACKTRACE_LINE_BYTES)
        expect((index === 0 ? `Error: ${message}` : lines[index - 1]!).startsWith(line)).toBe(true)
      }
    }
  )

  it.prop("truncateUtf8 gives the longest prefix that fits", [fc.string({ unit: "grapheme" }), fc.nat(40)], ([text, max]) => {
    const cut = Protocol.truncateUtf8(text, max)
    expect(utf8Length(cut)).toBeLessThanOrEqual(max)
    expect(text.startsWith(cut)).toBe(true)
    expect(cut).not.toContain("\uFFFD")
    if (cut.length < text.length) {
      const next = String.fromCodePoint(text.codePointAt(cut.length)!)
      expect(utf8Length(cut + next)).toBeGreaterThan(max)
    }
  })

  it("writes MUTATE without spaces, each space inside a string sent as \\u0020", () => {
    const encoded = line(Protocol.mutate({
      cmd: "kill",
      target: "retries",
      filter: { jobtype: "Send Email", pattern: "*\"message\":\"no such user\"*" }
    }))
    expect(encoded).toBe(
      "MUTATE {\"cmd\":\"kill\",\"target\":\"retries\",\"filter\":{\"jobtype\":\"Send\\u0020Email\"," +
        "\"regexp\":\"*\\\"message\\\":\\\"no\\u0020such\\u0020user\\\"*\"}}\r\n"
    )
    const [verb, json, ...rest] = encoded.trimEnd().split(" ")
    expect({ verb, rest }).toEqual({ verb: "MUTATE", rest: [] })
    expect(JSON.parse(json!)).toEqual({
      cmd: "kill",
      target: "retries",
      filter: { jobtype: "Send Email", regexp: "*\"message\":\"no such user\"*" }
    })
    expect(JSON.parse(line(Protocol.mutate({ cmd: "kill", target: "retries", filter: { jids: ["a b"] } })).slice(7)))
      .toEqual({ cmd: "kill", target: "retries", filter: { jids: ["a b"] } })
    // A backslash before a space is its own escape, and stays one.
    expect(JSON.parse(line(Protocol.mutate({ cmd: "discard", target: "dead", filter: { jids: ["a\\ b"] } })).slice(7)))
      .toMatchObject({ filter: { jids: ["a\\ b"] } })
  })

  it("sends a jobtype alone with the pattern *, so that the server compares it exactly rather than as a glob", () => {
    expect(JSON.parse(line(Protocol.mutate({ cmd: "discard", target: "dead", filter: { jobtype: "Send*" } })).slice(7)))
      .toEqual({ cmd: "discard", target: "dead", filter: { jobtype: "Send*", regexp: "*" } })
  })

  it("refuses a MUTATE filter the server would read as every job, or whose jids it would ignore", () => {
    const refused = (filter: Protocol.Mutation["filter"]) => {
      const result = Protocol.mutate({ cmd: "discard", target: "retries", filter })
      return Either.isLeft(result) ? result.left.message : "sent"
    }
    expect(refused({})).toContain("the filter selects nothing")
    expect(refused({ jids: [] })).toContain("an empty list of jids would select every job")
    expect(refused({ jobtype: "" })).toContain("an empty jobtype would select every job")
    expect(refused({ pattern: "" })).toContain("an empty pattern would select every job")
    expect(refused({ jids: ["a"], jobtype: "A" })).toContain("the server ignores jids given with a jobtype or a pattern")
    expect(refused({ jids: ["a"], pattern: "*" })).toContain("the server ignores jids given with a jobtype or a pattern")
    // Clear empties the set whatever the filter says.
    expect(Either.isRight(Protocol.mutate({ cmd: "clear", target: "retries", filter: { jids: [] } }))).toBe(true)
  })

  it("encodes QUEUE subcommands and checks names", () => {
    expect(line(Protocol.queue("PAUSE", ["*"]))).toBe("QUEUE PAUSE *\r\n")
    expect(line(Protocol.queue("REMOVE", ["a", "b"]))).toBe("QUEUE REMOVE a b\r\n")
    expect(Either.isLeft(Protocol.queue("RESUME", ["a", "*"]))).toBe(true)
    expect(Either.isLeft(Protocol.queueLatency(["*"]))).toBe(true)
  })

  it("encodes the Enterprise commands", () => {
    expect(Protocol.batch({ _tag: "New", batch: { description: "x" } }).line).toBe(
      "BATCH NEW {\"description\":\"x\"}\r\n"
    )
    expect(Protocol.batch({ _tag: "Commit", bid: "b1" }).line).toBe("BATCH COMMIT b1\r\n")
    expect(Protocol.track({ _tag: "Set", progress: { jid: "j", percent: 50 } }).line).toBe(
      "TRACK SET {\"jid\":\"j\",\"percent\":50}\r\n"
    )
  })
})
