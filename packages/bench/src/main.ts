/**
 * The benchmark harness: starts one Faktory server, runs every scenario for effect-faktory,
 * the npm `faktory-worker` and `faktory_worker_go` (each in its own process, FLUSHing between
 * runs), and writes a Markdown table of medians (min–max) with the ratio effect-faktory ÷ peer.
 *
 *   node packages/bench/dist/main.js [--smoke] [--reps N] [--out DIR] [--no-go] [--only a,b|startup] [--baseline DIR]
 *
 * Then the start-up scripts (`Startup.ts`): whole processes, a push script and the binary,
 * beside the npm client's script and the Effect floor.
 *
 * `--baseline DIR` also runs effect-faktory as built in another checkout (DIR, with its own
 * `npm install` and build: a worktree of the commit before a change), taking turns with this
 * one: this checkout's runners and start-up scripts with that checkout's packages. It adds a
 * before/after section: a change's effect measured within one run.
 */
import { Client } from "@effect-faktory/core"
import { NodeTransport } from "@effect-faktory/node"
import { FaktoryServer } from "@effect-faktory/testing"
import { Console, Effect, Schema } from "effect"
import { execFileSync, spawn } from "node:child_process"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"
import * as Chart from "./Chart.js"
import type { RunResult, ScenarioName, ScenarioParams } from "./Scenario.js"
import * as ScenarioSchema from "./ScenarioSchema.js"
import * as ServerCpu from "./ServerCpu.js"
import * as Startup from "./Startup.js"

const here = Path.dirname(fileURLToPath(import.meta.url))
const packageRoot = Path.resolve(here, "..")

type Tool = "effect" | "baseline" | "npm" | "go" | "bare"
const toolNames: Record<Tool, string> = {
  effect: "effect-faktory",
  baseline: "effect-faktory, baseline",
  npm: "faktory-worker (npm)",
  go: "faktory_worker_go",
  bare: "Node with no library (runners/bare)"
}

interface Row {
  readonly id: string
  readonly title: string
  readonly scenario: ScenarioName
  readonly count: number
  readonly concurrency: number
  readonly tools: ReadonlyArray<Tool>
  /** Jobs pushed before the runner starts (processing scenarios). */
  readonly prepush: boolean
  /** Extra Node flags, the same for every Node runner of the row. */
  readonly nodeFlags?: ReadonlyArray<string>
}

const args = process.argv.slice(2)
const usage =
  "usage: node packages/bench/dist/main.js [--smoke] [--reps N] [--out DIR] [--no-go] [--only a,b|startup] [--baseline DIR] [--chart RESULTS.json]"
// Anything else (--help, a typo) stops here: a full run takes a quarter of an hour.
for (let i = 0; i < args.length; i++) {
  const arg = args[i]!
  if (arg === "--smoke" || arg === "--no-go") continue
  if (["--reps", "--out", "--only", "--chart", "--baseline"].includes(arg) && args[i + 1] !== undefined) {
    i++
    continue
  }
  console.error(arg === "--help" || arg === "-h" ? usage : `unknown or incomplete argument ${JSON.stringify(arg)}\n${usage}`)
  process.exit(arg === "--help" || arg === "-h" ? 0 : 2)
}
const flag = (name: string) => args.includes(name)
const valueOf = (name: string) => {
  const index = args.indexOf(name)
  return index === -1 ? undefined : args[index + 1]
}
const smoke = flag("--smoke")
const reps = Number(valueOf("--reps") ?? (smoke ? 1 : 3))
const outDir = valueOf("--out") ?? Path.join(packageRoot, "results")
const only = valueOf("--only")?.split(",")
const baselineDir = valueOf("--baseline")
if (baselineDir !== undefined && !Fs.existsSync(Path.resolve(baselineDir, "packages", "node", "dist", "index.js"))) {
  console.error(`--baseline: ${baselineDir} has no built packages (npm install and npm run build in that checkout first)`)
  process.exit(2)
}
/**
 * The baseline runs this checkout's runner (the same scenario code, the same settle times)
 * with the baseline's packages: a copy of the runner and Scenario.js in a temporary
 * directory whose node_modules is a link to the baseline's. Only the library differs.
 */
