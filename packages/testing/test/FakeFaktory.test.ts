import { describe, expect, it } from "@effect/vitest"
import { Client, Job, push } from "@effect-faktory/core"
import { NodeClient } from "@effect-faktory/node"
import { FakeFaktory } from "@effect-faktory/testing"
import { Effect, Layer, Option, Schema } from "effect"

// Jobs of a small application: typed definitions, and handlers that record what they did.
const SendEmail = Job.define("SendEmail", {
  args: Schema.Tuple(Schema.String, Schema.Literal("welcome", "receipt")),
  queue: "mail"
})
const Resize = Job.define("Resize", { args: Schema.Struct({ file: Schema.String, width: Schema.Int }) })
const SignUp = Job.define("SignUp", { args: Schema.Tuple(Schema.String) })
const Explode = Job.define("Explode", { args: Schema.Tuple(Schema.String) })
const Forever = Job.define("Forever", { args: Schema.Tuple(Schema.Number) })

class PaymentDeclined extends Schema.TaggedError<PaymentDeclined>()("PaymentDeclined", { card: Schema.String }) {}

const makeHandlers = () => {
  const done: Array<string> = []
  const handlers = Layer.mergeAll(
    SendEmail.handle(([to, template]) => Effect.sync(() => done.push(`${template} to ${to}`))),
    Resize.handle(({ file, width }) => Effect.sync(() => done.push(`${file}@${width}`))),
    // A handler that pushes another job, through the module-level push of the typed definition.
    SignUp.handle(([email]) =>
      Effect.zipRight(Effect.sync(() => done.push(`signed up ${email}`)), SendEmail.push([email, "welcome"]))
    ),
    Explode.handle(([how]) =>
      how === "typed"
        ? Effect.fail(new PaymentDeclined({ card: "4242" }))
        : Effect.sync(() => {
          throw new TypeError("card is undefined")
        })
    ),
    Forever.handle(([n]) => Forever.push([n + 1]))
  )
  return { done, handlers }
}

