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
import * as WorkerCli from "./WorkerCli.js"

let interrupts = 0
// The runtime turns the first SIGINT into a graceful terminate; a second one means "now".
process.on("SIGINT", () => {
  interrupts++
  if (interrupts >= 2) process.exit(130)
})

WorkerCli.run(process.argv).pipe(Effect.provide(NodeContext.layer), NodeRuntime.runMain)
