#!/usr/bin/env -S node --max-semi-space-size=4
/**
 * The `faktory-worker` executable.
 *
 * It owns its process, so it sets one V8 default for it: a young generation capped at 4 MB
 * a semi-space. Effect's modules grow it to its 32 MB ceiling while they load, and it then
 * stays there (measured: a worker's RSS after loading 105 MB without the cap, 83 MB with it, at
 * the same job rate). A library cannot set this for an application; `node
 * --max-semi-space-size=N .../bin.js` runs the binary with another value.
 *
 * @since 0.1.0
 */
import * as NodeContext from "@effect/platform-node/NodeContext"
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as Effect from "effect/Effect"
import "./index.js"
import * as NodeWorker from "./NodeWorker.js"
import * as WorkerCli from "./WorkerCli.js"

NodeWorker.exitOnSecondInterrupt()
// Failures are reported by WorkerCli.main in one line; the runtime only sets the exit code.
WorkerCli.main(process.argv).pipe(
  Effect.provide(NodeContext.layer),
  (program) => NodeRuntime.runMain(program, { disableErrorReporting: true })
)
