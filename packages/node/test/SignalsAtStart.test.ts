import { expect, it } from "@effect/vitest"
import { FaktoryServer } from "@effect-faktory/testing"
import { Effect } from "effect"
import * as Fs from "node:fs"
import { fixture, node, waitForOutput } from "./support/binary.js"

// A supervisor may signal a worker at any moment, while it is still reaching its server too.
// SIGTSTP's default action stops (suspends) a process: one that came before the worker
// listened for it would leave the process stopped, deaf to SIGTERM until a SIGCONT.

/** The process's state letter from /proc (T: stopped by a signal). */
const stateOf = (pid: number) => Fs.readFileSync(`/proc/${pid}/stat`, "utf8").replace(/^.*\) /s, "").charAt(0)

it.scopedLive("SIGTSTP while the worker is still reaching its server quiets it: the process is not suspended, and SIGTERM ends it", () =>
  Effect.gen(function*() {
    // Nothing listens on this port: start keeps retrying.
    const port = yield* FaktoryServer.freePort
    const worker = yield* node(fixture("run-main.mjs"), ["pretty"], { FAKTORY_URL: `tcp://127.0.0.1:${port}` })
    yield* waitForOutput(worker, "cannot reach")
    worker.child.kill("SIGTSTP")
    yield* Effect.sleep("500 millis")
    expect(stateOf(worker.child.pid!)).not.toBe("T")
    worker.child.kill("SIGTERM")
    const exit = yield* worker.exit.pipe(Effect.timeout("10 seconds"))
    expect(exit.signal).toBeNull()
  }), { timeout: 60_000 })

it.scopedLive("SIGTSTP while the worker is still reaching its server: once the server is back, the worker starts quiet", () =>
  Effect.gen(function*() {
    const server = yield* FaktoryServer.make({ webUi: false })
    yield* server.stop
    const worker = yield* node(fixture("run-main.mjs"), ["pretty"], { FAKTORY_URL: server.url })
    yield* waitForOutput(worker, "cannot reach")
    worker.child.kill("SIGTSTP")
    yield* Effect.sleep("300 millis")
    yield* server.start
    yield* waitForOutput(worker, "started")
    yield* waitForOutput(worker, "quiet")
    const output = worker.output()
    expect(output.indexOf("quiet", output.indexOf("started"))).toBeGreaterThan(0)
    worker.child.kill("SIGTERM")
    const exit = yield* worker.exit.pipe(Effect.timeout("15 seconds"))
    expect(exit.code).toBe(0)
  }), { timeout: 90_000 })
