// The faktory-worker binary (or another worker entry point, or any Node script) as the tests
// run it: a child process whose output is kept, killed if still running when the test's
// scope closes.
import { Effect } from "effect"
import { type ChildProcess, spawn } from "node:child_process"
import { fileURLToPath } from "node:url"
import { waitFor } from "./wait.js"

export const bin = fileURLToPath(new URL("../../dist/bin.js", import.meta.url))

/** The path of a file in test/fixtures. */
export const fixture = (name: string) => fileURLToPath(new URL(`../fixtures/${name}`, import.meta.url))

export interface Running {
  readonly child: ChildProcess
  /** Everything written to stdout and stderr so far, interleaved. */
  readonly output: () => string
  /** What was written to stdout alone. */
  readonly stdout: () => string
  /** What was written to stderr alone. */
  readonly stderr: () => string
  /** The process's end, once it has exited and all it wrote has been read. */
  readonly exit: Effect.Effect<{ code: number | null; signal: string | null }>
}

/** Runs the binary with `args`, with no FAKTORY_* variable of the test's own environment. */
export const faktoryWorker = (args: ReadonlyArray<string>, env: Record<string, string> = {}) => node(bin, args, env)

/**
 * Runs a Node script (a worker's entry point) likewise. A variable of `env` set to
 * `undefined` is taken out of the environment.
 */
export const node = (script: string, args: ReadonlyArray<string>, env: Record<string, string | undefined> = {}) =>
  Effect.acquireRelease(
    Effect.sync((): Running => {
      const variables: Record<string, string> = {}
      for (const [key, value] of Object.entries({ ...process.env, ...env })) {
        if (value !== undefined && (!key.startsWith("FAKTORY_") || key in env)) variables[key] = value
      }
      const child = spawn(process.execPath, [script, ...args], { env: variables })
      let output = ""
      let stdout = ""
      let stderr = ""
      child.stdout?.on("data", (chunk: Buffer) => {
        output += chunk.toString()
        stdout += chunk.toString()
      })
      child.stderr?.on("data", (chunk: Buffer) => {
        output += chunk.toString()
        stderr += chunk.toString()
      })
      // "close", not "exit": the process has ended and its output has been read to the end.
      const ended = new Promise<{ code: number | null; signal: string | null }>((resolve) =>
        child.on("close", (code, signal) => resolve({ code, signal }))
      )
      return { child, output: () => output, stdout: () => stdout, stderr: () => stderr, exit: Effect.promise(() => ended) }
    }),
    ({ child }) => Effect.sync(() => child.exitCode === null && child.signalCode === null && child.kill("SIGKILL"))
  )

/**
 * Runs a process to its end: one that has not exited after `seconds` is killed (SIGKILL), so
 * the test sees a signal, not a code. Returns how it ended, what it wrote and how long it took.
 */
export const runToEnd = <E, R>(start: Effect.Effect<Running, E, R>, seconds = 20) =>
  Effect.gen(function*() {
    const started = Date.now()
    const running = yield* start
    const { code, signal } = yield* running.exit.pipe(
      Effect.timeout(`${seconds} seconds`),
      Effect.catchTag("TimeoutException", () => Effect.zipRight(Effect.sync(() => running.child.kill("SIGKILL")), running.exit))
    )
    return {
      code,
      signal,
      output: running.output(),
      stdout: running.stdout(),
      stderr: running.stderr(),
      millis: Date.now() - started
    }
  }).pipe(Effect.scoped)

/** Adds the process's output so far to the message of a defect (a wait that timed out, say). */
export const withOutput = (running: Running) => <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.catchAllDefect(effect, (defect) =>
    Effect.dieMessage(`${defect instanceof Error ? defect.message : String(defect)}\noutput so far:\n${running.output()}`))

/** Waits until the output contains `text`; dies saying so, with the output so far, when it does not. */
export const waitForOutput = (running: Running, text: string, seconds = 20) =>
  waitFor(`"${text}" in the output`, () => running.output().includes(text), seconds).pipe(withOutput(running))
