import { describe, expect, it, layer } from "@effect/vitest"
import { Client, Job, JobPayload, JobRunner, Protocol, Worker } from "@effect-faktory/core"
import { NodeTransport } from "@effect-faktory/node"
import { FaktoryServer } from "@effect-faktory/testing"
import { Cause, Effect, Either, HashMap, Layer, Logger, LogLevel, Option, Schema } from "effect"
import { Env, utf8Length, waitFor } from "./support.js"

// How much of a job reaches the worker's log lines and the failures it reports: arguments of
// megabytes, or with a customer's secrets in them, are quoted briefly; a failure's message is
// cut at the server's bound, saying so; another producer's jid or jobtype of any length too.
// It matters because each line repeats on every retry.

const issuesOf = <A, I>(schema: Schema.Schema<A, I>, value: unknown): string => {
  const result = Schema.decodeUnknownEither(schema)(value)
  return Either.isLeft(result) ? JobPayload.formatIssues(result.left) : "no issue"
}

const secrets = { secret_token: "tok_live_abc123", name: "Ada Lovelace", email: "ada@example.com" }

describe("JobPayload.formatIssues quotes values briefly", () => {
  const Strict = Schema.Tuple(Schema.String, Schema.Int)

  it("a long string by its length and first characters; the path and what was expected whole", () => {
    expect(issuesOf(Strict, ["ok", "z".repeat(5_000_000)])).toBe(
      "1: Expected number, actual a string of 5000000 characters starting \"zzzzzzzzzzzzzzzz\""
    )
  })

  it("a long object by its number of keys and its first keys, never its values", () => {
    expect(issuesOf(Strict, [secrets, 1])).toBe(
      "0: Expected string, actual an object of 3 keys (\"secret_token\", \"name\", \"email\")"
    )
    const many = Object.fromEntries(Array.from({ length: 500 }, (_, i) => [`field_${i}`, "x".repeat(i)]))
    expect(issuesOf(Strict, [many, 1])).toBe(
      "0: Expected string, actual an object of 500 keys (\"field_0\", \"field_1\", \"field_2\", …)"
    )
  })

  it("a long array by its length; short values whole, as before", () => {
    expect(issuesOf(Strict, [Array.from({ length: 100_000 }, (_, i) => i), 1])).toBe(
      "0: Expected string, actual an array of 100000 items"
    )
    expect(issuesOf(Strict, [{ a: 1 }, 1.5])).toBe("0: Expected string, actual {\"a\":1}")
    expect(issuesOf(Strict, ["ok", 1.5])).toBe("1: Expected an integer, actual 1.5")
    expect(issuesOf(Schema.Struct({ n: Schema.Number }), { n: "1" })).toBe("n: Expected number, actual \"1\"")
  })

  it("in the messages Effect's transformations write too, and in unions", () => {
    expect(issuesOf(Schema.Tuple(Schema.NumberFromString), ["9".repeat(60) + "x"])).toBe(
      "0: Unable to decode a string of 61 characters starting \"9999999999999999\" into a number"
    )
    expect(issuesOf(Schema.Tuple(Schema.Literal("a", "b")), ["c".repeat(50)])).toBe(
      "0: Expected \"a\", actual a string of 50 characters starting \"cccccccccccccccc\"; " +
        "0: Expected \"b\", actual a string of 50 characters starting \"cccccccccccccccc\""
    )
  })

  it("leaves a Schema's own message annotation to say what it says", () => {
    const Code = Schema.String.annotations({ message: (issue) => `not a code: ${String(issue.actual).length} characters` })
    expect(issuesOf(Schema.Tuple(Code), [7])).toBe("0: not a code: 1 characters")
  })
})

describe("JobRunner.describeFailure bounds what it reports", () => {
  it("cuts the message at the server's bound, saying how much was cut; the errtype at the server's bound", () => {
    const described = JobRunner.describeFailure(Cause.fail({ _tag: "T".repeat(300), message: "m".repeat(200_000) }))
    expect(utf8Length(described.message)).toBeLessThanOrEqual(Protocol.MAX_MESSAGE_BYTES)
    expect(described.message).toMatch(/^m+… \(199040 more characters\)$/)
    expect(described.errtype).toBe("T".repeat(Protocol.MAX_ERRTYPE_BYTES))
    for (const line of described.backtrace) expect(utf8Length(line)).toBeLessThanOrEqual(500)
    expect(described.backtrace[0]).toMatch(/… \(\d+ more characters\)$/)
  })

  it("leaves a message within the bound as it is", () => {
    expect(JobRunner.describeFailure(Cause.fail({ _tag: "E", message: "é".repeat(500) })).message).toBe("é".repeat(500))
  })
})

interface Record {
  readonly level: string
  readonly message: string
  readonly annotations: { readonly [key: string]: unknown }
}

const capture = () => {
  const records: Array<Record> = []
  const logger = Logger.make(({ annotations, logLevel, message }) => {
    records.push({
      level: logLevel.label,
      message: (Array.isArray(message) ? message : [message]).map(String).join("\n"),
      annotations: Object.fromEntries(HashMap.toEntries(annotations))
    })
  })
  return { records, logger: Logger.replace(Logger.defaultLogger, logger) }
}

