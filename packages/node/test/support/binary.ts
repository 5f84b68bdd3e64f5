// The faktory-worker binary (or another worker entry point) as the tests run it: a child
// process whose output is kept, killed if still running when the test's scope closes.
import { Effect, Schedule } from "effect"
import { type ChildProcess, spawn } from "node:child_process"
import { fileURLToPath } from "node:url"

export const bin = fileURLToPath(new URL("../../dist/bin.js", import.meta.url))

export interface Running {
  readonly child: ChildProcess
  /** Everything written to stdout and stderr so far, interleaved. */
  readonly output: () => string
  readonly exit: Effect.Effect<{ code: number | null; signal: string | null }>
}

/** Runs the binary with `args`, with no FAKTORY_* variable of the test's own environment. */
export const faktoryWorker = (args: ReadonlyArray<string>, env: Record<string, string> = {}) => node(bin, args, env)

/** Runs a Node script (a worker's entry point) likewise. */
export const node = (script: string, args: ReadonlyArray<string>, env: Record<string, string> = {}) =>
  Effect.acquireRelease(
    Effect.sync((): Running => {
      const base: Record<string, string> = {}
      for (const [key, value] of Object.entries(process.env)) {
        if (value !== undefined && !key.startsWith("FAKTORY_")) base[key] = value
      }
      const child = spawn(process.execPath, [script, ...args], { env: { ...base, ...env } })
      let output = ""
      child.stdout?.on("data", (chunk: Buffer) => (output += chunk.toString()))
      child.stderr?.on("data", (chunk: Buffer) => (output += chunk.toString()))
      const exited = new Promise<{ code: number | null; signal: string | null }>((resolve) =>
        child.on("exit", (code, signal) => resolve({ code, signal }))
      )
      return { child, output: () => output, exit: Effect.promise(() => exited) }
    }),
    ({ child }) => Effect.sync(() => child.exitCode === null && child.signalCode === null && child.kill("SIGKILL"))
  )

/** Waits until the output contains `text`; dies with the output so far when it does not. */
export const waitForOutput = (worker: Running, text: string, seconds = 20) =>
  Effect.suspend(() => (worker.output().includes(text) ? Effect.void : Effect.fail(text))).pipe(
    Effect.retry(Schedule.spaced("25 millis").pipe(Schedule.upTo(`${seconds} seconds`))),
    Effect.orElse(() => Effect.dieMessage(`no "${text}" in the worker's output:\n${worker.output()}`))
  )