const baselineRunner = (() => {
  if (baselineDir === undefined) return undefined
  const dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "effect-faktory-baseline-"))
  Fs.symlinkSync(Path.resolve(baselineDir, "node_modules"), Path.join(dir, "node_modules"), "dir")
  Fs.writeFileSync(Path.join(dir, "package.json"), `{ "type": "module", "private": true }\n`)
  Fs.mkdirSync(Path.join(dir, "runners"))
  Fs.copyFileSync(Path.join(here, "Scenario.js"), Path.join(dir, "Scenario.js"))
  Fs.copyFileSync(Path.join(here, "runners", "effect.js"), Path.join(dir, "runners", "effect.js"))
  process.on("exit", () => Fs.rmSync(dir, { recursive: true, force: true }))
  return Path.join(dir, "runners", "effect.js")
})()
const scale = (full: number, tiny: number) => (smoke ? tiny : full)

const allRows: ReadonlyArray<Row> = [
  { id: "push-await", title: "push: one connection, awaiting each", scenario: "push-await", count: scale(10_000, 200), concurrency: 1, tools: ["effect", "npm"], prepush: false },
  { id: "push-concurrent", title: "push: 50 concurrent pushers over the pool", scenario: "push-concurrent", count: scale(20_000, 400), concurrency: 50, tools: ["effect", "npm"], prepush: false },
  { id: "push-pipelined", title: "push: pipelined on one connection (npm: its best, the pool)", scenario: "push-pipelined", count: scale(20_000, 400), concurrency: 500, tools: ["effect", "npm"], prepush: false },
  { id: "push-bulk", title: "PUSHB in batches of 1,000, one connection", scenario: "push-bulk", count: scale(50_000, 2000), concurrency: 1, tools: ["effect", "npm"], prepush: false },
  { id: "push-bulk-pool", title: "PUSHB in batches of 1,000 over a pool of 10", scenario: "push-bulk", count: scale(100_000, 4000), concurrency: 10, tools: ["effect", "npm"], prepush: false },
  { id: "process-1", title: "process no-op jobs, concurrency 1", scenario: "process", count: scale(20_000, 200), concurrency: 1, tools: ["effect", "npm", "go"], prepush: true },
  { id: "process-10", title: "process no-op jobs, concurrency 10", scenario: "process", count: scale(20_000, 400), concurrency: 10, tools: ["effect", "npm", "go", "bare"], prepush: true },
  // V8's young generation grows to 32 MB while Effect's modules load; this row shows what
  // capping it (the README's advice for memory-tight deployments) costs and saves.
  { id: "process-10-young-4", title: "process no-op jobs, concurrency 10, Node with --max-semi-space-size=4", scenario: "process", count: scale(20_000, 400), concurrency: 10, tools: ["effect", "npm"], prepush: true, nodeFlags: ["--max-semi-space-size=4"] },
  { id: "process-50", title: "process no-op jobs, concurrency 50", scenario: "process", count: scale(20_000, 400), concurrency: 50, tools: ["effect", "npm", "go"], prepush: true },
  { id: "latency", title: "push → handler start at 100 jobs/s", scenario: "latency", count: scale(500, 30), concurrency: 10, tools: ["effect", "npm", "go"], prepush: false },
  { id: "soak", title: "one worker, concurrency 10", scenario: "soak", count: scale(100_000, 1000), concurrency: 10, tools: ["effect", "npm"], prepush: true }
]
const rows = allRows.filter((row) => only === undefined || only.includes(row.id))
/** The start-up scripts run unless `--only` leaves "startup" out. */
const runStartup = only === undefined || only.includes("startup")
const startupReps = smoke ? 1 : 7

const decodeResult = Schema.decodeUnknownSync(Schema.parseJson(ScenarioSchema.RunResult))

/** Builds the Go peer once; undefined (with the reason) when Go or its modules are not at hand. */
const buildGo = (): { binary?: string; reason?: string } => {
  if (flag("--no-go")) return { reason: "skipped (--no-go)" }
  const binary = Path.join(Os.tmpdir(), `effect-faktory-bench-go-${process.pid}`)
  try {
    execFileSync("go", ["build", "-o", binary, "."], { cwd: Path.join(packageRoot, "go"), stdio: "pipe" })
    return { binary }
  } catch (error) {
    return { reason: `not run: go build failed (${String(error).split("\n")[0]})` }
  }
}

