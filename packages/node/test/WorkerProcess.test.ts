import { expect, layer } from "@effect/vitest"
import { Client } from "@effect-faktory/core"
import { FaktoryServer } from "@effect-faktory/testing"
import { Effect } from "effect"
import { faktoryWorker, fixture, waitForOutput } from "./support/binary.js"
import { Env, failureOf } from "./support/server.js"

const jobs = fixture("jobs.mjs")

const withClient = <A, E>(f: (client: Client.Service) => Effect.Effect<A, E>) => Effect.flatMap(Client.Client, f)

layer(Env, { excludeTestServices: true, timeout: "120 seconds" })("the faktory-worker binary", (it) => {
  it.scoped("runs required handlers; SIGTSTP quiets it; SIGTERM stops it cleanly", () =>
    Effect.gen(function*() {
      const server = yield* FaktoryServer.FaktoryServer
      const worker = yield* faktoryWorker(["-r", jobs, "-q", "cli-a", "-c", "2", "-t", "5", "-l", "test", "-u", server.url])
      yield* waitForOutput(worker, "started")
      yield* withClient((client) => client.push({ jobtype: "Echo", queue: "cli-a", args: ["hello"] }))
      yield* waitForOutput(worker, "echo hello")

      worker.child.kill("SIGTSTP")
      yield* waitForOutput(worker, "quiet")
      // Fetches already waiting when the signal came may still take a job for up to 2 s.
      yield* Effect.sleep("2500 millis")
      yield* withClient((client) => client.push({ jobtype: "Echo", queue: "cli-a", args: ["after quiet"] }))
      yield* Effect.sleep("2500 millis")
      expect(worker.output()).not.toContain("echo after quiet")
      const queued = yield* withClient((client) => client.info)
      expect(queued.faktory.queues["cli-a"]).toBe(1)

      worker.child.kill("SIGTERM")
      const exit = yield* worker.exit.pipe(Effect.timeout("15 seconds"))
      expect(exit.code).toBe(0)
      expect(worker.output()).toContain("terminating")
      yield* withClient((client) => client.removeQueues(["cli-a"]))
    }))

  it.scoped("SIGTERM FAILs a job that outlives the shutdown timeout, then exits", () =>
    Effect.gen(function*() {
      const server = yield* FaktoryServer.FaktoryServer
      const worker = yield* faktoryWorker(["-r", jobs, "-q", "cli-b", "-t", "1", "-u", server.url])
      yield* waitForOutput(worker, "started")
      const jid = yield* withClient((client) => client.push({ jobtype: "Sleep", queue: "cli-b", args: [60_000], retry: 3 }))
      yield* waitForOutput(worker, "sleeping 60000")
      const signalled = Date.now()
      worker.child.kill("SIGTERM")
      const exit = yield* worker.exit.pipe(Effect.timeout("15 seconds"))
      expect(exit.code).toBe(0)
      expect(Date.now() - signalled).toBeLessThan(10_000)
      expect(yield* failureOf(jid, "cli-b")).toMatchObject({ errtype: "Shutdown" })
    }))

  it.scoped("a second SIGTERM does not cut the shutdown short: the running job is still reported", () =>
    Effect.gen(function*() {
      const server = yield* FaktoryServer.FaktoryServer
      const worker = yield* faktoryWorker(["-r", jobs, "-q", "cli-term2", "-t", "2", "-u", server.url])
      yield* waitForOutput(worker, "started")
      const jid = yield* withClient((client) => client.push({ jobtype: "Sleep", queue: "cli-term2", args: [60_000], retry: 3 }))
      yield* waitForOutput(worker, "sleeping 60000")
      worker.child.kill("SIGTERM")
      yield* waitForOutput(worker, "terminating")
      worker.child.kill("SIGTERM")
      const exit = yield* worker.exit.pipe(Effect.timeout("15 seconds"))
      expect(exit).toEqual({ code: 0, signal: null })
      expect(worker.output()).toContain("SIGTERM again")
      expect(yield* failureOf(jid, "cli-term2")).toMatchObject({ errtype: "Shutdown" })
    }))

  it.scoped("a second SIGINT stops at once, and the running job is FAILed first, not left reserved", () =>
    Effect.gen(function*() {
      const server = yield* FaktoryServer.FaktoryServer
      const worker = yield* faktoryWorker(["-r", jobs, "-q", "cli-c", "-t", "30", "-u", server.url])
      yield* waitForOutput(worker, "started")
      const jid = yield* withClient((client) => client.push({ jobtype: "Sleep", queue: "cli-c", args: [60_000], retry: 3 }))
      yield* waitForOutput(worker, "sleeping 60000")
      worker.child.kill("SIGINT")
      yield* waitForOutput(worker, "terminating")
      const signalled = Date.now()
      worker.child.kill("SIGINT")
      const exit = yield* worker.exit.pipe(Effect.timeout("10 seconds"))
      expect(exit.code).toBe(130)
      // The FETCHes in flight are answered first (within 2 s): a job one brought would stay reserved.
      expect(Date.now() - signalled).toBeLessThan(4000)
      expect(worker.output()).toContain("terminating now: 1 running job is interrupted and FAILed as Shutdown")
      // The failure this guards against: the process exiting with the job unreported, reserved for 30 minutes.
      expect(yield* failureOf(jid, "cli-c")).toMatchObject({ errtype: "Shutdown" })
    }))

  it.scoped("takes weighted queues and the URL from FAKTORY_URL", () =>
    Effect.gen(function*() {
      const server = yield* FaktoryServer.FaktoryServer
      const worker = yield* faktoryWorker(["-r", jobs, "-q", "cli-d,3", "-q", "cli-e,1", "-v"], { FAKTORY_URL: server.url })
      yield* waitForOutput(worker, "started")
      expect(worker.output()).toContain(`{"cli-d":3,"cli-e":1}`)
      yield* withClient((client) => client.push({ jobtype: "Echo", queue: "cli-e", args: ["weighted"] }))
      yield* waitForOutput(worker, "echo weighted")
      worker.child.kill("SIGTERM")
      expect((yield* worker.exit).code).toBe(0)
    }))

  const cliCases: Array<[string, ReadonlyArray<string>, number, string]> = [
    ["--help", ["--help"], 0, "--concurrency"],
    ["--version", ["--version"], 0, "0.1.0"],
    ["a non-numeric concurrency", ["-r", jobs, "-c", "many"], 1, "many"],
    ["no handler module", ["-q", "default"], 1, "name at least one module"],
    ["a bad queue", ["-r", jobs, "-q", "no spaces allowed"], 1, "expected name or name,weight"],
    ["a module that does not exist", ["-r", "./does-not-exist.mjs"], 1, "cannot load it"],
    // The error is in a module the named one imports: the line says which file and line.
    ["a module with a syntax error", ["-r", fixture("broken/syntax.mjs")], 1, "SyntaxError: Unexpected end of input (`node "],
    ["a module whose import throws", ["-r", fixture("imports-broken.mjs")], 1, `(at ${fixture("broken/reads-config.mjs")}:2:6)`],
    ["an unknown flag", ["-r", jobs, "--frobnicate"], 1, "frobnicate"]
  ]
  for (const [name, args, code, text] of cliCases) {
    it.scoped(`CLI: ${name}`, () =>
      Effect.gen(function*() {
        const worker = yield* faktoryWorker(args)
        const exit = yield* worker.exit.pipe(Effect.timeout("20 seconds"))
        expect(worker.output()).toContain(text)
        expect(exit.code === 0 ? 0 : 1).toBe(code)
      }))
  }
})
