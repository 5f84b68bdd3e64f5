import { expect, it } from "@effect/vitest"
import { spawnSync } from "node:child_process"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"

const main = fileURLToPath(new URL("../dist/main.js", import.meta.url))

// The full run is `npm run bench`; this smoke run (tiny counts, one repetition) keeps the
// harness, the runners and the Go peer from rotting. Its figures mean nothing.
it("the benchmark harness runs every scenario for every tool and writes its tables", () => {
  const out = Fs.mkdtempSync(Path.join(Os.tmpdir(), "bench-smoke-"))
  try {
    const run = spawnSync(process.execPath, [main, "--smoke", "--out", out], { encoding: "utf8", timeout: 8 * 60_000 })
    expect(run.status, run.stderr).toBe(0)
    const markdown = Fs.readFileSync(Path.join(out, "smoke.md"), "utf8")
    for (const heading of ["## Throughput", "## Latency", "## Worker resources", "## Soak"]) {
      expect(markdown).toContain(heading)
    }
    const report = JSON.parse(Fs.readFileSync(Path.join(out, "smoke.json"), "utf8")) as {
      results: Record<string, Record<string, Array<{ jobsPerSecond: number }>>>
    }
    const rows = Object.entries(report.results)
    expect(rows.map(([id]) => id)).toEqual([
      "push-await",
      "push-concurrent",
      "push-pipelined",
      "push-bulk",
      "process-1",
      "process-10",
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
  } finally {
    Fs.rmSync(out, { recursive: true, force: true })
  }
}, 10 * 60_000)
