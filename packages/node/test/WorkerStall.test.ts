import { expect, layer } from "@effect/vitest"
import { Client } from "@effect-faktory/core"
import { FaktoryServer } from "@effect-faktory/testing"
import { Effect } from "effect"
import { faktoryWorker, fixture, waitForOutput, withOutput } from "./support/binary.js"
import { Env } from "./support/server.js"
import { waitFor } from "./support/wait.js"

// A worker process whose event loop stalls past the 15 s reply timeout (a CPU-bound handler,
// SIGSTOP) must still run the jobs the server handed to its waiting FETCHes meanwhile.

const jobs = fixture("jobs.mjs")
const mistakes = fixture("mistakes.mjs")

const countOf = (output: string, prefix: string) => output.split("\n").filter((line) => line.includes(prefix)).length

layer(Env, { excludeTestServices: true, timeout: "120 seconds" })("a worker process that stalls", (it) => {
  it.scoped("SIGSTOP for 20 s, then SIGCONT: every job pushed meanwhile runs", () =>
    Effect.gen(function*() {
      const server = yield* FaktoryServer.FaktoryServer
      const client = yield* Client.Client
      const queue = "stall-stop"
      const worker = yield* faktoryWorker(["-r", jobs, "-q", queue, "-c", "5", "-u", server.url])
      yield* waitForOutput(worker, "started")
      // Let every processor's FETCH be waiting in the server.
      yield* Effect.sleep("500 millis")
      worker.child.kill("SIGSTOP")
      yield* Effect.forEach(Array.from({ length: 20 }, (_, i) => i), (i) =>
        client.push({ jobtype: "Echo", queue, args: [`stopped ${i}`] }))
      yield* Effect.sleep("20 seconds")
      worker.child.kill("SIGCONT")
      yield* waitFor("all 20 jobs to run", () => countOf(worker.output(), "echo stopped") === 20, 15).pipe(withOutput(worker))
      expect(worker.output()).not.toContain("no reply to FETCH")
    }))

  it.scoped("a handler that blocks the event loop for 20 s: every job pushed meanwhile runs", () =>
    Effect.gen(function*() {
      const server = yield* FaktoryServer.FaktoryServer
      const client = yield* Client.Client
      const queue = "stall-block"
      const worker = yield* faktoryWorker(["-r", jobs, "-r", mistakes, "-q", queue, "-c", "5", "-u", server.url])
      yield* waitForOutput(worker, "started")
      yield* Effect.sleep("500 millis")
      yield* client.push({ jobtype: "BlockLoop", queue, args: [20_000] })
      // The block starts within a moment; the other four processors' FETCHes wait in the server.
      yield* Effect.sleep("300 millis")
      yield* Effect.forEach(Array.from({ length: 20 }, (_, i) => i), (i) =>
        client.push({ jobtype: "Echo", queue, args: [`blocked ${i}`] }))
      yield* waitFor("all 20 jobs to run", () => countOf(worker.output(), "echo blocked") === 20, 40).pipe(withOutput(worker))
      expect(worker.output()).not.toContain("no reply to FETCH")
    }))
})
