import { describe, expect, it } from "@effect/vitest"
import { JobPayload } from "@effect-faktory/core"
import { Either, FastCheck as fc, Schema } from "effect"

const rejected = (input: JobPayload.JobInput) => {
  const result = JobPayload.prepare(input)
  if (Either.isRight(result)) throw new Error(`expected ${JSON.stringify(input)} to be rejected`)
  return result.left
}

describe("JobPayload.prepare", () => {
  it("fills jid, args, retry and created_at", () => {
    const now = new Date("2026-11-23T10:00:00.000Z")
    const job = Either.getOrThrow(JobPayload.prepare({ jobtype: "Ping" }, now))
    expect(job.jobtype).toBe("Ping")
    expect(job.args).toEqual([])
    expect(job.retry).toBe(25)
    expect(job.created_at).toBe("2026-11-23T10:00:00.000Z")
    expect(job.jid).toMatch(/^[A-Za-z0-9_-]{16}$/)
  })

  it("keeps what it is given and turns a Date into RFC 3339", () => {
    const job = Either.getOrThrow(
      JobPayload.prepare({
        jobtype: "Report",
        jid: "report-000001",
        args: [{ month: 11 }, [1, 2], null, true, "x"],
        queue: "reports.monthly",
        at: new Date("2030-01-01T00:00:00Z"),
        retry: -1,
        reserve_for: 600,
        backtrace: 5,
        custom: { trace: { id: "abc" } }
      })
    )
    expect(job).toMatchObject({
      jid: "report-000001",
      queue: "reports.monthly",
      at: "2030-01-01T00:00:00.000Z",
      retry: -1,
      reserve_for: 600,
      custom: { trace: { id: "abc" } }
    })
  })

  const cases: Array<[string, JobPayload.JobInput, string]> = [
    ["an empty jobtype", { jobtype: " " }, "jobtype must not be empty"],
    ["a short jid", { jobtype: "X", jid: "1234567" }, "jid must be at least 8 bytes"],
    ["a bad queue name", { jobtype: "X", queue: "my queue" }, "queue name"],
    ["a reserve_for under a minute", { jobtype: "X", reserve_for: 30 }, "reserve_for must be 60 to 86400"],
    ["a reserve_for over a day", { jobtype: "X", reserve_for: 86401 }, "reserve_for must be 60 to 86400"],
    ["a fractional retry", { jobtype: "X", retry: 1.5 }, "retry"],
    ["a malformed at", { jobtype: "X", at: "tomorrow" }, "RFC 3339"],
    ["an at without a zone", { jobtype: "X", at: "2030-01-01T00:00:00" }, "RFC 3339"],
    ["an invalid Date", { jobtype: "X", at: new Date("nope") }, "invalid Date"],
    // The server refuses these; Date.parse alone would roll them over.
    ["an at on 30 February", { jobtype: "X", at: "2030-02-30T00:00:00Z" }, "RFC 3339"],
    ["an at on 29 February of a common year", { jobtype: "X", at: "2100-02-29T00:00:00Z" }, "RFC 3339"],
    ["an at at hour 24", { jobtype: "X", at: "2030-01-01T24:00:00Z" }, "RFC 3339"],
    ["an at with second 60", { jobtype: "X", at: "2030-06-30T23:59:60Z" }, "RFC 3339"],
    ["an at with a 24-hour offset", { jobtype: "X", at: "2030-01-01T00:00:00+24:00" }, "RFC 3339"],
    ["a bigint argument", { jobtype: "X", args: [1n] }, "args[0] is a bigint"],
    ["a function argument", { jobtype: "X", args: [{ f: () => 1 }] }, "args[0].f is a function"],
    ["an undefined argument", { jobtype: "X", args: [undefined] }, "args[0] is undefined"],
    ["a NaN argument", { jobtype: "X", args: [Number.NaN] }, "args[0] is NaN"],
    ["a class instance argument", { jobtype: "X", args: [new Map()] }, "not a plain object"],
    ["custom that is not JSON", { jobtype: "X", custom: { n: Infinity } }, "custom.n is Infinity"],
    ["an unknown field", { jobtype: "X", reserveFor: 60 } as JobPayload.JobInput, "reserveFor: is not a job field"]
  ]
  for (const [name, input, message] of cases) {
    it(`rejects ${name}`, () => {
      const error = rejected(input)
      expect(error._tag).toBe("JobValidationError")
      expect(error.message).toContain(message)
    })
  }

  it("says each problem once, without repeating the field's name", () => {
    const messages: Array<[JobPayload.JobInput, string]> = [
      [{ jobtype: "X", at: "2020-01-01" }, "job X is invalid: at \"2020-01-01\" is not an RFC 3339 time"],
      [{ jobtype: "X", queue: "a b" }, "job X is invalid: queue name \"a b\" must match ^[a-zA-Z0-9._-]+$"],
      [{ jobtype: "X", reserve_for: 5 }, "job X is invalid: reserve_for must be 60 to 86400 seconds, not 5"],
      [{ jobtype: "X", retry: 1.5 }, "job X is invalid: retry: Expected an integer, actual 1.5"],
      [{ jobtype: "X", jid: "short" }, "job X (short) is invalid: jid must be at least 8 bytes"],
      [{ jobtype: "X", args: [1n] }, "job X is invalid: args[0] is a bigint, which JSON cannot carry"],
      [{ jobtype: "X", custom: { n: Number.NaN } }, "job X is invalid: custom.n is NaN, which JSON cannot carry"],
      // Was "job     is invalid: …".
      [{ jobtype: "   " }, "job is invalid: jobtype must not be empty"]
    ]
    for (const [input, message] of messages) expect(rejected(input).message).toBe(message)
  })

  it("leaves out an object's field set to undefined, as JSON does, but refuses undefined in an array", () => {
    const job = Either.getOrThrow(JobPayload.prepare({ jobtype: "X", args: [{ a: undefined, b: 1 }], custom: { t: undefined } }))
    expect(JSON.parse(JSON.stringify(job))).toMatchObject({ args: [{ b: 1 }], custom: {} })
    // In an array it would become null: a different value, and a shifted position.
    expect(rejected({ jobtype: "X", args: [1, [undefined]] }).message).toBe("job X is invalid: args[1][0] is undefined, which JSON cannot carry")
  })

  it("refuses custom that is not a plain object, rather than dropping what it holds", () => {
    const untyped = (custom: unknown) => ({ jobtype: "X", custom }) as JobPayload.JobInput
    expect(rejected(untyped(new Map([["a", 1]]))).message).toContain("custom is a Map, not a plain object")
    expect(rejected(untyped(new Date(0))).message).toContain("custom is a Date, not a plain object")
    expect(rejected(untyped([1])).message).toContain("custom is an array, not a plain object")
    expect(rejected(untyped(null)).message).toContain("custom")
  })

  it("refuses what is not a job at all, and args that are not an array", () => {
    const untyped = (value: unknown) => value as JobPayload.JobInput
    expect(rejected(untyped(null)).message).toBe("job is invalid: a job must be an object, not null")
    expect(rejected(untyped(undefined)).message).toBe("job is invalid: a job must be an object, not undefined")
    expect(rejected(untyped([])).message).toBe("job is invalid: a job must be an object, not an array")
    expect(rejected(untyped({ jobtype: "X", args: null })).message).toContain("args")
  })

  it("turns an exception thrown while reading the job into a JobValidationError", () => {
    const throwing = { get secret(): string { throw new Error("getter exploded") } }
    expect(rejected({ jobtype: "X", args: [throwing] }).message).toContain("getter exploded")
    expect(rejected({ jobtype: "X", custom: { nested: throwing } }).message).toContain("getter exploded")
  })

  it("refuses arguments nested deeper than JSON can be written, instead of overflowing the stack", () => {
    let deep: unknown = "bottom"
    for (let i = 0; i < 100_000; i++) deep = [deep]
    expect(rejected({ jobtype: "X", args: [deep] }).message).toContain("nested deeper than 1000 levels")
    let fits: unknown = "bottom"
    for (let i = 0; i < 999; i++) fits = { a: fits }
    expect(Either.isRight(JobPayload.prepare({ jobtype: "X", args: [fits] }))).toBe(true)
  })

  it("rejects a cyclic argument", () => {
    const cyclic: Record<string, unknown> = {}
    cyclic.self = cyclic
    expect(rejected({ jobtype: "X", args: [cyclic] }).message).toContain("refers back to itself")
  })

  it("accepts the same object twice when it is not a cycle", () => {
    const shared = { a: 1 }
    expect(Either.isRight(JobPayload.prepare({ jobtype: "X", args: [shared, shared] }))).toBe(true)
  })

  it.prop("accepts any JSON arguments, which survive a JSON round trip", [fc.array(fc.jsonValue())], ([args]) => {
    const job = Either.getOrThrow(JobPayload.prepare({ jobtype: "X", args }))
    expect(JSON.parse(JSON.stringify(job.args))).toEqual(JSON.parse(JSON.stringify(args)))
  })

  const exactly = Schema.is(JobPayload.PushableJob, { onExcessProperty: "error" })
  const anyValue = fc.oneof(fc.jsonValue(), fc.constant(undefined), fc.constant(Number.NaN), fc.date(), fc.func(fc.integer()))
  /** Valid jobs, each field present or not, then (usually) one field set to an edge or any value. */
  const validJob = fc.record({
    jobtype: fc.oneof(fc.constant("Ping"), fc.string().filter((text) => text.trim() !== "")),
    jid: fc.string({ minLength: 8 }),
    args: fc.array(fc.jsonValue()),
    queue: fc.stringMatching(/^[a-zA-Z0-9._-]+$/),
    at: fc.date({ noInvalidDate: true, min: new Date(0), max: new Date(9e12) }).map((date) => date.toISOString()),
    retry: fc.oneof(fc.integer(), fc.constantFrom(-1, 0)),
    reserve_for: fc.oneof(fc.integer({ min: 60, max: 86400 }), fc.constantFrom(60, 86400)),
    backtrace: fc.oneof(fc.nat(), fc.constant(0)),
    custom: fc.oneof(fc.dictionary(fc.string(), fc.jsonValue()), fc.constant(JSON.parse('{"__proto__":{"a":1}}')))
  }, { requiredKeys: ["jobtype"] })
  const edgeValue = fc.oneof(
    fc.constantFrom(59, 86401, -1, 0.5, 60.5, 2 ** 53, "", " ", "short", "no spaces", "ü", null, [], {}, [undefined]),
    fc.constantFrom("2026-13-01T00:00:00Z", "2026-11-23 10:00:00", "2026-02-30T00:00:00Z", "2026-11-23T10:00:00+01:00"),
    fc.constant(new Map()),
    anyValue
  )
  const field = fc.constantFrom("jobtype", "jid", "args", "queue", "at", "retry", "reserve_for", "backtrace", "custom", "surprise")
  const jobInput = fc.tuple(validJob, fc.option(fc.tuple(field, edgeValue), { freq: 4 })).map(([job, change]) =>
    change === null ? job : { ...job, [change[0]]: change[1] }
  )

  // prepare checks common jobs by hand before falling back to the Schema: the hand check
  // must never accept a job the Schema would refuse.
  it.prop("accepts exactly what the PushableJob Schema accepts", [jobInput], ([input]) => {
    const result = JobPayload.prepare(input as JobPayload.JobInput)
    if (Either.isRight(result)) expect(exactly(result.right)).toBe(true)
  }, { fastCheck: { numRuns: 3000 } })

  it.prop("a refusal names each field once and never lists the undefined an optional field may be", [jobInput], ([input]) => {
    const result = JobPayload.prepare(input as JobPayload.JobInput)
    if (Either.isLeft(result)) {
      const issues = result.left.detail.split("; ")
      const fields = issues.map((issue) => /^[A-Za-z_]*/.exec(issue)?.[0])
      expect(new Set(fields).size).toBe(issues.length)
      for (const [index, issue] of issues.entries()) expect(issue.startsWith(`${fields[index]}: ${fields[index]}`)).toBe(false)
      expect(result.left.detail).not.toContain("Expected undefined")
    }
  }, { fastCheck: { numRuns: 1000 } })

  it.prop("every job it accepts states its retry count", [jobInput], ([input]) => {
    const result = JobPayload.prepare(input as JobPayload.JobInput)
    if (Either.isRight(result)) {
      expect(Number.isSafeInteger(result.right.retry)).toBe(true)
      const given = (input as { retry?: unknown }).retry
      expect(result.right.retry).toBe(given === undefined ? JobPayload.DEFAULT_RETRY : given)
    }
  }, { fastCheck: { numRuns: 1000 } })

  it("makes distinct jids", () => {
    const jids = new Set(Array.from({ length: 10000 }, JobPayload.randomJid))
    expect(jids.size).toBe(10000)
  })
})

