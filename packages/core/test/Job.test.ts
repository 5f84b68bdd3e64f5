import { describe, expect, it, layer } from "@effect/vitest"
import { Client, Job, JobHandler, JobPayload, JobRunner, Worker } from "@effect-faktory/core"
import { NodeTransport } from "@effect-faktory/node"
import { FakeFaktory, FaktoryServer } from "@effect-faktory/testing"
import { Cause, type Duration, Effect, FastCheck as fc, FiberId, Layer, Option, Schema } from "effect"
import { Env } from "./support.js"

const SendEmail = Job.define("SendEmail", {
  args: Schema.Tuple(Schema.String, Schema.Number),
  queue: "mail",
  retry: 5,
  custom: { team: { name: "growth" } }
})
const Report = Job.define("Report", { args: Schema.Struct({ month: Schema.Int, when: Schema.Date }) })

// Pushes that reach the client are recorded by the fake: these must be refused before it.
layer(FakeFaktory.layer(Layer.empty))("Job.define (no server)", (it) => {
  it.effect("positional args map onto args; the definition's options fill the payload", () =>
    Effect.gen(function*() {
      const job = yield* SendEmail.payload(["a@example.com", 3])
      expect(job).toMatchObject({ jobtype: "SendEmail", args: ["a@example.com", 3], queue: "mail", retry: 5 })
      expect(SendEmail.positional).toBe(true)
    }))

  it.effect("a struct travels as args[0], encoded by its Schema", () =>
    Effect.gen(function*() {
      const job = yield* Report.payload({ month: 11, when: new Date("2026-11-01T00:00:00Z") })
      expect(job.args).toEqual([{ month: 11, when: "2026-11-01T00:00:00.000Z" }])
      expect(Report.positional).toBe(false)
      const decoded = yield* Report.decodeArgs(job.args)
      expect(decoded.when).toBeInstanceOf(Date)
    }))

  it.effect("values the Schema rejects fail before anything is sent", () =>
    Effect.gen(function*() {
      const Strict = Job.define("Strict", { args: Schema.Tuple(Schema.String.pipe(Schema.minLength(3))) })
      const error = yield* Effect.flip(Strict.payload(["ab"]))
      expect(error._tag).toBe("JobValidationError")
      expect(error.message).toContain("Strict")
      expect(error.message).toContain("at least 3")
    }))

  it.effect("arguments that throw when read, and a pushBulk of no array, fail with JobValidationError", () =>
    Effect.gen(function*() {
      const throwing = { get month(): number { throw new Error("getter exploded") } }
      const error = yield* Effect.flip(Report.payload(throwing as unknown as { month: number; when: Date }))
      expect(error._tag).toBe("JobValidationError")
      expect(error.message).toContain("getter exploded")
      const Loose = Job.define("Loose", { args: Schema.Tuple(Schema.Unknown) })
      expect((yield* Effect.flip(Loose.payload([throwing])))._tag).toBe("JobValidationError")
      const bulk = yield* Effect.flip(SendEmail.pushBulk(null as unknown as ReadonlyArray<readonly [string, number]>))
      expect(bulk._tag).toBe("JobValidationError")
      expect(yield* FakeFaktory.pushed()).toEqual([])
    }))

  it.effect("with() is immutable and deep-merges custom", () =>
    Effect.gen(function*() {
      const Urgent = SendEmail.with({ queue: "critical", custom: { team: { pager: true } } })
      expect((yield* Urgent.payload(["a@example.com", 1])).queue).toBe("critical")
      expect((yield* Urgent.payload(["a@example.com", 1])).custom).toEqual({ team: { name: "growth", pager: true } })
      expect((yield* SendEmail.payload(["a@example.com", 1])).queue).toBe("mail")
      expect(Urgent.with({ reserveFor: 90 }).options).toMatchObject({ queue: "critical", reserveFor: 90, retry: 5 })
    }))

  it.effect("a Schema whose encoded side is not JSON is refused at push, not at every run on the worker", () =>
    Effect.gen(function*() {
      // The mistake this guards against: pushed, then FAILed as InvalidArguments on every one of its 25 tries.
      const Dated = Job.define("Dated", { args: Schema.Struct({ d: Schema.DateFromSelf }) })
      const error = yield* Effect.flip(Dated.payload({ d: new Date(0) }))
      expect(error.message).toBe(
        "job Dated is invalid: args[0].d is a Date once encoded: JSON carries it as a string, which this Schema " +
          "(Schema.DateFromSelf) will not decode on the worker; use Schema.Date, an ISO string on the wire"
      )
      const Positional = Job.define("DatedTuple", { args: Schema.Tuple(Schema.String, Schema.DateFromSelf) })
      expect((yield* Effect.flip(Positional.payload(["x", new Date(0)]))).message).toContain("args[1] is a Date once encoded")
      // Schema.Unknown takes the string JSON makes of a Date: nothing to refuse.
      const Loose = Job.define("LooseDated", { args: Schema.Tuple(Schema.Unknown) })
      expect((yield* Loose.payload([new Date(0)])).args).toEqual([new Date(0)])
      // Schema.Date travels as a string and decodes back to a Date.
      expect((yield* Report.payload({ month: 1, when: new Date(0) })).args).toEqual([{ month: 1, when: "1970-01-01T00:00:00.000Z" }])
    }))

  it.effect("an optional field set to undefined travels as absent, as JSON has it", () =>
    Effect.gen(function*() {
      // Guarded against: "args[0].a is undefined, which JSON cannot carry", for code that compiles.
      const Opt = Job.define("Opt", { args: Schema.Struct({ a: Schema.optional(Schema.String), b: Schema.Number }) })
      const job = yield* Opt.payload({ a: undefined, b: 1 })
      expect(JSON.parse(JSON.stringify(job.args))).toEqual([{ b: 1 }])
      expect(yield* Opt.decodeArgs(JSON.parse(JSON.stringify(job.args)))).toEqual({ b: 1 })
    }))

  it.effect("pushIn refuses a delay that is not a finite duration, in words", () =>
    Effect.gen(function*() {
      // Untyped callers: Duration.decode throws on "soon", and a NaN delay would run the job at once.
      const untyped = (delay: unknown) => delay as Duration.DurationInput
      for (const [delay, shown] of [["soon", "\"soon\""], [Number.NaN, "NaN"], [Number.POSITIVE_INFINITY, "Infinity"], [Number.NEGATIVE_INFINITY, "-Infinity"]] as const) {
        const exit = yield* Effect.exit(SendEmail.pushIn(["a@example.com", 1], untyped(delay)))
        expect(exit).toMatchObject({ _tag: "Failure", cause: { _tag: "Fail", error: { _tag: "JobValidationError" } } })
        if (exit._tag === "Failure" && exit.cause._tag === "Fail") {
          expect(exit.cause.error.message).toBe(
            `job SendEmail is invalid: pushIn's delay ${shown} is not a finite duration ` +
              `(write it as "10 seconds", "500 millis" or a number of milliseconds)`
          )
        }
      }
    }))

  it.effect("decodeArgs refuses the wrong shape or arity", () =>
    Effect.gen(function*() {
      expect((yield* Effect.flip(SendEmail.decodeArgs(["a", "b"])))._tag).toBe("ParseError")
      expect((yield* Effect.flip(SendEmail.decodeArgs(["a", 1, "extra"])))._tag).toBe("ParseError")
      expect((yield* Effect.flip(Report.decodeArgs([]))).message).toContain("is missing")
      // Every issue is said, in words about arguments (an argument is not a job field).
      const both = JobPayload.formatIssues(yield* Effect.flip(SendEmail.decodeArgs(["a", "nan", { extra: true }])))
      expect(both).toContain(`1: Expected number, actual "nan"`)
      expect(both).toContain("2: is not in the Schema")
      expect(both).not.toContain("job field")
    }))
})

