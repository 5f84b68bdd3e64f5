// One table of handler and middleware mistakes (the README's outcome table, row by row), run
// through a worker against a real server and through both FakeFaktory modes: each row ends the
// same way in all three (ACK, or FAIL with the same errtype and message), since all three run
// jobs through the same JobRunner.
import { describe, expect, it } from "@effect/vitest"
import { Client, Job, type JobRunner, Worker } from "@effect-faktory/core"
import { NodeTransport } from "@effect-faktory/node"
import { FakeFaktory, FaktoryServer } from "@effect-faktory/testing"
import { Effect, Either, Layer, Option, Schema } from "effect"
import { Env, waitFor } from "./support.js"

class Declined extends Schema.TaggedError<Declined>()("Declined", { card: Schema.String }) {}
class Refused extends Schema.TaggedError<Refused>()("Refused", { by: Schema.String }) {
  override get message() {
    return `refused by ${this.by}`
  }
}

/** What untyped code can make a handler or middleware return. */
const untyped = <A>(value: unknown): A => value as A

const Ok = Job.define("Ok", { args: Schema.Tuple(Schema.Number) })
const TypedFailure = Job.define("TypedFailure", { args: Schema.Tuple() })
const FailText = Job.define("FailText", { args: Schema.Tuple() })
const FailUndefined = Job.define("FailUndefined", { args: Schema.Tuple() })
const Dies = Job.define("Dies", { args: Schema.Tuple() })
const ThrowsInside = Job.define("ThrowsInside", { args: Schema.Tuple() })
const ThrowsString = Job.define("ThrowsString", { args: Schema.Tuple() })
const ThrowsBefore = Job.define("ThrowsBefore", { args: Schema.Tuple() })
const ReturnsPromise = Job.define("ReturnsPromise", { args: Schema.Tuple() })
const ReturnsNumber = Job.define("ReturnsNumber", { args: Schema.Tuple() })
const BadArgs = Job.define("BadArgs", { args: Schema.Tuple(Schema.String, Schema.Int) })
const MwThrows = Job.define("MwThrows", { args: Schema.Tuple() })
const MwPromise = Job.define("MwPromise", { args: Schema.Tuple() })
const MwFails = Job.define("MwFails", { args: Schema.Tuple() })

const Handlers = Layer.mergeAll(
  Ok.handle(() => Effect.void),
  TypedFailure.handle(() => Effect.fail(new Declined({ card: "4242" }))),
  FailText.handle(() => Effect.fail("text")),
  FailUndefined.handle(() => Effect.fail(undefined)),
  Dies.handle(() => Effect.die(new RangeError("too far"))),
  ThrowsInside.handle(() =>
    Effect.sync(() => {
      throw new TypeError("x is undefined")
    })
  ),
  ThrowsString.handle(() =>
    Effect.sync(() => {
      throw "a string"
    })
  ),
  ThrowsBefore.handle((): Effect.Effect<void> => {
    throw new SyntaxError("thrown before any Effect")
  }),
  ReturnsPromise.handle(() => untyped<Effect.Effect<void>>(Promise.resolve())),
  ReturnsNumber.handle(() => untyped<Effect.Effect<void>>(42)),
  BadArgs.handle(() => Effect.void),
  MwThrows.handle(() => Effect.void),
  MwPromise.handle(() => Effect.void),
  MwFails.handle(() => Effect.void)
)

const mischief: JobRunner.Middleware = (job, next) => {
  switch (job.jobtype) {
    case "MwThrows":
      throw new EvalError("middleware threw")
    case "MwPromise":
      return untyped(Promise.resolve())
    case "MwFails":
      return Effect.fail(new Refused({ by: "the middleware" }))
    default:
      return next
  }
}

interface Row {
  readonly jobtype: string
  readonly args: ReadonlyArray<unknown>
  /** The errtype the README's table gives; undefined for an ACK. */
  readonly errtype: string | undefined
}

const rows: ReadonlyArray<Row> = [
  { jobtype: "Ok", args: [1], errtype: undefined },
  { jobtype: "TypedFailure", args: [], errtype: "Declined" },
  { jobtype: "FailText", args: [], errtype: "Error" },
  { jobtype: "FailUndefined", args: [], errtype: "Error" },
  { jobtype: "Dies", args: [], errtype: "RangeError" },
  { jobtype: "ThrowsInside", args: [], errtype: "TypeError" },
  { jobtype: "ThrowsString", args: [], errtype: "Defect" },
  { jobtype: "ThrowsBefore", args: [], errtype: "SyntaxError" },
  { jobtype: "ReturnsPromise", args: [], errtype: "HandlerReturnedNonEffect" },
  { jobtype: "ReturnsNumber", args: [], errtype: "HandlerReturnedNonEffect" },
  { jobtype: "BadArgs", args: [7, "x"], errtype: "InvalidArguments" },
  { jobtype: "NoSuchHandler", args: [], errtype: "UnknownJobType" },
  { jobtype: "MwThrows", args: [], errtype: "EvalError" },
  { jobtype: "MwPromise", args: [], errtype: "HandlerReturnedNonEffect" },
  { jobtype: "MwFails", args: [], errtype: "Refused" }
]

