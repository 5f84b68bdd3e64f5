#!/usr/bin/env node
/**
 * The `faktory-worker` executable.
 *
 * Its first line names Node alone: `env -S` (to pass V8 flags there) is missing from BusyBox,
 * so from Alpine images, where the binary would not start at all. Memory settings such as
 * `--max-semi-space-size=4` go in `NODE_OPTIONS` (see docs/operations.md, "Memory").
 *
 * @since 0.1.0
 */
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import "./index.js"
import * as NodeWorker from "./NodeWorker.js"
import * as WorkerCli from "./WorkerCli.js"

NodeWorker.exitOnSecondInterrupt()
// Failures are reported by WorkerCli.main in one line; the runtime only sets the exit code.
NodeRuntime.runMain(WorkerCli.main(process.argv), { disableErrorReporting: true })
