import { expect, it } from "@effect/vitest"
import { execFileSync } from "node:child_process"
import * as Fs from "node:fs"
import { fileURLToPath } from "node:url"

// The binary runs as npm installs it: the file itself is executed, and its first line says how.
const bin = fileURLToPath(new URL("../dist/bin.js", import.meta.url))
const probe = fileURLToPath(new URL("./fixtures/young-generation.mjs", import.meta.url))

it("the faktory-worker binary caps V8's young generation at 4 MB a semi-space", () => {
  // npm sets the executable bit when it links a package's bin; a fresh build has none.
  Fs.chmodSync(bin, 0o755)
  let output = ""
  try {
    execFileSync(bin, ["-r", probe], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] })
  } catch (error) {
    // The probe exports no handler layer, so the binary stops with an error, after loading it.
    output = typeof error === "object" && error !== null && "stdout" in error ? String(error.stdout) : ""
  }
  const capacity = /new space capacity: (\d+) MB/.exec(output)
  expect(capacity, output).not.toBeNull()
  // Two semi-spaces of at most 4 MB (V8 reports the space's whole capacity).
  expect(Number(capacity![1])).toBeLessThanOrEqual(8)
})