const runTool = (tool: Tool, params: ScenarioParams, goBinary: string | undefined, nodeFlags: ReadonlyArray<string>) =>
  Effect.async<RunResult, Error>((resume) => {
    const json = JSON.stringify(params)
    const [command, argv] = tool === "go"
      ? [goBinary!, [json]]
      : [process.execPath, [
        "--expose-gc",
        ...nodeFlags,
        tool === "baseline" ? baselineRunner! : Path.join(here, "runners", `${tool}.js`),
        json
      ]]
    const child = spawn(command, argv, { env: { ...process.env, FAKTORY_URL: params.url }, stdio: ["ignore", "pipe", "pipe"] })
    let stdout = ""
    let stderr = ""
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()))
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()))
    const timer = setTimeout(() => child.kill("SIGKILL"), (smoke ? 2 : 10) * 60_000)
    child.on("exit", (code) => {
      clearTimeout(timer)
      const last = stdout.trim().split("\n").pop() ?? ""
      try {
        if (code !== 0) throw new Error(`exit ${code}`)
        resume(Effect.succeed(decodeResult(last)))
      } catch (error) {
        resume(Effect.fail(new Error(`${tool} ${params.scenario} failed (${String(error)}):\n${stderr.slice(-2000)}`)))
      }
    })
    return Effect.sync(() => child.kill("SIGKILL"))
  })

interface Summary {
  readonly median: number
  readonly min: number
  readonly max: number
}
const summarize = (values: ReadonlyArray<number>): Summary => {
  const sorted = values.slice().sort((a, b) => a - b)
  return { median: sorted[Math.floor((sorted.length - 1) / 2)]!, min: sorted[0]!, max: sorted[sorted.length - 1]! }
}

/** A runner's result, with the CPU time the server (Faktory and Redis) spent meanwhile. */
interface Measured extends RunResult {
  readonly serverCpuSeconds?: number | undefined
}

type Results = Record<string, Partial<Record<Tool, ReadonlyArray<Measured>>>>

/** Start-up runs per script: this checkout's, and the baseline's for our own scripts. */
type StartupResults = Record<string, { readonly effect?: ReadonlyArray<Startup.StartupRun>; readonly baseline?: ReadonlyArray<Startup.StartupRun> }>

/**
 * Every start-up script, `startupReps` times after one warm-up round (the file cache), taking
 * turns: script by script, this checkout then the baseline, so the machine's drift spreads
 * over all of them alike.
 */
const measureStartup = (url: string) =>
  Effect.acquireUseRelease(
    Effect.sync(() => ({
      effect: Startup.prepare(Path.resolve(packageRoot, "..", "..")),
      baseline: baselineDir === undefined ? undefined : Startup.prepare(Path.resolve(baselineDir))
    })),
    (prepared) =>
      Effect.gen(function*() {
        const runs: Record<string, { effect?: Array<Startup.StartupRun>; baseline?: Array<Startup.StartupRun> }> = {}
        for (let rep = -1; rep < startupReps; rep++) {
          for (const script of Startup.scripts) {
            const sides = [["effect", prepared.effect] as const, ...(script.kind === "ours" && prepared.baseline !== undefined ? [["baseline", prepared.baseline] as const] : [])]
            for (const [side, dir] of sides) {
              const run = yield* Effect.tryPromise({
                try: () => Startup.runOnce(dir, script, url),
                catch: (error) => error instanceof Error ? error : new Error(String(error))
              })
              if (rep < 0) continue
              const entry = (runs[script.id] ??= {})
              entry[side] = [...(entry[side] ?? []), run]
            }
          }
          if (rep >= 0) yield* Console.log(`startup #${rep + 1} of ${startupReps}`)
        }
        return runs as StartupResults
      }),
    (prepared) =>
      Effect.sync(() => {
        prepared.effect.remove()
        prepared.baseline?.remove()
      })
  )

