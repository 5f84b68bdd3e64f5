// Runs the whole vitest workspace, then prints one plain line, `N passed, N failed`, read
// from vitest's JSON reporter, so CI and people see the same count. Extra arguments go to vitest.
import { spawnSync } from "node:child_process"
import { existsSync, readFileSync, rmSync } from "node:fs"

const output = ".vitest-results.json"
rmSync(output, { force: true })
const args = ["vitest", "run", "--reporter=default", "--reporter=json", `--outputFile.json=${output}`, ...process.argv.slice(2)]
const run = spawnSync("npx", args, { stdio: "inherit" })
if (!existsSync(output)) {
  console.log("0 passed, 0 failed")
  console.error("vitest wrote no results")
  process.exit(run.status === 0 ? 1 : run.status ?? 1)
}
const results = JSON.parse(readFileSync(output, "utf8"))
const passed = results.numPassedTests ?? 0
// A run can fail outside any test (a file that does not load, an unhandled error): count it.
const failedTests = results.numFailedTests ?? 0
const failed = failedTests === 0 && (results.success === false || run.status !== 0) ? 1 : failedTests
const skipped = (results.numPendingTests ?? 0) + (results.numTodoTests ?? 0)
console.log(`${passed} passed, ${failed} failed${skipped > 0 ? `, ${skipped} skipped` : ""}`)
process.exit(run.status ?? 1)
