import { describe, expect, it } from "@effect/vitest"
import { spawnSync } from "node:child_process"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"

const script = fileURLToPath(new URL("../../../scripts/install-faktory.sh", import.meta.url))
const version = Fs.readFileSync(fileURLToPath(new URL("../../../FAKTORY_VERSION", import.meta.url)), "utf8").trim()

// `npm test`, `npm run demo` and CI start with scripts/install-faktory.sh. It must recognise
// an installed server whatever the timing of its `-v` output: the real binary prints its
// version line and then its copyright, and a check that stopped reading at the first line
// could kill it with SIGPIPE, which `pipefail` then read as "not installed" (seen once on this
// machine: the demo rebuilt Faktory from source, then refused the build the same way).
describe("scripts/install-faktory.sh", () => {
  it("recognises an installed server whose -v output comes in more than one write", () => {
    const dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "install-faktory-"))
    try {
      const binary = Path.join(dir, "faktory")
      Fs.writeFileSync(binary, `#!/bin/sh\necho "Faktory ${version}"\nsleep 0.3\necho "Copyright"\n`, { mode: 0o755 })
      // No Go and an empty home: only FAKTORY_BIN can satisfy the script.
      const run = spawnSync("bash", [script], {
        env: { PATH: "/usr/bin:/bin", HOME: dir, FAKTORY_BIN: binary },
        encoding: "utf8"
      })
      expect(run.stderr).toBe("")
      expect(run.status).toBe(0)
    } finally {
      Fs.rmSync(dir, { recursive: true, force: true })
    }
  })
})
