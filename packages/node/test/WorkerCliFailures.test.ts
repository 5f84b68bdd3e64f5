import { expect, layer } from "@effect/vitest"
import { Client } from "@effect-faktory/core"
import { FaktoryServer } from "@effect-faktory/testing"
import { Effect } from "effect"
import { faktoryWorker, fixture, waitForOutput } from "./support/binary.js"
import { env, failureOf } from "./support/server.js"

// The faktory-worker binary when things go wrong around it: a refused password, an exception
// that escapes every fiber, a promise nobody awaited.

const jobs = fixture("jobs.mjs")
const mistakes = fixture("mistakes.mjs")
const password = "cli-s3cret-Pa55"

const Env = env({ password })

layer(Env, { excludeTestServices: true, timeout: "120 seconds" })("the faktory-worker binary, when things go wrong", (it) => {
  for (const [name, auth, reason] of [
    ["a wrong password", ":wrong-Pa55word@", "Invalid password"],
    ["no password", "", "requires a password"]
  ] as const) {
    it.scoped(`${name}: exits non-zero at once with the reason in one line`, () =>
      Effect.gen(function*() {
        const server = yield* FaktoryServer.FaktoryServer
        const started = Date.now()
        const worker = yield* faktoryWorker(["-r", jobs, "-u", `tcp://${auth}127.0.0.1:${server.port}`])
        const exit = yield* worker.exit.pipe(Effect.timeout("10 seconds"))
        expect(exit.code).not.toBe(0)
        expect(Date.now() - started).toBeLessThan(5000)
        const lines = worker.output().trim().split("\n")
        expect(lines.filter((line) => line.startsWith("faktory-worker:"))).toEqual([
          expect.stringContaining(reason)
        ])
        expect(worker.output()).not.toContain("started")
        expect(worker.output()).not.toContain("wrong-Pa55word")
      }))
  }

  it.scoped("an unhandled rejection is logged and the worker carries on", () =>
    Effect.gen(function*() {
      const server = yield* FaktoryServer.FaktoryServer
      const client = yield* Client.Client
      const worker = yield* faktoryWorker(["-r", jobs, "-r", mistakes, "-q", "cli-leak", "-u", server.url])
      yield* waitForOutput(worker, "started")
      yield* client.push({ jobtype: "Leak", queue: "cli-leak", args: [] })
      yield* waitForOutput(worker, "leaked rejection")
      expect(worker.output()).toContain("unhandled promise rejection")
      yield* client.push({ jobtype: "Echo", queue: "cli-leak", args: ["still here"] })
      yield* waitForOutput(worker, "echo still here")
      worker.child.kill("SIGTERM")
      expect((yield* worker.exit.pipe(Effect.timeout("15 seconds"))).code).toBe(0)
    }))

  it.scoped("an uncaught exception terminates gracefully: running jobs are reported, the exit code is non-zero", () =>
    Effect.gen(function*() {
      const server = yield* FaktoryServer.FaktoryServer
      const client = yield* Client.Client
      const queue = "cli-crash"
      const worker = yield* faktoryWorker(["-r", jobs, "-r", mistakes, "-q", queue, "-t", "1", "-u", server.url])
      yield* waitForOutput(worker, "started")
      const sleeper = yield* client.push({ jobtype: "Sleep", queue, args: [60_000], retry: 3 })
      yield* waitForOutput(worker, "sleeping 60000")
      yield* client.push({ jobtype: "TimerThrow", queue, args: [] })
      const exit = yield* worker.exit.pipe(Effect.timeout("20 seconds"))
      expect(exit.code).not.toBe(0)
      expect(worker.output()).toContain("thrown from a timer")
      expect(worker.output()).toContain("terminating")
      // The job still running was FAILed as Shutdown, not left to wait out its reservation.
      expect(yield* failureOf(sleeper, queue)).toMatchObject({ errtype: "Shutdown" })
    }))
  /** A worker whose log pipes' read ends close, as `| head -1` does once it has its line. */
  const withClosedPipes = (queue: string, close: ReadonlyArray<"stdout" | "stderr">) =>
    Effect.gen(function*() {
      const server = yield* FaktoryServer.FaktoryServer
      const client = yield* Client.Client
      const worker = yield* faktoryWorker(["-r", jobs, "-q", queue, "-t", "1", "-u", server.url])
      yield* waitForOutput(worker, "started")
      for (const stream of close) worker.child[stream]?.destroy()
      // A job with no handler: its FAIL is logged at WARN, into the closed pipe.
      const jid = yield* client.push({ jobtype: "NoSuchHandler", queue, args: [], retry: 1 })
      const exit = yield* worker.exit.pipe(Effect.timeout("15 seconds"))
      return { worker, jid, exit }
    })

  it.scoped("a log pipe whose reader is gone (| head) terminates the worker gracefully, not a spin that ignores SIGTERM", () =>
    Effect.gen(function*() {
      const queue = "cli-epipe"
      const { exit, jid } = yield* withClosedPipes(queue, ["stdout", "stderr"])
      expect(exit.code).toBe(1)
      // The job was reported before the worker went: it waits in the retry set.
      expect((yield* failureOf(jid, queue))?.errtype).toBe("UnknownJobType")
    }))

  it.scoped("when only stdout closes, the reason is said on stderr", () =>
    Effect.gen(function*() {
      const { exit, worker } = yield* withClosedPipes("cli-epipe-out", ["stdout"])
      expect(exit.code).toBe(1)
      expect(worker.output()).toContain("the log output (stdout) was closed by its reader")
    }))
})
