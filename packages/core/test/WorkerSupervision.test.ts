import { expect, layer } from "@effect/vitest"
import { Client, Job, type JobHandler, Worker } from "@effect-faktory/core"
import { NodeTransport } from "@effect-faktory/node"
import { FaktoryServer } from "@effect-faktory/testing"
import { Cause, Effect, Exit, Layer, Logger, Schedule, Schema } from "effect"
import { Env, failureOf, startWorker, waitFor } from "./support.js"

// Mistakes a handler or a middleware can make, and a stalled event loop: none may cost a job
// or a processor.

/** A handler's type that plain JavaScript (or an unchecked cast) does not hold to. */
const untyped = (handler: () => unknown): () => Effect.Effect<void> => {
  const cast: unknown = handler
  return cast as () => Effect.Effect<void>
}

layer(Env, { excludeTestServices: true, timeout: "120 seconds" })("a worker supervises what its handlers do", (it) => {
  it.scoped("FAILs each handler and middleware mistake with a sensible errtype and keeps every slot", () =>
    Effect.gen(function*() {
      const queue = "sup-mistakes"
      const define = (name: string) => Job.define(name, { args: Schema.Tuple(), queue, retry: 3 })
      const cases: ReadonlyArray<readonly [string, () => Effect.Effect<void>, string, string]> = [
        ["ThrowsSync", untyped(() => {
          throw new Error("thrown before any Effect")
        }), "Error", "thrown before any Effect"],
        ["ThrowsString", untyped(() => {
          throw "a plain string"
        }), "Defect", "a plain string"],
        ["ThrowsNull", untyped(() => {
          throw null
        }), "Defect", "null"],
        ["ThrowsUndefined", untyped(() => {
          throw undefined
        }), "Defect", "undefined"],
        ["ReturnsPromise", untyped(() => Promise.reject(new Error("a rejected promise"))), "HandlerReturnedNonEffect", "returned a Promise"],
        ["CarelessPromise", () => Effect.promise(() => Promise.reject(new TypeError("rejected inside Effect.promise"))), "TypeError", "rejected inside Effect.promise"],
        ["MiddlewareThrows", () => Effect.void, "Error", "middleware threw"],
        ["MiddlewarePromise", () => Effect.void, "HandlerReturnedNonEffect", "a middleware for MiddlewarePromise returned a Promise"],
        ["ErrorWithoutMessage", () => Effect.die(new Error()), "Error", "Error (no message)"]
      ]
      const concurrency = cases.length
      let together = 0
      const Rendezvous = Job.define("Rendezvous", { args: Schema.Tuple(), queue })
      const handlers = Layer.mergeAll(
        // Each ordinary job waits until all of them run at once: only a worker that kept every
        // slot gets there.
        Rendezvous.handle(() =>
          Effect.sync(() => together++).pipe(
            Effect.zipRight(Effect.suspend(() => (together >= concurrency ? Effect.void : Effect.fail("waiting")))),
            Effect.retry(Schedule.spaced("20 millis").pipe(Schedule.upTo("10 seconds")))
          )
        ),
        ...cases.map(([name, handler]): Layer.Layer<JobHandler.JobHandler<string>> => define(name).handle(handler))
      )
      const running = yield* startWorker({
        queues: [queue],
        concurrency,
        middleware: [(job, next) => {
          if (job.jobtype === "MiddlewareThrows") throw new Error("middleware threw")
          if (job.jobtype === "MiddlewarePromise") return untyped(() => Promise.resolve("not an Effect"))()
          return next
        }]
      }, handlers)
      const jids = yield* Effect.forEach(cases, ([name]) => define(name).push([]))
      yield* waitFor("every mistake FAILed", () => running.processed().failed === cases.length)
      expect(running.running()).toBe(0)

      yield* Effect.forEach(Array.from({ length: concurrency }), () => Rendezvous.push([]))
      yield* waitFor("every slot running an ordinary job at once", () => running.processed().acked === concurrency)
      yield* running.terminate

      for (const [index, [, , errtype, message]] of cases.entries()) {
        const failure = yield* failureOf(jids[index]!, queue)
        expect(failure?.errtype).toBe(errtype)
        expect(failure?.message).toContain(message)
      }
    }))

  it.scoped("refuses options it cannot honour at start: a concurrency that is not a whole number from 1 to 1000, weights of 0", () =>
    Effect.gen(function*() {
      // 1e9 processors ran the process out of memory opening their connections.
      for (const options of [{ concurrency: 0 }, { concurrency: 2.5 }, { concurrency: 1001 }, { concurrency: 1e9 }, { queues: { a: 0, b: 0 } }]) {
        const error = yield* Effect.flip(startWorker(options, Layer.empty))
        expect(error._tag, JSON.stringify(options)).toBe("InvalidArgumentError")
      }
    }))

  it.scoped("refuses weights, durations and heartbeats it cannot honour, in words, never as a defect", () =>
    Effect.gen(function*() {
      // Options as untyped code or a config file may pass them.
      const untyped = (options: Record<string, unknown>): Worker.WorkerOptions => options as Worker.WorkerOptions
      const cases: ReadonlyArray<readonly [Record<string, unknown>, string]> = [
        // -1 and NaN were skipped as if 0; Infinity always drew the other queue first.
        [{ queues: { a: -1, b: 1 } }, `queue "a" has weight -1`],
        [{ queues: { a: Number.NaN, b: 1 } }, `queue "a" has weight NaN`],
        [{ queues: { a: Number.POSITIVE_INFINITY, b: 1 } }, `queue "a" has weight Infinity`],
        [{ queues: { a: "3", b: 1 } }, `queue "a" has weight "3"`],
        // A queue of weight 0 would never be fetched from, whatever its jobs.
        [{ queues: { a: 0, b: 1 } }, `queue "a" has weight 0: a weight is a finite number above 0`],
        // Names the server refuses, and no queue at all, are the worker's options, said so.
        [{ queues: [] }, "Worker: queues is empty"],
        [{ queues: ["critical ", "default"] }, `Worker: queue name "critical " must match`],
        [{ queues: { "": 3, default: 1 } }, `Worker: queue name "" must match`],
        // Duration.decode makes a negative duration 0: jobs would be interrupted at once.
        [{ shutdownTimeout: -5000 }, "shutdownTimeout -5000 is negative"],
        [{ shutdownTimeout: "-5 seconds" }, `shutdownTimeout "-5 seconds" is negative`],
        // Duration.decode threw on these: a defect, not an error the caller could read.
        [{ shutdownTimeout: "25 secs" }, `shutdownTimeout "25 secs" is not a duration`],
        [{ heartbeatInterval: "15 sec" }, `heartbeatInterval "15 sec" is not a duration`],
        // 0 sent BEAT in a loop; 60 s and more let the server reap the worker.
        [{ heartbeatInterval: 0 }, "heartbeatInterval must be from 1 second to under 60 seconds, not 0"],
        [{ heartbeatInterval: "60 seconds" }, "heartbeatInterval must be from 1 second to under 60 seconds, not 1m"],
        // Found only at the first guarded job, after its handler ran, which then FAILed for it.
        [{ reservationLimit: () => "forever" }, "reservationLimit(60) is not a finite duration above 0"],
        [{ reservationLimit: (seconds: number) => (seconds > 60 ? Number.NaN : "1 second") }, "reservationLimit(1800) is not"],
        [{ reservationLimit: () => { throw new Error("oops") } }, "reservationLimit(60) is not"]
      ]
      for (const [options, message] of cases) {
        const exit = yield* Effect.exit(startWorker(untyped(options), Layer.empty))
        expect(Exit.isFailure(exit) && Cause.isFailType(exit.cause) ? exit.cause.error : exit, JSON.stringify(options))
          .toMatchObject({ _tag: "InvalidArgumentError" })
        if (Exit.isFailure(exit) && Cause.isFailType(exit.cause)) expect(exit.cause.error.message).toContain(message)
      }
    }))

  it.scoped("says so when shutdown gives up on reports because the server is away", () =>
    Effect.gen(function*() {
      const server = yield* FaktoryServer.make({ webUi: false })
      const queue = "sup-away"
      let finished = 0
      const Slow = Job.define("Slow", { args: Schema.Tuple(), queue })
      const lines: Array<string> = []
      const logger = Logger.make(({ message }) => {
        lines.push(Array.isArray(message) ? message.join(" ") : String(message))
      })
      const worker = yield* Worker.make({
        queues: [queue],
        concurrency: 2,
        heartbeatInterval: "1 second",
        shutdownTimeout: "1 second",
        client: { ...server.clientOptions, connectDeadline: "1 second" }
      }).pipe(
        Effect.provide(Layer.merge(Slow.handle(() => Effect.sleep("500 millis").pipe(Effect.ensuring(Effect.sync(() => finished++)))), NodeTransport.layer)),
        Effect.provide(Logger.replace(Logger.defaultLogger, logger))
      )
      const client = yield* Client.make(server.clientOptions).pipe(Effect.provide(NodeTransport.layer))
      yield* client.push({ jobtype: "Slow", queue })
      yield* waitFor("the job to start", () => worker.running() === 1)
      yield* server.stop
      yield* waitFor("the job to finish", () => finished === 1)
      yield* worker.terminate.pipe(Effect.provide(Logger.replace(Logger.defaultLogger, logger)))
      expect(worker.processed().acked).toBe(0)
      expect(lines.some((line) => line.startsWith("gave up reporting ACK"))).toBe(true)
      expect(lines.find((line) => line.startsWith("stopped:"))).toContain("1 not reported")
    }))

  it.scoped("a handler that ignores interruption does not hold shutdown: it is FAILed as Shutdown and the worker stops", () =>
    Effect.gen(function*() {
      const queue = "sup-stubborn"
      const Stubborn = Job.define("Stubborn", { args: Schema.Tuple(), queue, retry: 3 })
      const Polite = Job.define("Polite", { args: Schema.Tuple(), queue, retry: 3 })
      const worker = yield* startWorker(
        { queues: [queue], concurrency: 2, shutdownTimeout: "1 second" },
        Layer.merge(
          // A long step made uninterruptible, as a transaction wrapped whole would be.
          Stubborn.handle(() => Effect.uninterruptible(Effect.sleep("1 hour"))),
          Polite.handle(() => Effect.sleep("1 hour"))
        )
      )
      const stubborn = yield* Stubborn.push([])
      const polite = yield* Polite.push([])
      yield* waitFor("both jobs to start", () => worker.running() === 2)
      const started = Date.now()
      yield* worker.terminate
      // 1 s of shutdown timeout, then at most 5 s for interrupted jobs to end.
      expect(Date.now() - started).toBeLessThan(9000)
      expect(worker.processed()).toEqual({ acked: 0, failed: 2 })
      const stubbornFailure = yield* failureOf(stubborn, queue)
      expect(stubbornFailure?.errtype).toBe("Shutdown")
      expect(stubbornFailure?.message).toContain("did not stop")
      expect((yield* failureOf(polite, queue))?.errtype).toBe("Shutdown")
    }))

  it.scoped("counts a report when the server's reply to it arrives, not with the next FETCH's", () =>
    Effect.gen(function*() {
      const queue = "sup-count"
      let ranAt = 0
      const Mark = Job.define("Mark", { args: Schema.Tuple(), queue })
      const worker = yield* startWorker({ queues: [queue], concurrency: 1 }, Mark.handle(() => Effect.sync(() => (ranAt = Date.now()))))
      yield* Mark.push([])
      yield* waitFor("the job", () => ranAt > 0)
      yield* waitFor("its ACK counted", () => worker.processed().acked === 1)
      // The FETCH sent with the ACK waits 2 s on an empty queue; the ACK's reply does not.
      expect(Date.now() - ranAt).toBeLessThan(1000)
    }))
})