const main = Effect.gen(function*() {
  const go = buildGo()
  const server = yield* FaktoryServer.make({ webUi: false })
  const client = yield* Client.make({ url: server.url, poolSize: 4 })
  const version = (yield* client.info).server.faktory_version
  const results: Results = {}
  for (const row of rows) {
    const tools = row.tools
      .filter((tool) => tool !== "go" || go.binary !== undefined)
      .flatMap((tool): ReadonlyArray<Tool> => tool === "effect" && baselineRunner !== undefined ? ["effect", "baseline"] : [tool])
    const runs: Partial<Record<Tool, Array<Measured>>> = {}
    // Repetitions take turns between the tools: the machine's speed drifts over minutes, and
    // running one tool's repetitions back to back would fold that drift into the ratios.
    for (let rep = 0; rep < reps; rep++) {
      for (const tool of tools) {
        yield* client.flush
        const queue = `bench-${row.id}`
        if (row.prepush) {
          yield* client.pushBulk(Array.from({ length: row.count }, (_, i) => ({ jobtype: "Noop", queue, args: [i] })))
        }
        const serverBefore = ServerCpu.cpuSecondsOf(server.pid())
        const result = yield* runTool(tool, {
          scenario: row.scenario,
          url: server.url,
          queue,
          count: row.count,
          concurrency: row.concurrency,
          rate: 100
        }, go.binary, row.nodeFlags ?? [])
        const serverAfter = ServerCpu.cpuSecondsOf(server.pid())
        const serverCpuSeconds = serverBefore === undefined || serverAfter === undefined
          ? undefined
          : serverAfter - serverBefore
        runs[tool] = [...(runs[tool] ?? []), { ...result, serverCpuSeconds }]
        // A runner that exits with FETCHes pending leaves their server-side waits (up to 2 s)
        // behind; they would reserve the next run's jobs for closed connections.
        yield* Effect.sleep("2500 millis")
        yield* Console.log(`${row.id} ${tool} #${rep + 1}: ${Math.round(result.jobsPerSecond)} jobs/s`)
      }
    }
    results[row.id] = runs
  }
  if (go.binary !== undefined) Fs.rmSync(go.binary, { force: true })
  const startup = runStartup ? yield* measureStartup(server.url) : {}
  yield* client.flush
  const markdown = render(results, startup, { version, goNote: go.reason })
  Fs.mkdirSync(outDir, { recursive: true })
  const name = smoke ? "smoke" : "latest"
  Fs.writeFileSync(Path.join(outDir, `${name}.md`), markdown)
  Fs.writeFileSync(Path.join(outDir, `${name}.svg`), Chart.render(chartRows(results, startup), chartTitle()))
  Fs.writeFileSync(
    Path.join(outDir, `${name}.json`),
    `${JSON.stringify({ date: new Date().toISOString(), faktory: version, node: process.version, cpus: Os.cpus().length, reps, smoke, rows: allRows.filter((r) => results[r.id] !== undefined), results, startupReps, startup }, null, 2)}\n`
  )
  yield* Console.log(`\n${markdown}`)
}).pipe(Effect.scoped, Effect.provide(NodeTransport.layer))

const fmt = (value: number, digits = 0) =>
  value.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits })
const cell = <R,>(runs: ReadonlyArray<R> | undefined, pick: (run: R) => number | undefined, digits = 0) => {
  const values = (runs ?? []).map(pick).filter((value): value is number => value !== undefined)
  if (values.length === 0) return "–"
  const { max, median, min } = summarize(values)
  return values.length === 1 ? fmt(median, digits) : `${fmt(median, digits)} (${fmt(min, digits)}–${fmt(max, digits)})`
}
const ratio = <R,>(
  ours: ReadonlyArray<R> | undefined,
  theirs: ReadonlyArray<R> | undefined,
  pick: (run: R) => number | undefined
) => {
  const a = (ours ?? []).map(pick).filter((value): value is number => value !== undefined)
  const b = (theirs ?? []).map(pick).filter((value): value is number => value !== undefined)
  if (a.length === 0 || b.length === 0) return "–"
  return `${(summarize(a).median / summarize(b).median).toFixed(2)}×`
}

const spreadOf = <R,>(runs: ReadonlyArray<R> | undefined, pick: (run: R) => number | undefined) => {
  const values = (runs ?? []).map(pick).filter((value): value is number => value !== undefined)
  return values.length === 0 ? undefined : summarize(values)
}

const chartTitle = () =>
  `effect-faktory ÷ peers, ${Os.cpus().length} cores, Node ${process.version}, ${new Date().toISOString().slice(0, 10)}`

