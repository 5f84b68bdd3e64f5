import { expect, layer } from "@effect/vitest"
import { Client } from "@effect-faktory/core"
import { FaktoryServer } from "@effect-faktory/testing"
import { Effect } from "effect"
import { faktoryWorker, fixture, runToEnd } from "./support/binary.js"
import { Env } from "./support/server.js"

// faktory-worker checks what it loaded before it connects: a handler layer that needs a
// service no module provides, or no handler at all, fails the start with the reason and a
// non-zero exit, and no job is fetched.

/** Runs faktory-worker to its exit; one still running after 20 s is killed, and has no exit code. */
const runToExit = (args: ReadonlyArray<string>) => runToEnd(faktoryWorker(args))

layer(Env, { excludeTestServices: true, timeout: "90 seconds" })("faktory-worker's startup checks", (it) => {
  it.effect("a handler layer that needs a service nobody provides fails the start, naming it, before any fetch", () =>
    Effect.gen(function*() {
      const server = yield* FaktoryServer.FaktoryServer
      const client = yield* Client.Client
      yield* client.push({ jobtype: "Save", args: ["x"], queue: "startup-q" })
      const result = yield* runToExit(["-r", fixture("needs-db.mjs"), "-q", "startup-q", "-u", server.url])
      expect(result.code).not.toBe(0)
      expect(result.code).not.toBeNull()
      const lines = result.stderr.trim().split("\n")
      expect(lines).toHaveLength(1)
      // Effect names where the service's tag is defined.
      expect(lines[0]).toMatch(
        /^faktory-worker: a handler layer needs the service app\/Db \(defined at .*needs-db\.mjs:\d+:\d+\), which no loaded module provides: provide it in the handler's module \(Layer\.provide\) and export the provided layer$/
      )
      const info = yield* client.info
      expect(info.faktory.queues["startup-q"]).toBe(1)
      expect(info.faktory.total_processed).toBe(0)
    }))

  it.effect("two modules with a handler for one jobtype fail the start, naming where each was registered", () =>
    Effect.gen(function*() {
      const server = yield* FaktoryServer.FaktoryServer
      const result = yield* runToExit(["-r", fixture("jobs.mjs"), "-r", fixture("echo-again.mjs"), "-u", server.url])
      expect(result.code).not.toBe(0)
      expect(result.code).not.toBeNull()
      const lines = result.stderr.trim().split("\n")
      expect(lines).toHaveLength(1)
      expect(lines[0]).toMatch(
        /^faktory-worker: .*Echo.*two handlers are registered for this jobtype \(handle called at \S*jobs\.mjs:5:\d+ and at \S*echo-again\.mjs:6:\d+\): provide one handler layer per jobtype$/
      )
    }))

  it.effect("modules that register no handler fail the start", () =>
    Effect.gen(function*() {
      const server = yield* FaktoryServer.FaktoryServer
      const result = yield* runToExit(["-r", fixture("no-handlers.mjs"), "-u", server.url])
      expect(result.code).not.toBe(0)
      expect(result.code).not.toBeNull()
      expect(result.stderr.trim().split("\n")).toEqual([
        "faktory-worker: the loaded modules register no handler: export the layers that Job.define(…).handle(…) returns"
      ])
    }))
})
