/**
 * Start-up: what a whole process costs from its start to its end (a push script) or to its
 * "started" line (the `faktory-worker` binary), in wall time, CPU time (user + system) and
 * peak RSS, beside the npm client's script and beside the floor of any Effect program.
 *
 * Each script is a small `.mjs` file written into a temporary directory whose `node_modules`
 * is a link to a checkout's: the same script resolves this checkout's packages, or the
 * baseline's (`--baseline DIR`), so both are measured with the same lines. A script (and
 * `faktory-worker --help`) reports its own CPU time and peak RSS as it exits (a `--require`d
 * probe of a few lines); a worker is read from /proc the moment it says "started", then
 * stopped. Wall time is the harness's, from spawning the process to its exit or that line.
 */
import { spawn } from "node:child_process"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import * as ServerCpu from "./ServerCpu.js"

/** One whole-process run. */
export interface StartupRun {
  readonly wallSeconds: number
  readonly cpuSeconds: number
  readonly peakRssKb: number
}

/** What a script stands for: ours (run in each checkout), or a yardstick (run once). */
export type StartupKind = "ours" | "yardstick"

export interface StartupScript {
  readonly id: string
  readonly title: string
  readonly kind: StartupKind
  /** The yardstick that is the floor of this script: the `effect` modules it imports itself. */
  readonly floor?: string
  /** The script's text; for the binary, its arguments instead. */
  readonly source?: string
  readonly binary?: ReadonlyArray<string>
}

const push = `await Effect.runPromise(push({ jobtype: "SendEmail", args: ["a@example.com"] }))\n`

export const scripts: ReadonlyArray<StartupScript> = [
  {
    id: "floor",
    title: "the Effect floor: `import * as Effect from \"effect/Effect\"`, run `Effect.void`",
    kind: "yardstick",
    source: `import * as Effect from "effect/Effect"\nawait Effect.runPromise(Effect.void)\n`
  },
  {
    id: "floor-barrel",
    title: "the Effect floor through the barrel: `import { Effect } from \"effect\"`, run `Effect.void`",
    kind: "yardstick",
    source: `import { Effect } from "effect"\nawait Effect.runPromise(Effect.void)\n`
  },
  {
    id: "floor-schema",
    title: "the Effect floor with Schema: `effect/Effect` and `effect/Schema`, a Schema made, `Effect.void`",
    kind: "yardstick",
    source: `import * as Effect from "effect/Effect"\nimport * as Schema from "effect/Schema"\n` +
      `Schema.Tuple(Schema.String)\nawait Effect.runPromise(Effect.void)\n`
  },
  {
    id: "npm",
    title: "the npm `faktory-worker` client: connect, push one job, close",
    kind: "yardstick",
    source: `import { create } from "faktory-worker"\nconst client = await create().connect()\n` +
      `await client.job("SendEmail", "a@example.com").push()\nawait client.close()\n`
  },
  {
    id: "push-headline",
    title: "the README's headline as written (`import { Effect } from \"effect\"`): push one job",
    kind: "ours",
    floor: "floor-barrel",
    source: `import { Effect } from "effect"\nimport { push } from "@effect-faktory/node"\n${push}`
  },
  {
    id: "push-narrow",
    title: "the headline with `import * as Effect from \"effect/Effect\"`: push one job",
    kind: "ours",
    floor: "floor",
    source: `import * as Effect from "effect/Effect"\nimport { push } from "@effect-faktory/node"\n${push}`
  },
  {
    id: "push-typed",
    title: "a typed push, modules named: `Job.define` with a Schema, pushed through the default client",
    kind: "ours",
    floor: "floor-schema",
    source: `import * as Effect from "effect/Effect"\nimport * as Schema from "effect/Schema"\n` +
      `import * as Job from "@effect-faktory/core/Job"\nimport { DefaultClient } from "@effect-faktory/node"\n` +
      `const SendEmail = Job.define("SendEmail", { args: Schema.Tuple(Schema.String) })\n` +
      `await Effect.runPromise(SendEmail.push(["a@example.com"]).pipe(Effect.provide(DefaultClient.layer)))\n`
  },
  {
    id: "push-typed-barrels",
    title: "the same typed push through the barrels (`effect`, `@effect-faktory/core`)",
    kind: "ours",
    floor: "floor-barrel",
    source: `import { Effect, Schema } from "effect"\nimport { Job } from "@effect-faktory/core"\n` +
      `import { DefaultClient } from "@effect-faktory/node"\n` +
      `const SendEmail = Job.define("SendEmail", { args: Schema.Tuple(Schema.String) })\n` +
      `await Effect.runPromise(SendEmail.push(["a@example.com"]).pipe(Effect.provide(DefaultClient.layer)))\n`
  },
  {
    id: "worker-started",
    title: "`faktory-worker -r jobs.mjs` until it logs \"started\" (20 processors)",
    kind: "ours",
    floor: "floor",
    binary: ["-r", "jobs.mjs", "-q", "bench-startup"]
  },
  {
    id: "worker-help",
    title: "`faktory-worker --help`",
    kind: "ours",
    floor: "floor",
    binary: ["--help"]
  }
]