/** The rows of the ratio chart: every throughput row, latency, the worker's costs, start-up. */
const chartRows = (results: Results, startup: StartupResults): ReadonlyArray<Chart.ChartRow> => {
  const rows: Array<Chart.ChartRow> = []
  const add = (
    label: string,
    higherIsBetter: boolean,
    runs: Partial<Record<Tool, ReadonlyArray<Measured>>> | undefined,
    pick: (run: Measured) => number | undefined
  ) => {
    const ours = spreadOf(runs?.effect, pick)
    if (ours === undefined) return
    rows.push({ label, higherIsBetter, ours, npm: spreadOf(runs?.npm, pick), go: spreadOf(runs?.go, pick) })
  }
  for (const row of allRows) {
    if (row.scenario === "latency" || row.scenario === "soak") continue
    add(row.id, true, results[row.id], (run) => run.jobsPerSecond)
  }
  add("latency p50", false, results["latency"], (run) => run.p50Ms)
  add("latency p99", false, results["latency"], (run) => run.p99Ms)
  const resources = results["process-10"]
  add("CPU per 10k jobs (c=10)", false, resources, cpu)
  add("peak RSS (c=10)", false, resources, (run) => run.peakRssKb)
  // Start-up beside the npm client's push script: our push scripts only (a worker's start is
  // not a push's).
  const npmStartup = startup["npm"]?.effect
  for (const id of ["push-headline", "push-narrow", "push-typed"]) {
    const ours = startup[id]?.effect
    if (ours === undefined) continue
    for (const [measure, pick] of startupMeasures) {
      const spread = spreadOf(ours, pick)
      if (spread !== undefined) rows.push({ label: `start-up ${measure}: ${id}`, higherIsBetter: false, ours: spread, npm: spreadOf(npmStartup, pick) })
    }
  }
  return rows
}

const startupMeasures = [
  ["wall", (run: Startup.StartupRun) => run.wallSeconds],
  ["CPU", (run: Startup.StartupRun) => run.cpuSeconds],
  ["peak RSS", (run: Startup.StartupRun) => run.peakRssKb]
] as const

/** A run's CPU seconds, and their user-space part, per 10,000 jobs; its peak RSS in MB. */
const cpu = (run: RunResult) => (run.cpuSeconds / run.jobsPerSecond / run.seconds) * 10_000
const userCpu = (run: RunResult) => (run.userCpuSeconds / run.jobsPerSecond / run.seconds) * 10_000
const rss = (run: RunResult) => run.peakRssKb / 1024

/** Median of ours less median of the floor: what the library adds to the program. */
const share = <R,>(ours: ReadonlyArray<R> | undefined, floor: ReadonlyArray<R> | undefined, pick: (run: R) => number, digits: number) => {
  if (ours === undefined || floor === undefined || ours.length === 0 || floor.length === 0) return "–"
  const difference = summarize(ours.map(pick)).median - summarize(floor.map(pick)).median
  return `${difference >= 0 ? "+" : "−"}${fmt(Math.abs(difference), digits)}`
}

