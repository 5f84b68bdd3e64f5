import { describe, expect, it } from "vitest"
import { spawnSync } from "node:child_process"
import { fileURLToPath } from "node:url"

// The READMEs' TypeScript blocks are programs users copy: they must compile against the
// packages as built (tsc -b runs before the tests).
const script = fileURLToPath(new URL("../../../scripts/check-readme-code.mjs", import.meta.url))

describe("README code", () => {
  it("every ```ts block of the READMEs compiles as a whole module", () => {
    const run = spawnSync(process.execPath, [script], { encoding: "utf8" })
    expect(`${run.stdout}${run.stderr}`).toMatch(/README code: \d+ blocks compile/)
    expect(run.status).toBe(0)
  })
})
