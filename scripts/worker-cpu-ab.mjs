// Per-job CPU of the worker: pushes N no-op jobs, then runs them through a worker and reports
// the process's CPU time (user + system) per job while the worker drains the queue.
// node scripts/worker-cpu.mjs [jobs] [rounds]   (after `npx tsc -b tsconfig.json`)
// FAKTORY_CORE=/path/to/another/core/dist/index.js compares another build of the core's worker.
import { Client } from "@effect-faktory/core"
import { NodeTransport } from "@effect-faktory/node"
import { FaktoryServer } from "@effect-faktory/testing"
import { Effect, Layer, Schema } from "effect"
import { performance } from "node:perf_hooks"

const { Job, Worker } = await import(process.env.FAKTORY_CORE ?? "@effect-faktory/core")
const jobs = Number(process.argv[2] ?? 20000)
const rounds = Number(process.argv[3] ?? 3)
const Noop = Job.define("Noop", { args: Schema.Tuple(Schema.Number), queue: "cpu" })

const round = Effect.gen(function*() {
  const server = yield* FaktoryServer.FaktoryServer
  const client = yield* Client.Client
  yield* client.flush
  const all = Array.from({ length: jobs }, (_, i) => ({ jobtype: "Noop", args: [i], queue: "cpu" }))
  yield* client.pushBulk(all)
  const before = process.cpuUsage()
  const started = performance.now()
  yield* Effect.scoped(Effect.gen(function*() {
    const worker = yield* Worker.make({ queues: ["cpu"], concurrency: 20, client: server.clientOptions }).pipe(
      Effect.provide(Layer.merge(Noop.handle(() => Effect.void), NodeTransport.layer))
    )
    while (worker.processed().acked < jobs) yield* Effect.sleep("5 millis")
  }))
  const cpu = process.cpuUsage(before)
  const wall = performance.now() - started
  return { cpuMicrosPerJob: (cpu.user + cpu.system) / jobs, jobsPerSecond: Math.round(jobs / (wall / 1000)) }
})

const program = Effect.gen(function*() {
  const results = []
  for (let i = 0; i < rounds; i++) results.push(yield* round)
  for (const r of results) console.log(`cpu ${r.cpuMicrosPerJob.toFixed(1)} µs/job, ${r.jobsPerSecond} jobs/s`)
  const sorted = results.map((r) => r.cpuMicrosPerJob).sort((a, b) => a - b)
  console.log(`median cpu ${sorted[Math.floor(sorted.length / 2)].toFixed(1)} µs/job`)
}).pipe(Effect.provide(FaktoryServer.clientLayer().pipe(Layer.provideMerge(FaktoryServer.layer({ webUi: false })))))

Effect.runPromise(program).catch((e) => { console.error(e); process.exit(1) })