describe("FakeFaktory.layer (fake mode)", () => {
  it.effect("records typed pushes, module-level pushes and client.push, per jobtype and per queue", () => {
    const { handlers } = makeHandlers()
    return Effect.gen(function*() {
      const jid = yield* SendEmail.push(["ada@example.com", "welcome"])
      yield* Resize.push({ file: "a.png", width: 640 })
      yield* push({ jobtype: "Resize", args: [{ file: "b.png", width: 1280 }] })
      const client = yield* Client.Client
      yield* client.push({ jobtype: "Untyped", args: [1, 2], queue: "other" })

      expect(yield* FakeFaktory.jobs(SendEmail)).toEqual([["ada@example.com", "welcome"]])
      expect(yield* FakeFaktory.jobs(Resize)).toEqual([{ file: "a.png", width: 640 }, { file: "b.png", width: 1280 }])
      const mail = yield* FakeFaktory.payloads({ queue: "mail" })
      expect(mail.map((job) => job.jid)).toEqual([jid])
      // As the server hands it out: queue filled in, enqueued_at set, retry stated.
      const resized = yield* FakeFaktory.payloads({ jobtype: "Resize" })
      expect(resized[0]).toMatchObject({ queue: "default", retry: 25, args: [{ file: "a.png", width: 640 }] })
      expect(typeof resized[0]?.enqueued_at).toBe("string")
      expect((yield* FakeFaktory.payloads()).map((job) => job.jobtype)).toEqual(["SendEmail", "Resize", "Resize", "Untyped"])
    }).pipe(Effect.provide(FakeFaktory.layer(handlers)))
  })

  it.effect("refuses what a real push refuses, and records nothing of it", () =>
    Effect.gen(function*() {
      const badQueue = yield* Effect.flip(push({ jobtype: "X", queue: "no spaces allowed" }))
      expect(badQueue._tag).toBe("JobValidationError")
      const badArgs = yield* Effect.flip(Resize.push({ file: "a.png", width: 1.5 }))
      expect(badArgs._tag).toBe("JobValidationError")
      const notJson = yield* Effect.flip(push({ jobtype: "X", args: [() => 1] }))
      expect(notJson._tag).toBe("JobValidationError")
      expect(yield* FakeFaktory.pushed()).toEqual([])
    }).pipe(Effect.provide(FakeFaktory.layer(Layer.empty))))

  it.effect("runs client middleware, and checks the job it passes on again", () =>
    Effect.gen(function*() {
      yield* push({ jobtype: "Tagged" })
      expect((yield* FakeFaktory.payloads())[0]?.custom).toEqual({ tenant: "acme" })
      const rerouted = yield* Effect.flip(push({ jobtype: "Reroute" }))
      expect(rerouted._tag).toBe("JobValidationError")
      expect((yield* FakeFaktory.pushed()).map((job) => job.jobtype)).toEqual(["Tagged"])
    }).pipe(
      Effect.provide(FakeFaktory.layer(Layer.empty, {
        clientMiddleware: [
          (job, next) => next({ ...job, custom: { ...job.custom, tenant: "acme" } }),
          (job, next) => next(job.jobtype === "Reroute" ? { ...job, queue: "not a queue" } : job)
        ]
      }))
    ))

  it.effect("drain runs every job through its handler, the jobs handlers push included, with worker middleware", () => {
    const { done, handlers } = makeHandlers()
    const seen: Array<string> = []
    return Effect.gen(function*() {
      yield* SignUp.push(["ada@example.com"])
      yield* Resize.push({ file: "a.png", width: 640 })
      const ran = yield* FakeFaktory.drain()
      expect(ran).toBe(3)
      expect(done).toEqual(["signed up ada@example.com", "a.png@640", "welcome to ada@example.com"])
      expect(seen).toEqual(["SignUp", "Resize", "SendEmail"])
      expect(yield* FakeFaktory.payloads()).toEqual([])
      expect((yield* FakeFaktory.pushed()).length).toBe(3)
    }).pipe(
      Effect.provide(FakeFaktory.layer(handlers, {
        workerMiddleware: [(job, next) => Effect.zipRight(Effect.sync(() => seen.push(job.jobtype)), next)]
      }))
    )
  })

  it.effect("drainOne and filters run only the jobs asked for", () => {
    const { done, handlers } = makeHandlers()
    return Effect.gen(function*() {
      yield* Resize.push({ file: "a.png", width: 1 })
      yield* SendEmail.push(["b@example.com", "receipt"])
      const first = yield* FakeFaktory.drainOne(SendEmail)
      expect(Option.map(first, (job) => job.jobtype)).toEqual(Option.some("SendEmail"))
      expect(yield* FakeFaktory.drainOne({ queue: "mail" })).toEqual(Option.none())
      expect(done).toEqual(["receipt to b@example.com"])
      expect(yield* FakeFaktory.drain({ queue: "default" })).toBe(1)
    }).pipe(Effect.provide(FakeFaktory.layer(handlers)))
  })

  it.effect("a failing job fails the drain with the errtype the worker would report, and is not run again", () => {
    const { handlers } = makeHandlers()
    return Effect.gen(function*() {
      yield* Explode.push(["typed"])
      const typed = yield* Effect.flip(FakeFaktory.drain())
      expect(typed).toMatchObject({ _tag: "JobFailedError", jobtype: "Explode", errtype: "PaymentDeclined" })
      expect(yield* FakeFaktory.payloads()).toEqual([])

      yield* Explode.push(["defect"])
      const defect = yield* Effect.flip(FakeFaktory.drain())
      expect(defect).toMatchObject({ _tag: "JobFailedError", errtype: "TypeError", detail: "card is undefined" })

      const client = yield* Client.Client
      yield* client.push({ jobtype: "SendEmail", queue: "mail", args: [42] })
      const invalid = yield* Effect.flip(FakeFaktory.drain())
      expect(invalid).toMatchObject({ _tag: "JobFailedError", errtype: "InvalidArguments" })

      yield* client.push({ jobtype: "NobodyHandlesThis" })
      const unknown = yield* Effect.flip(FakeFaktory.drainOne())
      expect(unknown).toMatchObject({ _tag: "JobFailedError", errtype: "UnknownJobType", jobtype: "NobodyHandlesThis" })
      expect(unknown.message).toBe(`job NobodyHandlesThis (${unknown.jid}) failed: UnknownJobType: no handler for jobtype NobodyHandlesThis`)
    }).pipe(Effect.provide(FakeFaktory.layer(handlers)))
  })

  it.effect("jobs decoded by FakeFaktory.jobs fail typed when their arguments do not match the definition", () =>
    Effect.gen(function*() {
      const client = yield* Client.Client
      yield* client.push({ jobtype: "SendEmail", args: ["a@example.com", "newsletter"] })
      const error = yield* Effect.flip(FakeFaktory.jobs(SendEmail))
      expect(error._tag).toBe("InvalidArgumentsError")
    }).pipe(Effect.provide(FakeFaktory.layer(Layer.empty))))

  it.effect("a drain that never runs out stops at its limit", () => {
    const { handlers } = makeHandlers()
    return Effect.gen(function*() {
      yield* Forever.push([0])
      const error = yield* Effect.flip(FakeFaktory.drain(undefined, { limit: 50 }))
      expect(error).toMatchObject({ _tag: "DrainLimitError", limit: 50, waiting: 1 })
    }).pipe(Effect.provide(FakeFaktory.layer(handlers)))
  })

  it.effect("clear, flush, removeQueues and paused queues", () =>
    Effect.gen(function*() {
      const client = yield* Client.Client
      yield* push({ jobtype: "A", queue: "q1" })
      yield* push({ jobtype: "B", queue: "q2" })
      yield* client.pauseQueues(["q1"])
      // Nothing handles A or B: a drain that ran either would fail.
      expect(yield* FakeFaktory.drain({ queue: "q1" })).toBe(0)
      yield* client.removeQueues(["q2"])
      expect((yield* FakeFaktory.payloads()).map((job) => job.jobtype)).toEqual(["A"])
      expect((yield* client.queueLatency(["q1", "q2"])).q2).toBe(0)
      yield* FakeFaktory.clear
      expect(yield* FakeFaktory.pushed()).toEqual([])
      yield* push({ jobtype: "C" })
      yield* client.flush
      expect(yield* FakeFaktory.pushed()).toEqual([])
      const bad = yield* Effect.flip(client.pauseQueues(["not a queue"]))
      expect(bad._tag).toBe("InvalidArgumentError")
    }).pipe(Effect.provide(FakeFaktory.layer(Layer.empty))))

  it.effect("commands a fake cannot honour fail, typed, saying so", () =>
    Effect.gen(function*() {
      const client = yield* Client.Client
      for (
        const command of [
          client.fetch(["default"]),
          client.ack("0123456789ab"),
          client.fail({ jid: "0123456789ab", errtype: "E", message: "m" }),
          client.beat({ wid: "w" }),
          client.info,
          client.mutate({ cmd: "clear", target: "dead" })
        ]
      ) {
        const error = yield* Effect.flip(command)
        expect(error).toMatchObject({ _tag: "ServerError", code: "UNSUPPORTED" })
        expect(error.message).toContain("FakeFaktory does not support")
      }
      expect((yield* Effect.flip(client.batch({ _tag: "Status", bid: "b-1" })))._tag).toBe("EnterpriseRequiredError")
      expect((yield* Effect.flip(client.withConnection(() => Effect.void)))._tag).toBe("ConnectionError")
    }).pipe(Effect.provide(FakeFaktory.layer(Layer.empty))))
})