/** How a row ended: "ACK", or the FAIL's errtype and message. */
type Ending = "ACK" | { readonly errtype: string; readonly message: string }

const queue = "parity"
const jidOf = (row: Row) => `parity-${row.jobtype}`
const jobOf = (row: Row) => ({ jid: jidOf(row), jobtype: row.jobtype, args: row.args, queue, retry: 1 })

const throughWorker = Effect.gen(function*() {
  const server = yield* FaktoryServer.FaktoryServer
  const client = yield* Client.Client
  const worker = yield* Worker.make({
    queues: [queue],
    concurrency: 3,
    heartbeatInterval: "1 second",
    shutdownTimeout: "2 seconds",
    middleware: [mischief],
    client: server.clientOptions
  }).pipe(Effect.provide(Layer.merge(Handlers, NodeTransport.layer)))
  for (const row of rows) yield* client.push(jobOf(row))
  yield* waitFor(`all ${rows.length} jobs reported`, () => {
    const { acked, failed } = worker.processed()
    return acked + failed === rows.length
  }, 20)
  yield* worker.terminate
  const endings = new Map<string, Ending>()
  for (const row of rows) {
    // What the server recorded: a failed job waits in the retry set; move it back and read it.
    yield* client.mutate({ cmd: "requeue", target: "retries", filter: { jids: [jidOf(row)] } })
    const job = yield* client.fetch([queue])
    if (Option.isNone(job)) {
      endings.set(row.jobtype, "ACK")
      continue
    }
    yield* client.ack(job.value.jid)
    const failure = job.value.failure
    endings.set(row.jobtype, failure === undefined ? "ACK" : { errtype: failure.errtype ?? "", message: failure.message ?? "" })
  }
  return endings
}).pipe(
  Effect.scoped,
  Effect.provide(Env)
)

const throughFake = Effect.gen(function*() {
  const client = yield* Client.Client
  const endings = new Map<string, Ending>()
  for (const row of rows) {
    yield* client.push(jobOf(row))
    const ran = yield* Effect.either(FakeFaktory.drainOne())
    endings.set(
      row.jobtype,
      Either.isRight(ran) ? "ACK" : { errtype: ran.left.errtype, message: ran.left.detail }
    )
  }
  return endings
}).pipe(Effect.provide(FakeFaktory.layer(Handlers, { workerMiddleware: [mischief] })))

const throughInline = Effect.gen(function*() {
  const client = yield* Client.Client
  const endings = new Map<string, Ending>()
  for (const row of rows) {
    const pushed = yield* Effect.either(client.push(jobOf(row)))
    if (Either.isRight(pushed)) {
      endings.set(row.jobtype, "ACK")
      continue
    }
    const error = pushed.left
    if (error._tag !== "ServerError") return yield* Effect.die(error)
    // Inline, a push fails as its job did: the errtype as the code, the message after this prefix.
    const prefix = `job ${row.jobtype} (${jidOf(row)}) ran inline and failed: `
    expect(error.detail.startsWith(prefix)).toBe(true)
    endings.set(row.jobtype, { errtype: error.code, message: error.detail.slice(prefix.length) })
  }
  return endings
}).pipe(Effect.provide(FakeFaktory.layerInline(Handlers, { workerMiddleware: [mischief] })))

describe("one job runner for the worker and the fake", () => {
  it.live("every handler and middleware mistake ends the same way through a real worker, the fake and inline", () =>
    Effect.gen(function*() {
      const worker = yield* throughWorker
      const fake = yield* throughFake
      const inline = yield* throughInline
      for (const row of rows) {
        const expected = worker.get(row.jobtype)
        expect(expected === "ACK" ? undefined : expected?.errtype, row.jobtype).toBe(row.errtype)
        expect(fake.get(row.jobtype), `${row.jobtype} through the fake`).toEqual(expected)
        expect(inline.get(row.jobtype), `${row.jobtype} inline`).toEqual(expected)
      }
      // The message says what went wrong, as the README's table has it.
      expect(worker.get("MwPromise")).toMatchObject({ message: expect.stringContaining("a middleware for MwPromise returned a Promise") })
      expect(worker.get("BadArgs")).toMatchObject({ message: expect.stringContaining("invalid arguments for BadArgs") })
    }), { timeout: 60_000 })
})