const renderStartup = (startup: StartupResults, lines: Array<string>) => {
  const header = (columns: ReadonlyArray<string>) => {
    lines.push(`| ${columns.join(" | ")} |`)
    lines.push(`|${columns.map(() => "---").join("|")}|`)
  }
  const measures = [
    ["wall (s)", (run: Startup.StartupRun) => run.wallSeconds, 2],
    ["CPU, user + system (s)", (run: Startup.StartupRun) => run.cpuSeconds, 2],
    ["peak RSS (MB)", (run: Startup.StartupRun) => run.peakRssKb / 1024, 1]
  ] as const
  lines.push(
    "",
    `## Start-up: the whole process (lower is better, ${startupReps} run${startupReps === 1 ? "" : "s"} each, taking turns)`,
    "",
    "A push script from its start to its exit, one job pushed; `faktory-worker` from its start to its \"started\" line. " +
      "The floors are programs that import what the script's own lines import from `effect` and run `Effect.void`: " +
      "what a user's own `effect` import costs. Ours less its floor is what the library adds.",
    ""
  )
  header(["yardstick", ...measures.map(([name]) => name)])
  for (const script of Startup.scripts.filter((entry) => entry.kind === "yardstick")) {
    const runs = startup[script.id]?.effect
    if (runs === undefined) continue
    lines.push(`| ${script.id}: ${script.title} | ${measures.map(([, pick, digits]) => cell(runs, pick, digits)).join(" | ")} |`)
  }
  lines.push("")
  header(["script", "measure", toolNames.effect, "its floor", "library's share (ours − floor)", "npm client's push", "÷ npm"])
  const npm = startup["npm"]?.effect
  for (const script of Startup.scripts.filter((entry) => entry.kind === "ours")) {
    const runs = startup[script.id]?.effect
    if (runs === undefined) continue
    const floor = script.floor === undefined ? undefined : startup[script.floor]?.effect
    // The npm client is a push script: beside our workers it is no yardstick.
    const beside = script.id.startsWith("push-") ? npm : undefined
    measures.forEach(([name, pick, digits], index) => {
      lines.push(
        `| ${index === 0 ? `${script.id}: ${script.title}` : ""} | ${name} | ${cell(runs, pick, digits)} | ${
          index === 0 ? `${script.floor ?? "–"}: ` : ""
        }${cell(floor, pick, digits)} | ${share(runs, floor, pick, digits)} | ${beside === undefined ? "–" : cell(beside, pick, digits)} | ${
          beside === undefined ? "–" : ratio(runs, beside, pick)
        } |`
      )
    })
  }
}

