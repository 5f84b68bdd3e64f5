import { expect, layer } from "@effect/vitest"
import { Client } from "@effect-faktory/core"
import { FaktoryServer } from "@effect-faktory/testing"
import { Effect, Layer, Schedule } from "effect"
import { fileURLToPath } from "node:url"
import { faktoryWorker } from "./support/binary.js"

// A worker process whose event loop stalls past the 15 s reply timeout (a CPU-bound handler,
// SIGSTOP) must still run the jobs the server handed to its waiting FETCHes meanwhile.

const jobs = fileURLToPath(new URL("./fixtures/jobs.mjs", import.meta.url))
const mistakes = fileURLToPath(new URL("./fixtures/mistakes.mjs", import.meta.url))

const waitFor = (what: string, condition: () => boolean, seconds: number, detail: () => string = () => "") =>
  Effect.suspend(() => (condition() ? Effect.void : Effect.fail(what))).pipe(
    Effect.retry(Schedule.spaced("50 millis").pipe(Schedule.upTo(`${seconds} seconds`))),
    Effect.orElse(() => Effect.dieMessage(`timed out waiting for ${what}\n${detail()}`))
  )

const countOf = (output: string, prefix: string) => output.split("\n").filter((line) => line.includes(prefix)).length

const Env = FaktoryServer.clientLayer().pipe(Layer.provideMerge(FaktoryServer.layer({ webUi: false })))

layer(Env, { excludeTestServices: true, timeout: "120 seconds" })("a worker process that stalls", (it) => {
  it.scoped("SIGSTOP for 20 s, then SIGCONT: every job pushed meanwhile runs", () =>
    Effect.gen(function*() {
      const server = yield* FaktoryServer.FaktoryServer
      const client = yield* Client.Client
      const queue = "stall-stop"
      const worker = yield* faktoryWorker(["-r", jobs, "-q", queue, "-c", "5", "-u", server.url])
      yield* waitFor("start", () => worker.output().includes("started"), 20, worker.output)
      // Let every processor's FETCH be waiting in the server.
      yield* Effect.sleep("500 millis")
      worker.child.kill("SIGSTOP")
      yield* Effect.forEach(Array.from({ length: 20 }, (_, i) => i), (i) =>
        client.push({ jobtype: "Echo", queue, args: [`stopped ${i}`] }))
      yield* Effect.sleep("20 seconds")
      worker.child.kill("SIGCONT")
      yield* waitFor("all 20 jobs to run", () => countOf(worker.output(), "echo stopped") === 20, 15, worker.output)
      expect(worker.output()).not.toContain("no reply to FETCH")
    }))

  it.scoped("a handler that blocks the event loop for 20 s: every job pushed meanwhile runs", () =>
    Effect.gen(function*() {
      const server = yield* FaktoryServer.FaktoryServer
      const client = yield* Client.Client
      const queue = "stall-block"
      const worker = yield* faktoryWorker(["-r", jobs, "-r", mistakes, "-q", queue, "-c", "5", "-u", server.url])
      yield* waitFor("start", () => worker.output().includes("started"), 20, worker.output)
      yield* Effect.sleep("500 millis")
      yield* client.push({ jobtype: "BlockLoop", queue, args: [20_000] })
      // The block starts within a moment; the other four processors' FETCHes wait in the server.
      yield* Effect.sleep("300 millis")
      yield* Effect.forEach(Array.from({ length: 20 }, (_, i) => i), (i) =>
        client.push({ jobtype: "Echo", queue, args: [`blocked ${i}`] }))
      yield* waitFor("all 20 jobs to run", () => countOf(worker.output(), "echo blocked") === 20, 40, worker.output)
      expect(worker.output()).not.toContain("no reply to FETCH")
    }))
})