describe("JobPayload.decode", () => {
  const isJob = Schema.is(JobPayload.Job)
  const jsonish = fc.oneof(fc.jsonValue(), fc.constantFrom(null, "", 0, [], {}, "2026-11-23T10:00:00Z"))
  const fetched = fc.tuple(
    fc.record({
      jid: fc.string(),
      jobtype: fc.string(),
      args: fc.array(fc.jsonValue()),
      queue: fc.string(),
      at: fc.string(),
      retry: fc.oneof(fc.integer(), fc.constant(null)),
      reserve_for: fc.integer(),
      backtrace: fc.integer(),
      created_at: fc.string(),
      enqueued_at: fc.string(),
      custom: fc.oneof(fc.dictionary(fc.string(), fc.jsonValue()), fc.constant(JSON.parse('{"__proto__":{"a":1}}'))),
      failure: fc.record({ retry_count: fc.nat(), message: fc.string(), errtype: fc.string() })
    }, { requiredKeys: ["jid", "jobtype", "args"] }),
    fc.option(
      fc.tuple(fc.constantFrom("jid", "jobtype", "args", "queue", "retry", "reserve_for", "custom", "failure", "unique_for"), jsonish),
      { freq: 3 }
    )
  ).map(([job, change]) => JSON.stringify(change === null ? job : { ...job, [change[0]]: change[1] }))

  // decode checks common jobs by hand before falling back to the Schema: the hand check
  // must never accept a job the Schema would refuse.
  it.prop("accepts exactly what the Job Schema accepts", [fetched], ([json]) => {
    const parsed: unknown = JSON.parse(json)
    expect(Either.isRight(JobPayload.decode(json))).toBe(isJob(parsed))
  }, { fastCheck: { numRuns: 3000 } })

  it("decodes what the server returns, including jobs from other clients", () => {
    const json =
      "{\"retry\":null,\"failure\":{\"retry_count\":0,\"remaining\":25,\"failed_at\":\"2026-11-23T10:00:00Z\",\"message\":\"boom\",\"errtype\":\"RuntimeError\"},\"jid\":\"ruby-jid-1\",\"queue\":\"default\",\"jobtype\":\"HardWorker\",\"args\":[1,\"a\"],\"reserve_for\":30}"
    const job = Either.getOrThrow(JobPayload.decode(json))
    expect(job.failure?.errtype).toBe("RuntimeError")
    expect(job.reserve_for).toBe(30)
  })

  it("fails with ProtocolError on a malformed job", () => {
    const result = JobPayload.decode("{\"jid\":1}")
    expect(Either.isLeft(result) && result.left._tag).toBe("ProtocolError")
  })
})

describe("JobPayload.serverRefusal", () => {
  it("refuses a number beyond a 64-bit float's range in args or custom (1e400 reads as Infinity), which Go cannot decode", () => {
    const job = (extra: Record<string, unknown>) => ({ jid: "0123456789abcdef", jobtype: "Ping", args: [], ...extra })
    expect(JobPayload.serverRefusal(job({ args: [JSON.parse("1e400")] }))).toBe(
      "args[0] is a number beyond the range of a 64-bit float (the server cannot decode the job)"
    )
    expect(JobPayload.serverRefusal(job({ args: [{ amounts: [1, JSON.parse("-1e400")] }] }))).toBe(
      "args[0].amounts[1] is a number beyond the range of a 64-bit float (the server cannot decode the job)"
    )
    expect(JobPayload.serverRefusal(job({ custom: { big: JSON.parse("1.7976931348623159e308") } }))).toContain("custom.big is a number")
    expect(JobPayload.serverRefusal(job({ args: [1.7976931348623157e308, JSON.parse("1e-400")] }))).toBeUndefined()
  })
})