const render = (results: Results, startup: StartupResults, meta: { version: string; goNote: string | undefined }): string => {
  const lines: Array<string> = []
  const header = (columns: ReadonlyArray<string>) => {
    lines.push(`| ${columns.join(" | ")} |`)
    lines.push(`|${columns.map(() => "---").join("|")}|`)
  }
  lines.push("# effect-faktory benchmarks", "")
  lines.push(
    `Faktory ${meta.version}, Node ${process.version}, ${Os.cpus().length} cores (the server shares them), ` +
      `${new Date().toISOString().slice(0, 10)}. ${
        // A start-up-only run (--only startup) has its own count of runs, said in its section.
        Object.keys(results).length > 0 ? `${reps} run${reps === 1 ? "" : "s"} each` : "Cells"
      }: median (min–max).` +
      `${smoke ? " **Smoke run: tiny counts, figures not meaningful.**" : ""}`
  )
  if (meta.goNote !== undefined) lines.push("", `faktory_worker_go: ${meta.goNote}.`)
  const throughput = (run: RunResult) => run.jobsPerSecond
  const throughputRows = allRows.filter((row) => results[row.id] !== undefined && row.scenario !== "latency" && row.scenario !== "soak")
  if (throughputRows.length > 0) {
    lines.push("", "## Throughput (jobs/s, higher is better)", "")
    header(["scenario", "jobs", toolNames.effect, toolNames.npm, toolNames.go, "÷ npm", "÷ go"])
  }
  for (const row of throughputRows) {
    const r = results[row.id]!
    lines.push(
      `| ${row.title} | ${fmt(row.count)} | ${cell(r.effect, throughput)} | ${cell(r.npm, throughput)} | ${cell(r.go, throughput)} | ${
        ratio(r.effect, r.npm, throughput)
      } | ${ratio(r.effect, r.go, throughput)} |`
    )
  }
  const latency = results["latency"]
  if (latency !== undefined) {
    lines.push("", "## Latency, push → handler start (ms, lower is better)", "")
    header(["percentile", toolNames.effect, toolNames.npm, toolNames.go, "÷ npm", "÷ go"])
    for (const [name, pick] of [["p50", (run: RunResult) => run.p50Ms], ["p99", (run: RunResult) => run.p99Ms]] as const) {
      lines.push(
        `| ${name} | ${cell(latency.effect, pick, 2)} | ${cell(latency.npm, pick, 2)} | ${cell(latency.go, pick, 2)} | ${
          ratio(latency.effect, latency.npm, pick)
        } | ${ratio(latency.effect, latency.go, pick)} |`
      )
    }
  }
  const resources = results["process-10"]
  if (resources !== undefined) {
    lines.push("", "## Worker resources, no-op jobs at concurrency 10 (lower is better)", "")
    header(["measure", toolNames.effect, toolNames.npm, toolNames.go, "÷ npm", "÷ go"])
    const loaded = (run: RunResult) => run.loadedRssKb === undefined ? undefined : run.loadedRssKb / 1024
    const serverCpu = (run: Measured) =>
      run.serverCpuSeconds === undefined ? undefined : (run.serverCpuSeconds / run.jobsPerSecond / run.seconds) * 10_000
    const measures = [
      ["CPU seconds per 10,000 jobs", cpu, 2],
      ["of which user space (the rest is the kernel's)", userCpu, 2],
      ["server (Faktory + Redis) CPU seconds per 10,000 jobs, meanwhile", serverCpu, 2],
      ["peak RSS (MB)", rss, 0],
      ["RSS with the library loaded, before any work (MB)", loaded, 0]
    ] as const
    for (const [name, pick, digits] of measures) {
      lines.push(
        `| ${name} | ${cell(resources.effect, pick, digits)} | ${cell(resources.npm, pick, digits)} | ${cell(resources.go, pick, digits)} | ${
          ratio(resources.effect, resources.npm, pick)
        } | ${ratio(resources.effect, resources.go, pick)} |`
      )
    }
    // The server's CPU per job at concurrency 50 too, to set beside concurrency 10's: on a
    // machine where the server shares the cores, its share bounds every worker's rate.
    const wide = results["process-50"]
    if (wide !== undefined) {
      lines.push(
        `| the same, at concurrency 50 | ${cell(wide.effect, serverCpu, 2)} | ${cell(wide.npm, serverCpu, 2)} | ${
          cell(wide.go, serverCpu, 2)
        } | ${ratio(wide.effect, wide.npm, serverCpu)} | ${ratio(wide.effect, wide.go, serverCpu)} |`
      )
    }
    const young = results["process-10-young-4"]
    if (young !== undefined) {
      lines.push(
        `| peak RSS, Node with --max-semi-space-size=4 (MB) | ${cell(young.effect, rss)} | ${cell(young.npm, rss)} | – | ${
          ratio(young.effect, young.npm, rss)
        } | – |`
      )
    }
  }
  // What Node itself costs per job here, measured in the same run: the part of the gap to Go
  // that no library on Node can close, and the part that is a library's own.
  const bare = resources?.bare
  if (resources !== undefined && bare !== undefined) {
    lines.push("", "## The floor: the same jobs through a hand-written Node worker with no library", "")
    header(["measure", toolNames.bare, `${toolNames.effect} ÷ it`, `${toolNames.go} ÷ it`])
    const measures = [
      ["jobs/s", throughput, 0],
      ["CPU seconds per 10,000 jobs", cpu, 2],
      ["of which user space", userCpu, 2],
      ["peak RSS (MB)", rss, 0]
    ] as const
    for (const [name, pick, digits] of measures) {
      lines.push(
        `| ${name} | ${cell(bare, pick, digits)} | ${ratio(resources.effect, bare, pick)} | ${ratio(resources.go, bare, pick)} |`
      )
    }
  }
  if (allRows.some((row) => results[row.id]?.baseline !== undefined) || Object.values(startup).some((entry) => entry.baseline !== undefined)) {
    lines.push("", `## Before/after: this checkout ÷ the baseline (${baselineDir ?? "another checkout"}), runs taking turns`, "")
    header(["row", "measure", "this checkout", toolNames.baseline, "÷ baseline"])
    const serverCpu = (run: Measured) =>
      run.serverCpuSeconds === undefined ? undefined : (run.serverCpuSeconds / run.jobsPerSecond / run.seconds) * 10_000
    for (const row of allRows) {
      const r = results[row.id]
      if (r?.baseline === undefined) continue
      const measures = row.scenario === "latency"
        ? [["p50 (ms)", (run: Measured) => run.p50Ms, 2], ["p99 (ms)", (run: Measured) => run.p99Ms, 2]] as const
        : [
          ["jobs/s", throughput, 0],
          ["CPU s per 10,000 jobs", cpu, 2],
          ["server CPU s per 10,000 jobs", serverCpu, 2],
          ["peak RSS (MB)", rss, 0]
        ] as const
      for (const [name, pick, digits] of measures) {
        lines.push(`| ${row.id} | ${name} | ${cell(r.effect, pick, digits)} | ${cell(r.baseline, pick, digits)} | ${ratio(r.effect, r.baseline, pick)} |`)
      }
    }
    for (const script of Startup.scripts) {
      const entry = startup[script.id]
      if (entry?.baseline === undefined) continue
      const startupRows = [
        ["wall (s)", (run: Startup.StartupRun) => run.wallSeconds, 2],
        ["CPU (s)", (run: Startup.StartupRun) => run.cpuSeconds, 2],
        ["peak RSS (MB)", (run: Startup.StartupRun) => run.peakRssKb / 1024, 1]
      ] as const
      for (const [name, pick, digits] of startupRows) {
        lines.push(`| start-up ${script.id} | ${name} | ${cell(entry.effect, pick, digits)} | ${cell(entry.baseline, pick, digits)} | ${ratio(entry.effect, entry.baseline, pick)} |`)
      }
    }
  }
  if (Object.keys(startup).length > 0) renderStartup(startup, lines)
  const soak = results["soak"]
  const soakRow = allRows.find((row) => row.id === "soak")!
  if (soak !== undefined) {
    lines.push("", `## Soak: ${fmt(soakRow.count)} jobs through one worker, concurrency 10 (RSS after GC, MB)`, "")
    header(["measure", toolNames.effect, toolNames.npm, "÷ npm"])
    const tenth = (run: RunResult) => run.rssAtTenthKb === undefined ? undefined : run.rssAtTenthKb / 1024
    const end = (run: RunResult) => run.rssAtEndKb === undefined ? undefined : run.rssAtEndKb / 1024
    const growth = (run: RunResult) =>
      run.rssAtEndKb === undefined || run.rssAtTenthKb === undefined ? undefined : (run.rssAtEndKb - run.rssAtTenthKb) / 1024
    lines.push(`| RSS at ${fmt(soakRow.count / 10)} jobs | ${cell(soak.effect, tenth)} | ${cell(soak.npm, tenth)} | ${ratio(soak.effect, soak.npm, tenth)} |`)
    lines.push(`| RSS at ${fmt(soakRow.count)} jobs | ${cell(soak.effect, end)} | ${cell(soak.npm, end)} | ${ratio(soak.effect, soak.npm, end)} |`)
    lines.push(`| growth | ${cell(soak.effect, growth)} | ${cell(soak.npm, growth)} | – |`)
    lines.push(`| jobs/s | ${cell(soak.effect, throughput)} | ${cell(soak.npm, throughput)} | ${ratio(soak.effect, soak.npm, throughput)} |`)
  }
  return `${lines.join("\n")}\n`
}

