import { expect, it } from "@effect/vitest"
import { spawn } from "node:child_process"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"

const main = fileURLToPath(new URL("../dist/main.js", import.meta.url))

// The full run is `npm run bench`; this smoke run (tiny counts, one repetition) keeps the
// harness, the runners and the Go peer from rotting. Its figures mean nothing.
/** Runs the harness without blocking this worker (a blocked worker misses vitest's RPC deadlines). */
const runHarness = (out: string, args: ReadonlyArray<string> = ["--smoke", "--out", out]) =>
  new Promise<{ status: number | null; stderr: string }>((resolve) => {
    const child = spawn(process.execPath, [main, ...args], { stdio: ["ignore", "ignore", "pipe"] })
    let stderr = ""
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()))
    const timer = setTimeout(() => child.kill("SIGKILL"), 8 * 60_000)
    child.on("exit", (status) => {
      clearTimeout(timer)
      resolve({ status, stderr })
    })
  })

it("the harness refuses an argument it does not know, at once (it started a full run)", async () => {
  const out = Fs.mkdtempSync(Path.join(Os.tmpdir(), "bench-args-"))
  try {
    const typo = await runHarness(out, ["--rep", "3", "--out", out])
    expect(typo.status).toBe(2)
    expect(typo.stderr).toContain(`unknown or incomplete argument "--rep"`)
    const help = await runHarness(out, ["--help"])
    expect(help.status).toBe(0)
    expect(help.stderr).toContain("usage: node packages/bench/dist/main.js")
    expect(Fs.readdirSync(out)).toEqual([])
  } finally {
    Fs.rmSync(out, { recursive: true, force: true })
  }
})

it("the benchmark harness runs every scenario for every tool and writes its tables", async () => {
  const out = Fs.mkdtempSync(Path.join(Os.tmpdir(), "bench-smoke-"))
  try {
    const run = await runHarness(out)
    expect(run.status, run.stderr).toBe(0)
    const markdown = Fs.readFileSync(Path.join(out, "smoke.md"), "utf8")
    for (const heading of ["## Throughput", "## Latency", "## Worker resources", "## The floor", "## Start-up", "## Soak"]) {
      expect(markdown).toContain(heading)
    }
    const report = JSON.parse(Fs.readFileSync(Path.join(out, "smoke.json"), "utf8")) as {
      results: Record<string, Record<string, Array<{ jobsPerSecond: number; serverCpuSeconds?: number }>>>
      startup: Record<string, { effect?: Array<{ wallSeconds: number; cpuSeconds: number; peakRssKb: number }> }>
    }
    const rows = Object.entries(report.results)
    expect(rows.map(([id]) => id)).toEqual([
      "push-await",
      "push-concurrent",
      "push-pipelined",
      "push-bulk",
      "push-bulk-pool",
      "process-1",
      "process-10",
      "process-10-young-4",
      "process-50",
      "latency",
      "soak"
    ])
    for (const [, tools] of rows) {
      expect(tools.effect?.[0]?.jobsPerSecond).toBeGreaterThan(0)
      expect(tools.npm?.[0]?.jobsPerSecond).toBeGreaterThan(0)
    }
    // The Go peer runs wherever Go is installed (CI has it).
    expect(report.results["process-10"]?.go?.[0]?.jobsPerSecond).toBeGreaterThan(0)
    // The floor, a worker with no library, runs beside them at concurrency 10.
    expect(report.results["process-10"]?.bare?.[0]?.jobsPerSecond).toBeGreaterThan(0)
    expect(markdown).toMatch(/\| CPU seconds per 10,000 jobs \| [0-9.]+ \| [0-9.]+× \|/)
    // The server's CPU time is read from /proc: Linux, as CI is.
    if (process.platform === "linux") {
      for (const tool of ["effect", "npm", "go"]) {
        expect(report.results["process-10"]?.[tool]?.[0]?.serverCpuSeconds, tool).toBeGreaterThan(0)
      }
      expect(markdown).toMatch(/\| server \(Faktory \+ Redis\) CPU seconds per 10,000 jobs, meanwhile \| [0-9]/)
    }
    // Start-up: every script measured as a whole process, the binary until "started" too.
    for (const id of ["floor", "floor-barrel", "floor-schema", "npm", "push-headline", "push-narrow", "push-typed", "push-typed-barrels", "worker-started", "worker-help"]) {
      const run = report.startup[id]?.effect?.[0]
      expect(run?.wallSeconds, id).toBeGreaterThan(0)
      expect(run?.peakRssKb, id).toBeGreaterThan(10_000)
    }
    expect(markdown).toMatch(/\| push-narrow: [^|]* \| wall \(s\) \| [0-9.]+ \| floor: [0-9.]+ \| [+−][0-9.]+ \| [0-9.]+ \| [0-9.]+× \|/)
    // The ratio chart: one labelled row per throughput scenario and cost, ÷ npm on each, and
    // the push scripts' start-up (wall, CPU, peak RSS) ÷ the npm client's.
    const svg = Fs.readFileSync(Path.join(out, "smoke.svg"), "utf8")
    expect(svg.startsWith("<svg ")).toBe(true)
    for (const label of ["push-await", "process-10", "latency p50", "CPU per 10k jobs (c=10)", "start-up wall: push-headline"]) {
      expect(svg).toContain(`>${label}<`)
    }
    expect(svg.match(/<circle /g)?.length).toBe(22)
  } finally {
    Fs.rmSync(out, { recursive: true, force: true })
  }
}, 10 * 60_000)
