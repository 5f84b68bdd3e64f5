/**
 * The Schema of what a runner reports, for the harness to check each runner's last line.
 */
import { Schema } from "effect"
import type * as Scenario from "./Scenario.js"

export const RunResult: Schema.Schema<Scenario.RunResult> = Schema.Struct({
  jobsPerSecond: Schema.Number,
  seconds: Schema.Number,
  cpuSeconds: Schema.Number,
  userCpuSeconds: Schema.Number,
  peakRssKb: Schema.Number,
  loadedRssKb: Schema.optional(Schema.Number),
  p50Ms: Schema.optional(Schema.Number),
  p99Ms: Schema.optional(Schema.Number),
  rssAtTenthKb: Schema.optional(Schema.Number),
  rssAtEndKb: Schema.optional(Schema.Number)
})
