// The dependency rules (.dependency-cruiser.cjs, `npm run lint:deps`) catch what they are meant
// to catch. The packages' src and test folders are copied to a temporary directory (the
// repository is not written to), imports that break each rule are added to the copy, and
// dependency-cruiser's CLI runs there with the repository's configuration, as `npm run lint` does.
import { describe, expect, it } from "@effect/vitest"
import { spawnSync } from "node:child_process"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"

const root = fileURLToPath(new URL("../../..", import.meta.url))

interface Violation {
  readonly from: string
  readonly to: string
  readonly rule: { readonly name: string; readonly severity: string }
  readonly type?: string
  readonly cycle?: ReadonlyArray<{ readonly name: string }>
  readonly dependencyTypes?: ReadonlyArray<string>
}

interface CruiseResult {
  readonly summary: { readonly violations: ReadonlyArray<Violation>; readonly error: number; readonly warn: number }
}

/** Files added to the copy, or lines appended to a copied file: path → text. */
const probes: Record<string, { readonly append?: string; readonly create?: string }> = {
  // L1 wire imports L4 client, and Client reaches Resp at run time: a cycle.
  "packages/core/src/Resp.ts": {
    append: 'import { PUSH_BULK_BATCH_SIZE } from "./Client.js"\nexport const probe = PUSH_BULK_BATCH_SIZE\n'
  },
  // L0 base imports L2 observability; TraceContext imports only effect, so no cycle.
  "packages/core/src/FaktoryUrl.ts": {
    append: 'import { parse } from "./TraceContext.js"\nexport const probe = parse\n'
  },
  // A type-only upward import: L1 wire imports L7 worker.
  "packages/core/src/Protocol.ts": {
    append: 'import type { WorkerOptions } from "./Worker.js"\nexport type Probe = WorkerOptions\n'
  },
  // Another package's internals, by package subpath and by relative path.
  "packages/node/src/ProbeInternal.ts": {
    create: 'export * as A from "@effect-faktory/core/internal/shared/brief.js"\n' +
      'export * as B from "../../core/src/internal/observability/metrics.js"\n'
  },
  "packages/testing/src/ProbeInternal.ts": {
    create: 'export * as A from "../../node/src/internal/handlerLayers.js"\n'
  },
  // The same from a test: allowed.
  "packages/node/test/ProbeInternal.test.ts": {
    create: 'export * as A from "@effect-faktory/core/internal/shared/brief.js"\n' +
      'export * as B from "../../core/src/internal/observability/metrics.js"\n'
  },
  // Platform, the other published packages and the applications, from core's src.
  "packages/core/src/internal/shared/probePlatform.ts": {
    create: 'export * as A from "node:fs"\n' +
      'export * as B from "@effect/platform-node/NodeSocket"\n' +
      'export * as C from "@effect-faktory/testing"\n' +
      'export * as D from "../../../../examples/src/demo.js"\n'
  },
  // A core module in no layer (a warning).
  "packages/core/src/Probe.ts": { create: 'export * as Errors from "./Errors.js"\n' },
  // Tests are not exempt from the cycle rule.
  "packages/core/test/probeA.ts": { create: 'export * from "./probeB.js"\nexport const a = 1\n' },
  "packages/core/test/probeB.ts": { create: 'export * from "./probeA.js"\nexport const b = 2\n' }
}

const copyWithProbes = (): string => {
  const dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "effect-faktory-depcruise-"))
  for (const file of [".dependency-cruiser.cjs", "tsconfig.depcruise.json", "tsconfig.base.json"]) {
    Fs.copyFileSync(Path.join(root, file), Path.join(dir, file))
  }
  for (const pkg of Fs.readdirSync(Path.join(root, "packages"))) {
    for (const part of ["src", "test"]) {
      const from = Path.join(root, "packages", pkg, part)
      if (!Fs.existsSync(from)) continue
      Fs.cpSync(from, Path.join(dir, "packages", pkg, part), {
        recursive: true,
        filter: (source) => !/[/\\](dist|node_modules)$/.test(source)
      })
    }
  }
  // Packages (effect, @effect/platform-node, …) resolve through the repository's node_modules.
  Fs.symlinkSync(Path.join(root, "node_modules"), Path.join(dir, "node_modules"), "dir")
  for (const [file, probe] of Object.entries(probes)) {
    const path = Path.join(dir, file)
    if (probe.create !== undefined) Fs.writeFileSync(path, probe.create)
    if (probe.append !== undefined) Fs.appendFileSync(path, probe.append)
  }
  return dir
}

