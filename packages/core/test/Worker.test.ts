import { expect, layer } from "@effect/vitest"
import { Client, Job, JobHandler, type JobRunner } from "@effect-faktory/core"
import { FaktoryServer } from "@effect-faktory/testing"
import { Deferred, Effect, Exit, HashMap, Layer, Logger, Option, ParseResult, Queue, Schema, Scope } from "effect"
import * as Http from "node:http"
import { recordingTracer } from "./RecordingTracer.js"
import { EnvWithWebUi, failureOf, MailerError, queueSize, startWorker, waitFor } from "./support.js"

/** Signals a worker from the Web UI, as a person would with the Busy page's buttons. */
const signalFromWebUi = (wid: string, signal: "quiet" | "terminate") =>
  Effect.flatMap(FaktoryServer.FaktoryServer, (server) =>
    Effect.async<number>((resume) => {
      const body = new URLSearchParams({ wid, signal }).toString()
      const request = Http.request(`${server.webUrl}/busy`, {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded", "content-length": Buffer.byteLength(body) }
      }, (response) => {
        response.resume()
        resume(Effect.succeed(response.statusCode ?? 0))
      })
      request.on("error", (error) => resume(Effect.die(error)))
      request.end(body)
    }))

const Greet = Job.define("Greet", { args: Schema.Tuple(Schema.String, Schema.Number), queue: "w-types" })
const Resize = Job.define("Resize", {
  args: Schema.Struct({ file: Schema.String, width: Schema.Int }),
  queue: "w-types"
})