describe("FakeFaktory.layerInline (inline mode)", () => {
  it.effect("each push runs its job before it returns, nested pushes included", () => {
    const { done, handlers } = makeHandlers()
    return Effect.gen(function*() {
      yield* SignUp.push(["ada@example.com"])
      expect(done).toEqual(["signed up ada@example.com", "welcome to ada@example.com"])
      expect(yield* FakeFaktory.payloads()).toEqual([])
      expect((yield* FakeFaktory.pushed()).map((job) => job.jobtype)).toEqual(["SignUp", "SendEmail"])
    }).pipe(Effect.provide(FakeFaktory.layerInline(handlers)))
  })

  it.effect("a push whose job fails fails with its errtype; in pushBulk it is rejected and the rest run", () => {
    const { done, handlers } = makeHandlers()
    return Effect.gen(function*() {
      const error = yield* Effect.flip(Explode.push(["typed"]))
      expect(error).toMatchObject({ _tag: "ServerError", command: "PUSH", code: "PaymentDeclined" })
      const client = yield* Client.Client
      const result = yield* client.pushBulk([
        { jobtype: "Explode", args: ["defect"], jid: "explode-0001" },
        { jobtype: "Resize", args: [{ file: "c.png", width: 8 }] }
      ])
      expect(result.rejected).toEqual([{ jid: "explode-0001", reason: "TypeError: card is undefined" }])
      expect(result.pushed.length).toBe(1)
      expect(done).toEqual(["c.png@8"])
    }).pipe(Effect.provide(FakeFaktory.layerInline(handlers)))
  })
  it.effect("pushBulk refuses two jobs with the same jid, as the real client does: nothing is pushed", () => {
    const { done, handlers } = makeHandlers()
    return Effect.gen(function*() {
      const client = yield* Client.Client
      const error = yield* Effect.flip(client.pushBulk([
        { jobtype: "Resize", args: [{ file: "d.png", width: 8 }], jid: "twice-0001" },
        { jobtype: "Resize", args: [{ file: "e.png", width: 8 }], jid: "twice-0001" }
      ]))
      expect(error).toMatchObject({ _tag: "JobValidationError", jid: "twice-0001" })
      expect(error.message).toContain("jobs[1]")
      expect(done).toEqual([])
      expect(yield* FakeFaktory.pushed()).toEqual([])
    }).pipe(Effect.provide(FakeFaktory.layerInline(handlers)))
  })
  it.effect("a handler that pushes its own kind every time stops at a depth limit, said once", () => {
    const { handlers } = makeHandlers()
    return Effect.gen(function*() {
      const error = yield* Effect.flip(Forever.push([0]))
      expect(error).toMatchObject({ _tag: "ServerError", command: "PUSH", code: "InlineDepthLimit" })
      // One sentence, not one wrapper a level (it was 47,000 characters, ending in a stack overflow).
      expect(error.message.length).toBeLessThan(400)
      expect((yield* FakeFaktory.pushed({ jobtype: "Forever" })).length).toBe(101)
    }).pipe(Effect.provide(FakeFaktory.layerInline(handlers)))
  })
})

