#!/usr/bin/env node
/**
 * The `faktory-worker` executable.
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