layer(EnvWithWebUi, { excludeTestServices: true, timeout: "90 seconds" })("Worker against a real Faktory server", (it) => {
  it.scoped("runs jobs of several types with their decoded arguments, including jobs pushed untyped", () =>
    Effect.gen(function*() {
      const greeted: Array<readonly [string, number]> = []
      const resized: Array<{ file: string; width: number }> = []
      yield* startWorker(
        { queues: ["w-types"] },
        Layer.mergeAll(
          Greet.handle((args) => Effect.sync(() => greeted.push(args))),
          Resize.handle((args) => Effect.sync(() => resized.push(args)))
        )
      )
      yield* Greet.push(["ada", 1])
      yield* Resize.push({ file: "a.png", width: 640 })
      // As a Ruby or Go producer would send it: positional args, no definition.
      yield* Effect.flatMap(Client.Client, (client) => client.push({ jobtype: "Greet", queue: "w-types", args: ["grace", 2] }))
      yield* waitFor("three jobs", () => greeted.length + resized.length === 3)
      expect(greeted.sort()).toEqual([["ada", 1], ["grace", 2]])
      expect(resized).toEqual([{ file: "a.png", width: 640 }])
    }))

  it.scoped("FAILs a typed failure with its tag and message, and a defect with its error name", () =>
    Effect.gen(function*() {
      const Send = Job.define("Send", { args: Schema.Tuple(Schema.String), queue: "w-fail", retry: 3 })
      const Crash = Job.define("Crash", { args: Schema.Tuple(), queue: "w-fail", retry: 3 })
      const worker = yield* startWorker(
        { queues: ["w-fail"] },
        Layer.mergeAll(
          Send.handle(([to]) => Effect.fail(new MailerError({ detail: `no such user ${to}` }))),
          Crash.handle(() =>
            Effect.sync(() => {
              throw new TypeError("cannot read properties of undefined")
            })
          )
        )
      )
      const sent = yield* Send.push(["bob@example.com"])
      const crashed = yield* Crash.push([])
      yield* waitFor("two failures", () => worker.processed().failed === 2)
      yield* worker.terminate
      const sendFailure = yield* failureOf(sent, "w-fail")
      expect(sendFailure).toMatchObject({ errtype: "MailerError", message: "smtp: no such user bob@example.com" })
      expect(sendFailure?.backtrace?.length).toBeGreaterThan(0)
      const crashFailure = yield* failureOf(crashed, "w-fail")
      expect(crashFailure).toMatchObject({ errtype: "TypeError", message: "cannot read properties of undefined" })
    }))

  it.scoped("FAILs invalid arguments and unknown jobtypes without calling a handler", () =>
    Effect.gen(function*() {
      const Typed = Job.define("Typed", { args: Schema.Tuple(Schema.String, Schema.Number), queue: "w-invalid" })
      let called = 0
      const worker = yield* startWorker({ queues: ["w-invalid"] }, Typed.handle(() => Effect.sync(() => called++)))
      const client = yield* Client.Client
      const bad = yield* client.push({ jobtype: "Typed", queue: "w-invalid", args: ["x", "not a number"], retry: 1 })
      const unknown = yield* client.push({ jobtype: "Mystery", queue: "w-invalid", args: [], retry: 1 })
      yield* waitFor("two failures", () => worker.processed().failed === 2)
      yield* worker.terminate
      expect(called).toBe(0)
      const badFailure = yield* failureOf(bad, "w-invalid")
      expect(badFailure?.errtype).toBe("InvalidArguments")
      expect(badFailure?.message).toContain("Expected number")
      expect(yield* failureOf(unknown, "w-invalid")).toMatchObject({
        errtype: "UnknownJobType",
        message: "no handler for jobtype Mystery"
      })
    }))

  it.scoped("tells subscribers of each report the server accepted from the moment they subscribe, until their scope closes", () =>
    Effect.gen(function*() {
      const Told = Job.define("Told", { args: Schema.Tuple(Schema.Boolean), queue: "w-reports", retry: 0 })
      const worker = yield* startWorker(
        { queues: ["w-reports"] },
        Told.handle(([ok]) => (ok ? Effect.void : new MailerError({ detail: "down" })))
      )
      const client = yield* Client.Client
      yield* Told.push([true])
      yield* waitFor("the job before the subscription", () => worker.processed().acked === 1)
      const scope = yield* Scope.make()
      const reports = yield* Scope.extend(worker.subscribeReports, scope)
      const acked = yield* Told.push([true])
      const failed = yield* Told.push([false])
      const unknown = yield* client.push({ jobtype: "Nobody", queue: "w-reports", args: [], retry: 0 })
      const got = yield* Effect.forEach([1, 2, 3], () => Queue.take(reports))
      const byJid = new Map(got.map((report) => [report.jid, report]))
      expect(byJid.get(acked)).toEqual({ jid: acked, jobtype: "Told", queue: "w-reports", verb: "ACK", failure: undefined })
      expect(byJid.get(failed)).toMatchObject({
        jid: failed,
        jobtype: "Told",
        verb: "FAIL",
        failure: { errtype: "MailerError", message: "smtp: down" }
      })
      expect(byJid.get(unknown)).toMatchObject({ jobtype: "Nobody", verb: "FAIL", failure: { errtype: "UnknownJobType" } })
      expect(worker.processed()).toEqual({ acked: 2, failed: 2 })
      yield* Scope.close(scope, Exit.void)
      expect(yield* Queue.isShutdown(reports)).toBe(true)
    }))

  it.scoped("never runs more than `concurrency` jobs at once", () =>
    Effect.gen(function*() {
      const Slow = Job.define("Slow", { args: Schema.Tuple(Schema.Number), queue: "w-concurrency" })
      let current = 0
      let peak = 0
      let done = 0
      yield* startWorker(
        { queues: ["w-concurrency"], concurrency: 4 },
        Slow.handle(() =>
          Effect.sync(() => {
            current++
            peak = Math.max(peak, current)
          }).pipe(
            Effect.zipRight(Effect.sleep("60 millis")),
            Effect.ensuring(Effect.sync(() => {
              current--
              done++
            }))
          )
        )
      )
      yield* Slow.pushBulk(Array.from({ length: 40 }, (_, i) => [i] as const))
      yield* waitFor("40 jobs", () => done === 40)
      expect(peak).toBe(4)
    }))

  it.scoped("serves weighted queues roughly by weight", () =>
    Effect.gen(function*() {
      const Weighed = Job.define("Weighed", { args: Schema.Tuple(Schema.String) })
      const served: Array<string> = []
      const client = yield* Client.Client
      yield* client.pushBulk(Array.from({ length: 150 }, () => ({ jobtype: "Weighed", queue: "w-heavy", args: ["heavy"] })))
      yield* client.pushBulk(Array.from({ length: 150 }, () => ({ jobtype: "Weighed", queue: "w-light", args: ["light"] })))
      const worker = yield* startWorker(
        { queues: { "w-heavy": 3, "w-light": 1 }, concurrency: 1 },
        Weighed.handle(([which]) => Effect.sync(() => served.push(which)))
      )
      yield* waitFor("100 jobs", () => served.length >= 100)
      yield* worker.quiet
      const heavy = served.slice(0, 100).filter((which) => which === "heavy").length
      // Expected 75 of 100; the bounds leave room for chance (about 5 standard deviations).
      expect(heavy).toBeGreaterThan(52)
      expect(heavy).toBeLessThan(95)
      yield* client.removeQueues(["w-heavy", "w-light"])
    }))

  it.scoped("runs middleware around each job, outermost first", () =>
    Effect.gen(function*() {
      const Wrapped = Job.define("Wrapped", { args: Schema.Tuple(), queue: "w-middleware" })
      const trace: Array<string> = []
      const mark = (name: string): JobRunner.Middleware => (job, next) =>
        Effect.sync(() => trace.push(`${name}>${job.jobtype}`)).pipe(
          Effect.zipRight(next),
          Effect.tap(() => Effect.sync(() => trace.push(`<${name}`)))
        )
      yield* startWorker(
        { queues: ["w-middleware"], middleware: [mark("outer"), mark("inner")] },
        Wrapped.handle(() => Effect.sync(() => trace.push("handler")))
      )
      yield* Wrapped.push([])
      yield* waitFor("the job", () => trace.length === 5)
      expect(trace).toEqual(["outer>Wrapped", "inner>Wrapped", "handler", "<inner", "<outer"])
    }))

  it.scoped("runs handlers with the worker's logger and annotations, the job's span, and asynchronous Schemas", () =>
    Effect.gen(function*() {
      // An argument Schema that decodes asynchronously cannot take the synchronous path.
      const Shouted = Schema.transformOrFail(Schema.String, Schema.String, {
        decode: (text) => Effect.as(Effect.sleep("1 millis"), text.toUpperCase()),
        encode: (text) => ParseResult.succeed(text.toLowerCase())
      })
      const Traced = Job.define("Traced", { args: Schema.Tuple(Shouted), queue: "w-traced" })
      const logged: Array<{ message: unknown; annotations: Record<string, unknown> }> = []
      const spans: Array<{ name: string; jid: unknown; parent: string | undefined }> = []
      const seen: Array<string> = []
      const { made: recorded, tracer: recording } = yield* recordingTracer
      const captured = Logger.make(({ annotations, message }) => {
        logged.push({ message, annotations: Object.fromEntries(HashMap.toEntries(annotations)) })
      })
      yield* startWorker(
        { queues: ["w-traced"] },
        Traced.handle(([text]) =>
          Effect.gen(function*() {
            seen.push(text)
            yield* Effect.log(`handling ${text}`)
            const job = yield* Effect.currentSpan
            const inner = yield* Effect.currentSpan.pipe(Effect.withSpan("inner"))
            spans.push({
              name: job.name,
              jid: job.attributes.get("messaging.message.id"),
              parent: Option.getOrUndefined(Option.map(inner.parent, (parent) => parent._tag === "Span" ? parent.name : "external"))
            })
          })
        )
      ).pipe(
        Effect.annotateLogs("app", "billing"),
        Effect.provide(Logger.replace(Logger.defaultLogger, captured)),
        // Job spans are made for a tracer that records them, as an OpenTelemetry layer installs.
        Effect.withTracer(recording)
      )
      const jid = yield* Traced.push(["abc"])
      yield* waitFor("the job", () => spans.length === 1)
      expect(seen).toEqual(["ABC"])
      expect(spans).toEqual([{ name: "process w-traced", jid, parent: "process w-traced" }])
      const jobSpan = recorded.find((span) => span.name === "process w-traced")
      yield* waitFor("the job span to end", () => jobSpan?.status._tag === "Ended")
      expect(jobSpan?.kind).toBe("consumer")
      expect(logged.find((entry) => Array.isArray(entry.message) && entry.message[0] === "handling ABC")?.annotations)
        .toEqual({ app: "billing", jid, jobtype: "Traced" })
    }))

  it.scoped("each job's log annotations are its own, also in fibers it leaves running", () =>
    Effect.gen(function*() {
      // One processor: the jobs start one after the other from the same runtime, each with
      // its jid put into its fiber's refs (in place, see JobRunner's annotate).
      const Annotated = Job.define("Annotated", { args: Schema.Tuple(Schema.String), queue: "w-annotated" })
      const lines: Array<{ text: string; jid: unknown; jobtype: unknown }> = []
      const captured = Logger.make(({ annotations, message }) => {
        const text = Array.isArray(message) ? String(message[0]) : String(message)
        lines.push({ text, jid: HashMap.get(annotations, "jid").pipe(Option.getOrUndefined), jobtype: HashMap.get(annotations, "jobtype").pipe(Option.getOrUndefined) })
      })
      const secondStarted = yield* Deferred.make<void>()
      yield* startWorker(
        { queues: ["w-annotated"], concurrency: 1 },
        Annotated.handle(([name]) =>
          name === "first"
            // Logs again from a fiber that outlives the job, once the next job has begun.
            ? Effect.zipRight(
              Effect.log("first runs"),
              Effect.forkDaemon(Effect.zipRight(Deferred.await(secondStarted), Effect.log("first's fiber, later")))
            )
            : Effect.zipRight(Effect.log("second runs"), Deferred.succeed(secondStarted, undefined))
        )
      ).pipe(
        // Annotations of the worker's own, under the jobs' (the stack the jobs' are put on).
        Effect.annotateLogs("app", "billing"),
        Effect.provide(Logger.replace(Logger.defaultLogger, captured))
      )
      const first = yield* Annotated.push(["first"])
      const second = yield* Annotated.push(["second"])
      yield* waitFor("the three lines", () => lines.filter((line) => line.jobtype === "Annotated").length === 3)
      const jidOf = (text: string) => lines.find((line) => line.text === text)?.jid
      expect([jidOf("first runs"), jidOf("second runs"), jidOf("first's fiber, later")]).toEqual([first, second, first])
      // The worker's own lines carry no job's jid.
      expect(lines.filter((line) => line.jobtype === undefined && line.jid !== undefined)).toEqual([])
    }))

  it.scoped("gives handlers the job's context", () =>
    Effect.gen(function*() {
      const Contextual = Job.define("Contextual", { args: Schema.Tuple(), queue: "w-context" })
      const seen: Array<JobHandler.JobContext> = []
      yield* startWorker(
        { queues: ["w-context"] },
        Contextual.handle((_, context) =>
          Effect.flatMap(JobHandler.CurrentJob, (current) => Effect.sync(() => seen.push(current === context ? context : current)))
        )
      )
      const jid = yield* Contextual.with({ custom: { tenant: { id: 7 } } }).with({ custom: { tenant: { region: "eu" } } }).push([])
      yield* waitFor("the job", () => seen.length === 1)
      expect(seen[0]).toMatchObject({ jid, jobtype: "Contextual", queue: "w-context", retryCount: 0 })
      expect(seen[0]?.custom).toEqual({ tenant: { id: 7, region: "eu" } })
    }))

  it.scoped("interrupts and FAILs a job about to outlive its reservation", () =>
    Effect.gen(function*() {
      const Stuck = Job.define("Stuck", { args: Schema.Tuple(), queue: "w-reserve", retry: 1 })
      const Patient = Job.define("Patient", { args: Schema.Tuple(), queue: "w-reserve", guardReservation: false })
      let patientDone = false
      const worker = yield* startWorker(
        { queues: ["w-reserve"], reservationLimit: () => "300 millis" },
        Layer.mergeAll(
          Stuck.handle(() => Effect.never),
          Patient.handle(() => Effect.sleep("600 millis").pipe(Effect.zipRight(Effect.sync(() => (patientDone = true)))))
        )
      )
      const stuck = yield* Stuck.push([])
      yield* Patient.push([])
      yield* waitFor("the stuck job failed and the patient one finished", () =>
        worker.processed().failed === 1 && patientDone)
      yield* worker.terminate
      expect((yield* failureOf(stuck, "w-reserve"))?.errtype).toBe("ReservationExpired")
    }))

  it.scoped("gives up on a job that ignores the reservation guard's interruption: FAILed while the reservation holds, its slot freed", () =>
    Effect.gen(function*() {
      const Stubborn = Job.define("Stubborn", { args: Schema.Tuple(), queue: "w-stubborn", retry: 1 })
      const Next = Job.define("AfterStubborn", { args: Schema.Tuple(), queue: "w-stubborn" })
      let stubbornEnded = false
      let nextRan = false
      const warnings: Array<string> = []
      const captured = Logger.make(({ logLevel, message }) => {
        if (logLevel._tag === "Warning") warnings.push(Array.isArray(message) ? message.join(" ") : String(message))
      })
      const worker = yield* startWorker(
        // One processor: the next job runs only once the stubborn one's slot is given back.
        { queues: ["w-stubborn"], concurrency: 1, reservationLimit: () => "300 millis" },
        Layer.mergeAll(
          Stubborn.handle(() =>
            Effect.uninterruptible(Effect.sleep("30 seconds")).pipe(Effect.ensuring(Effect.sync(() => (stubbornEnded = true))))
          ),
          Next.handle(() => Effect.sync(() => (nextRan = true)))
        )
      ).pipe(Effect.provide(Logger.replace(Logger.defaultLogger, captured)))
      const stubborn = yield* Stubborn.push([])
      yield* Next.push([])
      // Without the guard giving up, the processor would wait out the handler's 30 s, and then its FAIL would be
      // refused ("Job not found": the reservation had run out).
      yield* waitFor("the stubborn job FAILed and the next one run", () => worker.processed().failed === 1 && nextRan, 12)
      expect(stubbornEnded).toBe(false)
      expect(warnings.some((line) => line.startsWith(`job ${stubborn} is still running as its 1800 s reservation is about to run out`)))
        .toBe(true)
      expect(warnings.some((line) => line.startsWith(`job ${stubborn} did not stop within 5 s of its interruption`))).toBe(true)
      // Terminate is not held by the job still running uninterruptibly.
      yield* worker.terminate
      const failure = yield* failureOf(stubborn, "w-stubborn")
      expect(failure?.errtype).toBe("ReservationExpired")
      expect(failure?.message).toContain("did not stop within 5 s of its interruption as its 1800 s reservation was about to run out")
    }))

  it.scoped("refuses two handlers for one jobtype when the worker starts", () =>
    Effect.gen(function*() {
      const Twice = Job.define("Twice", { args: Schema.Tuple() })
      const first = Twice.handle(() => Effect.void)
      const second = Twice.handleWith(Effect.succeed(() => Effect.void))
      const error = yield* Effect.flip(startWorker({ queues: ["w-twice"] }, Layer.mergeAll(first, second)))
      expect(error._tag).toBe("JobValidationError")
      // Each registration is named by the line that made it, handleWith's too.
      expect(error.message).toMatch(
        /two handlers are registered for this jobtype \(handle called at \S*Worker\.test\.ts:\d+:\d+ and at \S*Worker\.test\.ts:\d+:\d+\)/
      )
      const [, firstLine, secondLine] = /test\.ts:(\d+):\d+ and at \S*test\.ts:(\d+)/.exec(error.message) ?? []
      expect(Number(secondLine) - Number(firstLine)).toBe(1)
    }))

  it.scoped("quiet and terminate from the Web UI: stops fetching, then stops", () =>
    Effect.gen(function*() {
      const Quiet = Job.define("QuietJob", { args: Schema.Tuple(), queue: "w-quiet" })
      let ran = 0
      const worker = yield* startWorker({ queues: ["w-quiet"] }, Quiet.handle(() => Effect.sync(() => ran++)))
      yield* Quiet.push([])
      yield* waitFor("the first job", () => ran === 1)
      expect(yield* signalFromWebUi(worker.wid, "quiet")).toBe(302)
      yield* waitFor("quiet", () => Effect.runSync(worker.state) === "quiet")
      yield* Quiet.push([])
      // Quiet: fetchers stop (a FETCH already waiting may still take one job; allow for it).
      yield* Effect.sleep("2500 millis")
      const queued = yield* queueSize("w-quiet")
      expect(queued + ran).toBe(2)
      yield* signalFromWebUi(worker.wid, "terminate")
      yield* worker.awaitStopped.pipe(Effect.timeout("10 seconds"))
      expect(yield* worker.state).toBe("stopped")
      yield* Effect.flatMap(Client.Client, (client) => client.removeQueues(["w-quiet"]))
    }))

  it.scoped("on terminate, a job outliving the shutdown timeout is FAILed as Shutdown", () =>
    Effect.gen(function*() {
      const Long = Job.define("Long", { args: Schema.Tuple(), queue: "w-shutdown", retry: 2 })
      let started = false
      const worker = yield* startWorker(
        { queues: ["w-shutdown"], shutdownTimeout: "500 millis" },
        Long.handle(() => Effect.sync(() => (started = true)).pipe(Effect.zipRight(Effect.sleep("30 seconds"))))
      )
      const jid = yield* Long.push([])
      yield* waitFor("the job to start", () => started)
      const begun = Date.now()
      yield* worker.terminate
      expect(Date.now() - begun).toBeLessThan(8000)
      expect(worker.processed().failed).toBe(1)
      expect((yield* failureOf(jid, "w-shutdown"))?.errtype).toBe("Shutdown")
    }))

  it.scoped("terminateNow cuts a terminate's shutdown timeout short: the running job is FAILed as Shutdown at once", () =>
    Effect.gen(function*() {
      const Long = Job.define("LongNow", { args: Schema.Tuple(), queue: "w-now", retry: 2 })
      let started = false
      const worker = yield* startWorker(
        { queues: ["w-now"], shutdownTimeout: "30 seconds" },
        Long.handle(() => Effect.sync(() => (started = true)).pipe(Effect.zipRight(Effect.sleep("60 seconds"))))
      )
      const jid = yield* Long.push([])
      yield* waitFor("the job to start", () => started)
      // A terminate already waiting for the job, as after a first Ctrl-C.
      yield* Effect.forkScoped(worker.terminate)
      yield* Effect.sleep("200 millis")
      const begun = Date.now()
      yield* worker.terminateNow
      // At most the FETCHes in flight (answered within 2 s) and the report's round trip.
      expect(Date.now() - begun).toBeLessThan(4000)
      expect(worker.processed().failed).toBe(1)
      expect((yield* failureOf(jid, "w-now"))?.errtype).toBe("Shutdown")
    }))
})