describe("Worker.queueOrder", () => {
  it("keeps a strict order as given", () => {
    expect(Worker.queueOrder(["a", "b", "c"])).toEqual(["a", "b", "c"])
  })

  it.prop("draws every weighted queue exactly once", [fc.dictionary(fc.stringMatching(/^[a-z]{1,6}$/), fc.integer({ min: 1, max: 10 }), { minKeys: 1 })], ([weights]) => {
    expect([...Worker.queueOrder(weights)].sort()).toEqual(Object.keys(weights).sort())
  })

  it("puts a queue first in proportion to its weight", () => {
    let seed = 42
    const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31)
    let heavyFirst = 0
    for (let i = 0; i < 4000; i++) if (Worker.queueOrder({ heavy: 3, light: 1 }, random)[0] === "heavy") heavyFirst++
    expect(heavyFirst / 4000).toBeCloseTo(0.75, 1)
  })
})

describe("JobRunner.describeFailure", () => {
  class Declined extends Schema.TaggedError<Declined>()("Declined", { reason: Schema.String }) {
    override get message() {
      return `declined: ${this.reason}`
    }
  }
  it("reports a typed failure by its tag and message", () => {
    expect(JobRunner.describeFailure(Cause.fail(new Declined({ reason: "card" })))).toMatchObject({
      errtype: "Declined",
      message: "declined: card"
    })
  })
  it("prefers an explicit errtype", () => {
    expect(JobRunner.describeFailure(Cause.fail(new JobRunner.UnknownJobTypeError({ jobtype: "X" }))).errtype).toBe("UnknownJobType")
  })
  it("reports a defect by its error's name, with a backtrace", () => {
    const described = JobRunner.describeFailure(Cause.die(new RangeError("too far")))
    expect(described).toMatchObject({ errtype: "RangeError", message: "too far" })
    expect(described.backtrace.length).toBeGreaterThan(0)
    expect(described.backtrace.length).toBeLessThanOrEqual(50)
  })
  it("reports plain values and interruption", () => {
    expect(JobRunner.describeFailure(Cause.fail("nope"))).toMatchObject({ errtype: "Error", message: "nope" })
    expect(JobRunner.describeFailure(Cause.fail({ code: 7 }))).toMatchObject({ message: "{\"code\":7}" })
    expect(JobRunner.describeFailure(Cause.interrupt(FiberId.none)).errtype).toBe("Shutdown")
  })
})