/** `--chart results/latest.json`: draws the chart of a run already made, beside its file. */
const chartOnly = valueOf("--chart")
const redraw = (file: string) =>
  Effect.sync(() => {
    // The chart reads no server CPU: each run as a runner reports it is enough.
    const Runs = Schema.Struct({
      effect: Schema.optionalWith(Schema.Array(ScenarioSchema.RunResult), { exact: true }),
      npm: Schema.optionalWith(Schema.Array(ScenarioSchema.RunResult), { exact: true }),
      go: Schema.optionalWith(Schema.Array(ScenarioSchema.RunResult), { exact: true })
    })
    const StartupRun = Schema.Struct({ wallSeconds: Schema.Number, cpuSeconds: Schema.Number, peakRssKb: Schema.Number })
    const StartupRuns = Schema.Struct({
      effect: Schema.optionalWith(Schema.Array(StartupRun), { exact: true }),
      baseline: Schema.optionalWith(Schema.Array(StartupRun), { exact: true })
    })
    const report = Schema.decodeUnknownSync(
      Schema.parseJson(Schema.Struct({
        results: Schema.Record({ key: Schema.String, value: Runs }),
        startup: Schema.optionalWith(Schema.Record({ key: Schema.String, value: StartupRuns }), { default: () => ({}) })
      }))
    )(Fs.readFileSync(file, "utf8"))
    const results: Results = report.results
    Fs.writeFileSync(file.replace(/\.json$/, ".svg"), Chart.render(chartRows(results, report.startup), chartTitle()))
  })

Effect.runPromise(chartOnly === undefined ? main : redraw(chartOnly)).catch((error: unknown) => {
  console.error(error)
  process.exitCode = 1
})