const cruise = (dir: string) => {
  const bin = Path.join(root, "node_modules", "dependency-cruiser", "bin", "dependency-cruise.mjs")
  const run = spawnSync(
    process.execPath,
    [bin, "packages", "--config", ".dependency-cruiser.cjs", "--output-type", "json"],
    { cwd: dir, encoding: "utf8", maxBuffer: 64 * 1024 * 1024 }
  )
  const json = run.stdout
  const summary = spawnSync(process.execPath, [Path.join(root, "scripts", "depcruise-summary.mjs")], {
    input: json,
    encoding: "utf8"
  })
  return { result: JSON.parse(json) as CruiseResult, summary }
}

describe("dependency rules", () => {
  it("report cycles, upward imports, internal imports and platform imports added to a copy", () => {
    const dir = copyWithProbes()
    try {
      const { result, summary } = cruise(dir)
      const violations = result.summary.violations
      const has = (rule: string, from: string, to: string) =>
        violations.some((v) => v.rule.name === rule && v.from === from && v.to === to)
      const core = (file: string) => `packages/core/src/${file}`

      // 1. cycles: through the added import, and between two test files
      const cycles = violations.filter((v) => v.rule.name === "no-circular")
      const onCycle = (a: string, b: string) =>
        cycles.some((v) => {
          const path = [v.from, ...(v.cycle ?? []).map((step) => step.name)]
          return path.includes(a) && path.includes(b)
        })
      expect(onCycle(core("Resp.ts"), core("Client.ts"))).toBe(true)
      expect(onCycle("packages/core/test/probeA.ts", "packages/core/test/probeB.ts")).toBe(true)

      // 4. upward imports, type-only ones included
      expect(has("core-layer-wire-imports-client", core("Resp.ts"), core("Client.ts"))).toBe(true)
      expect(has("core-layer-base-imports-observability", core("FaktoryUrl.ts"), core("TraceContext.ts"))).toBe(true)
      const typeOnly = violations.find((v) => v.rule.name === "core-layer-wire-imports-worker")
      expect(typeOnly?.from).toBe(core("Protocol.ts"))
      expect(typeOnly?.dependencyTypes).toContain("type-only")

      // 2. another package's internals; not from tests
      expect(has(
        "no-cross-package-internal",
        "packages/node/src/ProbeInternal.ts",
        core("internal/shared/brief.ts")
      )).toBe(true)
      expect(has(
        "no-cross-package-internal",
        "packages/node/src/ProbeInternal.ts",
        core("internal/observability/metrics.ts")
      )).toBe(true)
      expect(has(
        "no-cross-package-internal",
        "packages/testing/src/ProbeInternal.ts",
        "packages/node/src/internal/handlerLayers.ts"
      )).toBe(true)
      expect(violations.filter((v) => v.from === "packages/node/test/ProbeInternal.test.ts")).toEqual([])

      // 3, 5. platform, published packages and applications in core's src
      const platform = violations.filter((v) => v.from === core("internal/shared/probePlatform.ts"))
      expect(platform.map((v) => `${v.rule.name} ${v.to}`).sort()).toEqual([
        "core-not-to-app-packages packages/examples/src/demo.ts",
        expect.stringMatching(/^core-platform-free .*node_modules\/@effect\/platform-node\//),
        "core-platform-free packages/testing/src/index.ts",
        "core-platform-free-builtins fs"
      ])

      // the guard for a core module in no layer is a warning
      expect(violations.filter((v) => v.from === core("Probe.ts")).map((v) => [v.rule.name, v.rule.severity]))
        .toEqual([["core-layer-unassigned", "warn"]])

      // and the summary `npm run lint:deps` prints fails
      expect(summary.status).toBe(1)
      expect(summary.stdout).toContain("core-layer-wire-imports-client (1)")
      expect(summary.stdout).toMatch(/no-cross-package-internal: 3 /)
    } finally {
      Fs.rmSync(dir, { recursive: true, force: true })
    }
  })
})