layer(Env, { excludeTestServices: true })("typed jobs against a real server", (it) => {
  it.effect("push, pushIn, pushAt and pushBulk", () =>
    Effect.gen(function*() {
      const client = yield* Client.Client
      const Ping = Job.define("Ping", { args: Schema.Tuple(Schema.Number), queue: "typed-q" })
      const jid = yield* Ping.push([1])
      const fetched = Option.getOrThrow(yield* client.fetch(["typed-q"]))
      expect([fetched.jid, fetched.args]).toEqual([jid, [1]])
      yield* client.ack(jid)
      yield* Ping.pushIn([2], "1 hour")
      yield* Ping.pushAt([3], new Date(Date.now() + 3_600_000))
      expect((yield* client.info).faktory.sets?.scheduled).toBe(2)
      const bulk = yield* Ping.pushBulk([[4], [5], [6]])
      expect(bulk.pushed).toHaveLength(3)
      expect((yield* client.info).faktory.queues["typed-q"]).toBe(3)
      yield* client.mutate({ cmd: "clear", target: "scheduled" })
      yield* client.removeQueues(["typed-q"])
    }))

  it.scoped("client middleware may change each pushed job, or refuse it", () =>
    Effect.gen(function*() {
      const server = yield* FaktoryServer.FaktoryServer
      const seen: Array<string> = []
      const client = yield* Client.make({
        ...server.clientOptions,
        middleware: [
          (job, next) => Effect.sync(() => seen.push(job.jobtype)).pipe(Effect.zipRight(next(job))),
          (job, next) => next({ ...job, queue: "middleware-q", custom: { ...job.custom, tenant: "acme" } })
        ]
      }).pipe(Effect.provide(NodeTransport.layer))
      yield* client.push({ jobtype: "Routed", queue: "elsewhere" })
      yield* client.pushBulk([{ jobtype: "RoutedBulk" }])
      expect(seen).toEqual(["Routed", "RoutedBulk"])
      const first = Option.getOrThrow(yield* client.fetch(["middleware-q"]))
      expect(first.custom).toEqual({ tenant: "acme" })
      yield* client.ack(first.jid)
      const second = Option.getOrThrow(yield* client.fetch(["middleware-q"]))
      yield* client.ack(second.jid)

      const breaking = yield* Client.make({
        ...server.clientOptions,
        middleware: [(job, next) => next({ ...job, queue: "no spaces" })]
      }).pipe(Effect.provide(NodeTransport.layer))
      const error = yield* Effect.flip(breaking.push({ jobtype: "Broken" }))
      expect(error._tag).toBe("JobValidationError")
    }))
})

