import { FaktoryServer } from "@effect-faktory/testing"
import { Effect } from "effect"
import { execFileSync } from "node:child_process"
const prog = Effect.gen(function*() {
  const server = yield* FaktoryServer.make({ webUi: false })
  execFileSync("node", ["--cpu-prof", "--cpu-prof-dir=/tmp/prof", "packages/bench/dist/runners/effect.js", JSON.stringify({ url: server.url, queue: "bench", rate: 1, scenario: "push-concurrent", count: 20000, concurrency: 50 })], { stdio: "inherit" })
}).pipe(Effect.scoped)
Effect.runPromise(prog)
