import { expect, it } from "@effect/vitest"
import { Effect, Schedule } from "effect"
import { spawn } from "node:child_process"
import * as Fs from "node:fs"
import { fileURLToPath } from "node:url"
import { processesUsing } from "./support.js"

const fixture = fileURLToPath(new URL("./fixtures/start-server.mjs", import.meta.url))

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

interface Started {
  readonly pid: number
  readonly directory: string
}

/** Starts the fixture; resolves with the server it started, and the fixture's process. */
const startFixture = Effect.async<{ readonly started: Started; readonly kill: () => void }, Error>((resume) => {
  const child = spawn(process.execPath, [fixture], { stdio: ["ignore", "pipe", "inherit"] })
  let output = ""
  child.stdout.on("data", (chunk: Buffer) => {
    output += chunk.toString()
    const line = output.split("\n").find((text) => text.startsWith("{"))
    if (line !== undefined) {
      const parsed: unknown = JSON.parse(line)
      if (
        typeof parsed === "object" && parsed !== null && "pid" in parsed && typeof parsed.pid === "number" &&
        "directory" in parsed && typeof parsed.directory === "string"
      ) {
        resume(Effect.succeed({ started: { pid: parsed.pid, directory: parsed.directory }, kill: () => child.kill("SIGKILL") }))
      }
    }
  })
  child.once("exit", (code) => resume(Effect.fail(new Error(`the fixture exited (${code}) before starting a server`))))
})

it.live("a server does not outlive a test process killed with SIGKILL", () =>
  Effect.gen(function*() {
    const { kill, started } = yield* startFixture
    // Whatever the outcome, nothing this test started stays behind.
    // (SIGTERM: the server then stops its Redis itself.)
    yield* Effect.addFinalizer(() =>
      Effect.sync(() => {
        if (alive(started.pid)) process.kill(started.pid, "SIGTERM")
      }).pipe(
        Effect.zipRight(Effect.sleep("1 second")),
        Effect.zipRight(Effect.sync(() => Fs.rmSync(started.directory, { recursive: true, force: true })))
      )
    )
    expect(alive(started.pid)).toBe(true)
    expect(processesUsing(started.directory)).toContain("redis-server")
    kill()
    const gone = yield* Effect.suspend(() =>
      !alive(started.pid) && processesUsing(started.directory) === "" && !Fs.existsSync(started.directory)
        ? Effect.succeed(true)
        : Effect.fail("still there")
    ).pipe(Effect.retry(Schedule.spaced("100 millis").pipe(Schedule.upTo("10 seconds"))), Effect.orElseSucceed(() => false))
    expect({ serverAlive: alive(started.pid), processes: processesUsing(started.directory), directory: Fs.existsSync(started.directory) })
      .toEqual({ serverAlive: false, processes: "", directory: false })
    expect(gone).toBe(true)
  }).pipe(Effect.scoped))