describe("Job.isDefinition", () => {
  it("tells a job definition (and one made by .with) from other exports: by brand, across copies of the library", () => {
    const Ping = Job.define("Ping", { args: Schema.Tuple(Schema.String) })
    expect(Job.isDefinition(Ping)).toBe(true)
    expect(Job.isDefinition(Ping.with({ queue: "other" }))).toBe(true)
    expect(Job.isDefinition({ jobtype: "Ping", args: Schema.String, positional: false, options: {} })).toBe(false)
    expect(Job.isDefinition(Ping.handle(() => Effect.void))).toBe(false)
    expect(Job.isDefinition(null)).toBe(false)
    // A copy carries the brand, as a definition from another copy of the library does.
    expect(Job.isDefinition({ ...Ping })).toBe(true)
    const brand = Symbol.for("@effect-faktory/core/Job/Definition")
    expect(Job.isDefinition({ [brand]: brand })).toBe(false)
  })
})

describe("arguments that make Effect's parser throw", () => {
  // Effect 3's union parser turns a candidate's discriminant into a string to look it up, and
  // an object whose `toString` is not a function cannot be one: the parser throws a TypeError
  // instead of reporting an issue. From the wire, that is just a job with bad arguments.
  const Notify = Job.define("Notify", {
    args: Schema.Union(
      Schema.Struct({ type: Schema.Literal("email"), to: Schema.String }),
      Schema.Struct({ type: Schema.Literal("sms"), phone: Schema.String })
    )
  })
  const hostile = [[{ type: { toString: 1 } }], [{ type: [{ toString: 1 }] }]]

  it.effect("are refused by the definition's decoding as a ParseError that says what was thrown", () =>
    Effect.gen(function* () {
      for (const args of hostile) {
        const failed = yield* Effect.flip(Notify.decodeArgs(args))
        expect(failed._tag).toBe("ParseError")
        expect(failed.message).toContain("Cannot convert object to primitive value")
      }
    }))

  it.effect("are what JobRunner.check says the worker would refuse, as InvalidArguments", () =>
    Effect.gen(function* () {
      const handlers = yield* Effect.context<never>().pipe(
        Effect.flatMap(JobHandler.collect),
        Effect.provide(Notify.handle(() => Effect.void))
      )
      for (const args of hostile) {
        const refusal = yield* JobRunner.check(handlers, { jid: "0123456789abcdef", jobtype: "Notify", args })
        expect(Option.getOrUndefined(refusal)).toMatchObject({ errtype: "InvalidArguments" })
      }
    }))

  it.effect("FAIL the job as InvalidArguments in the worker's runner, not as a TypeError", () =>
    Effect.gen(function* () {
      const client = yield* Client.Client
      for (const args of hostile) {
        yield* client.push({ jobtype: "Notify", args })
        const failed = yield* Effect.flip(FakeFaktory.drainOne())
        expect([failed.errtype, failed.detail]).toEqual(["InvalidArguments", expect.stringContaining("Cannot convert object to primitive value")])
      }
    }).pipe(Effect.provide(FakeFaktory.layer(Notify.handle(() => Effect.void)))))
})