/** The handler module the binary loads. */
const jobsModule = `import * as Effect from "effect/Effect"\nimport * as Schema from "effect/Schema"\n` +
  `import * as Job from "@effect-faktory/core/Job"\n` +
  `export const Noop = Job.define("Noop", { args: Schema.Tuple(Schema.Number) }).handle(() => Effect.void)\n`

/** Reports the process's CPU time and peak RSS on fd 3 as it exits. */
const probe = `"use strict"\nconst fs = require("node:fs")\nprocess.on("exit", () => {\n` +
  `  const usage = process.resourceUsage()\n` +
  `  try { fs.writeSync(3, JSON.stringify({ cpuSeconds: (usage.userCPUTime + usage.systemCPUTime) / 1e6, peakRssKb: usage.maxRSS })) } catch {}\n` +
  `})\n`

/** A directory of the scripts whose packages are those of `checkout`; removed by `remove`. */
export interface Prepared {
  readonly dir: string
  readonly binary: string
  readonly remove: () => void
}

export const prepare = (checkout: string): Prepared => {
  const dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "effect-faktory-startup-"))
  Fs.symlinkSync(Path.join(checkout, "node_modules"), Path.join(dir, "node_modules"), "dir")
  Fs.writeFileSync(Path.join(dir, "package.json"), `{ "type": "module", "private": true }\n`)
  Fs.writeFileSync(Path.join(dir, "probe.cjs"), probe)
  Fs.writeFileSync(Path.join(dir, "jobs.mjs"), jobsModule)
  for (const script of scripts) if (script.source !== undefined) Fs.writeFileSync(Path.join(dir, `${script.id}.mjs`), script.source)
  return {
    dir,
    binary: Path.join(checkout, "packages", "node", "dist", "bin.js"),
    remove: () => Fs.rmSync(dir, { recursive: true, force: true })
  }
}

/** Resident set's high-water mark of a running process, in KB, from /proc. */
const peakRssOf = (pid: number): number | undefined => {
  try {
    const line = Fs.readFileSync(`/proc/${pid}/status`, "utf8").split("\n").find((text) => text.startsWith("VmHWM:"))
    return line === undefined ? undefined : Number(line.replace(/[^0-9]/g, ""))
  } catch {
    return undefined
  }
}

/**
 * Runs one script once, in `prepared`'s directory, against the server at `url`. Fails when it
 * exits non-zero or does not finish within `timeoutMillis`.
 */
export const runOnce = (prepared: Prepared, script: StartupScript, url: string, timeoutMillis = 60_000): Promise<StartupRun> =>
  new Promise((resolve, reject) => {
    const env: Record<string, string> = {}
    for (const [key, value] of Object.entries(process.env)) {
      if (value !== undefined && !key.startsWith("FAKTORY_") && key !== "NODE_OPTIONS") env[key] = value
    }
    env.FAKTORY_URL = url
    const argv = script.binary === undefined
      ? ["--require", "./probe.cjs", `./${script.id}.mjs`]
      : ["--require", "./probe.cjs", prepared.binary, ...script.binary, "-u", url]
    // The binary's --help exits by itself, and reports as a script does.
    const untilStarted = script.binary !== undefined && !script.binary.includes("--help")
    const started = process.hrtime.bigint()
    const child = spawn(process.execPath, argv, { cwd: prepared.dir, env, stdio: ["ignore", "pipe", "pipe", "pipe"] })
    let output = ""
    let report = ""
    let result: StartupRun | undefined = undefined
    const seconds = () => Number(process.hrtime.bigint() - started) / 1e9
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMillis)
    child.stdio[3]?.on("data", (chunk: Buffer) => (report += chunk.toString()))
    child.stderr?.on("data", (chunk: Buffer) => (output += chunk.toString()))
    child.stdout?.on("data", (chunk: Buffer) => {
      output += chunk.toString()
      // The binary: measured the moment it says it started, then stopped.
      if (untilStarted && result === undefined && / started /.test(output) && child.pid !== undefined) {
        const wallSeconds = seconds()
        const cpuSeconds = ServerCpu.ownCpuSecondsOf(child.pid)
        const peakRssKb = peakRssOf(child.pid)
        if (cpuSeconds !== undefined && peakRssKb !== undefined) result = { wallSeconds, cpuSeconds, peakRssKb }
        child.kill("SIGTERM")
      }
    })
    child.on("exit", (code, signal) => {
      clearTimeout(timer)
      const wallSeconds = seconds()
      if (!untilStarted) {
        try {
          if (code !== 0) throw new Error(`exit ${code ?? signal}`)
          const measured = JSON.parse(report) as { cpuSeconds: number; peakRssKb: number }
          return resolve({ wallSeconds, cpuSeconds: measured.cpuSeconds, peakRssKb: measured.peakRssKb })
        } catch (error) {
          return reject(new Error(`start-up ${script.id} failed (${String(error)}):\n${output.slice(-2000)}`))
        }
      }
      return result === undefined
        ? reject(new Error(`start-up ${script.id}: no "started" line (exit ${code ?? signal}):\n${output.slice(-2000)}`))
        : resolve(result)
    })
  })