/** A record's size as a log line would have it: its message and annotations. */
const sizeOf = (record: Record) => utf8Length(JSON.stringify([record.message, record.annotations]))

layer(Env, { excludeTestServices: true, timeout: "120 seconds" })("the worker's failure lines, against a real server", (it) => {
  const Strict = Job.define("Strict", { args: Schema.Tuple(Schema.String, Schema.Int), queue: "bounds-q" })
  const Huge = Job.define("Huge", { args: Schema.Tuple(Schema.Number), queue: "bounds-q" })
  const handlers = Layer.mergeAll(
    Strict.handle(() => Effect.void),
    Huge.handle(([length]) => Effect.fail({ _tag: "Huge", message: "m".repeat(length) })),
    NodeTransport.layer
  )

  /** Runs a worker at DEBUG over `bounds-q` until `count` jobs are reported; returns what it logged. */
  const runWorker = (count: number) =>
    Effect.gen(function*() {
      const server = yield* FaktoryServer.FaktoryServer
      const { logger, records } = capture()
      const worker = yield* Worker.make({ queues: ["bounds-q"], concurrency: 2, client: server.clientOptions }).pipe(
        Effect.provide(Layer.merge(handlers, logger)),
        Logger.withMinimumLogLevel(LogLevel.Debug)
      )
      yield* waitFor(`${count} reports`, () => worker.processed().failed + worker.processed().acked === count, 20)
      yield* worker.terminate
      return records
    }).pipe(Effect.scoped)

  it.scoped("InvalidArguments: the value quoted briefly, not its 5 MB nor a customer's token, in every line", () =>
    Effect.gen(function*() {
      const client = yield* Client.Client
      const big = yield* client.push({ jobtype: "Strict", queue: "bounds-q", args: ["ok", "z".repeat(5_000_000)], retry: 0 })
      const secret = yield* client.push({ jobtype: "Strict", queue: "bounds-q", args: [secrets, 1], retry: 0 })
      const records = yield* runWorker(2)
      const warnings = records.filter((record) => record.level === "WARN")
      expect(warnings.find((record) => record.annotations["jid"] === big)?.message).toBe(
        "job failed: InvalidArguments: invalid arguments for Strict: 1: Expected number, actual a string of 5000000 characters starting \"zzzzzzzzzzzzzzzz\""
      )
      // The server returns an object's keys sorted.
      expect(warnings.find((record) => record.annotations["jid"] === secret)?.message).toBe(
        "job failed: InvalidArguments: invalid arguments for Strict: 0: Expected string, actual an object of 3 keys (\"email\", \"name\", \"secret_token\")"
      )
      for (const record of records) {
        expect(sizeOf(record)).toBeLessThan(3000)
        expect(record.message).not.toContain("tok_live_abc123")
      }
    }))

  it.scoped("a failure's message of 200,000 characters: cut at 1,000 bytes saying so, in the WARN line and the FAIL alike", () =>
    Effect.gen(function*() {
      const client = yield* Client.Client
      const jid = yield* client.push({ jobtype: "Huge", queue: "bounds-q", args: [200_000], retry: 1 })
      const records = yield* runWorker(1)
      const warning = records.find((record) => record.level === "WARN" && record.annotations["jid"] === jid)
      expect(warning?.message).toMatch(/^job failed: Huge: m+… \(199040 more characters\)$/)
      for (const record of records) expect(sizeOf(record)).toBeLessThan(30_000)
      // The server keeps the same message, cut the same way.
      yield* client.mutate({ cmd: "requeue", target: "retries", filter: { jids: [jid] } })
      const job = Option.getOrThrow(yield* client.fetch(["bounds-q"]))
      expect(`job failed: Huge: ${job.failure?.message}`).toBe(warning?.message)
      yield* client.ack(job.jid)
    }))

  it.scoped("another producer's jid and jobtype of 100,000 characters are cut in the worker's lines", () =>
    Effect.gen(function*() {
      const client = yield* Client.Client
      const jid = `j${"i".repeat(100_000)}`
      const jobtype = `T${"y".repeat(100_000)}`
      yield* client.send(Protocol.push({ jid, jobtype, queue: "bounds-q", args: [], retry: 0, created_at: new Date().toISOString() }))
      const records = yield* runWorker(1)
      const warning = records.find((record) => record.level === "WARN" && record.message.includes("UnknownJobType"))
      expect(warning?.annotations["jid"]).toMatch(/^ji+… \(\d+ more characters\)$/)
      expect(warning?.annotations["jobtype"]).toMatch(/^Ty+… \(\d+ more characters\)$/)
      expect(warning?.message).toMatch(/^job failed: UnknownJobType: no handler for jobtype Ty+… \(\d+ more characters\)$/)
      for (const record of records) expect(sizeOf(record)).toBeLessThan(30_000)
    }))
})