describe("FakeFaktory and handlers given a client of their own", () => {
  // A handler layer provided with a real client (here one to a port where nothing listens):
  // under the fake its pushes are the fake's all the same, in both modes.
  const Parent = Job.define("OwnParent", { args: Schema.Tuple(Schema.String) })
  const Child = Job.define("OwnChild", { args: Schema.Tuple(Schema.String) })
  const Handlers = Layer.mergeAll(
    Parent.handle(([text]) => Child.push([text])).pipe(Layer.provide(NodeClient.layer({ url: "tcp://127.0.0.1:1" }))),
    Child.handle(() => Effect.void)
  )

  it.effect("fake mode records the handler's push", () =>
    Effect.gen(function*() {
      yield* Parent.push(["a"])
      expect(yield* FakeFaktory.drain()).toBe(2)
      expect((yield* FakeFaktory.pushed()).map((job) => job.jobtype)).toEqual(["OwnParent", "OwnChild"])
    }).pipe(Effect.provide(FakeFaktory.layer(Handlers))))

  it.effect("inline mode runs it", () =>
    Effect.gen(function*() {
      yield* Parent.push(["b"])
      expect((yield* FakeFaktory.pushed()).map((job) => job.jobtype)).toEqual(["OwnParent", "OwnChild"])
    }).pipe(Effect.provide(FakeFaktory.layerInline(Handlers))))
})
