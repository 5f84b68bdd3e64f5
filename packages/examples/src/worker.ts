/**
 * A worker process: `node packages/examples/dist/worker.js` (with FAKTORY_URL set).
 * SIGTSTP quiets it; SIGTERM or Ctrl-C stops it gracefully; a second Ctrl-C stops it at once.
 */
import { NodeWorker } from "@effect-faktory/node"
import { Layer } from "effect"
import { Handlers } from "./jobs.js"

NodeWorker.runMain(
  NodeWorker.layer({ queues: { critical: 3, default: 1 }, concurrency: 10 }).pipe(
    Layer.provide(Layer.mergeAll(...Handlers))
  )
)
