import { expect, layer } from "@effect/vitest"
import { Client, Job, Metrics, Worker } from "@effect-faktory/core"
import { NodeTransport } from "@effect-faktory/node"
import { FaktoryServer } from "@effect-faktory/testing"
import { Effect, HashMap, Layer, List, Logger, LogLevel, Metric, MetricState, Schema } from "effect"
import { env, MailerError, waitFor } from "./support.js"

// What the worker says about itself: metrics in Effect's registry, its log lines (DEBUG job
// lines only when DEBUG is on), its startup and shutdown lines.

const password = "obs-s3cret-Pa55"
const Env = env({ password })

interface Line {
  readonly level: string
  readonly message: string
  readonly annotations: Record<string, unknown>
}

const capture = () => {
  const lines: Array<Line> = []
  const logger = Logger.make(({ annotations, logLevel, message }) => {
    lines.push({
      level: logLevel.label,
      message: List.isList(message) ? "" : Array.isArray(message) ? message.map(String).join(" ") : String(message),
      annotations: Object.fromEntries(HashMap.toEntries(annotations))
    })
  })
  return { lines, logger: Logger.replace(Logger.defaultLogger, logger) }
}

const counter = (metric: Metric.Metric.Counter<number>, ...tags: ReadonlyArray<readonly [string, string]>) =>
  Effect.map(Metric.value(tags.reduce((tagged, [key, value]) => Metric.tagged(tagged, key, value), metric)), (state) => state.count)

const histogramCount = (
  metric: typeof Metrics.jobDuration,
  ...tags: ReadonlyArray<readonly [string, string]>
) =>
  Effect.map(
    Metric.value(tags.reduce((tagged, [key, value]) => Metric.tagged(tagged, key, value), metric)),
    (state) => (MetricState.isHistogramState(state) ? state.count : -1)
  )

layer(Env, { excludeTestServices: true, timeout: "90 seconds" })("the worker, observed", (it) => {
  it.scoped("counts pushed, fetched, acked and failed jobs, their durations and latencies, in Effect's registry", () =>
    Effect.gen(function*() {
      const server = yield* FaktoryServer.FaktoryServer
      const client = yield* Client.Client
      const Fine = Job.define("MetFine", { args: Schema.Tuple(Schema.Number), queue: "m-q" })
      const Flaky = Job.define("MetFlaky", { args: Schema.Tuple(), queue: "m-q", retry: 0 })
      const pushLatencyBefore = yield* histogramCount(Metrics.pushDuration)
      const worker = yield* Worker.make({ queues: ["m-q"], concurrency: 3, client: server.clientOptions }).pipe(
        Effect.provide(Layer.mergeAll(
          Fine.handle(() => Effect.sleep("5 millis")),
          Flaky.handle(() => new MailerError({ detail: "refused" })),
          NodeTransport.layer
        ))
      )
      for (let i = 0; i < 4; i++) yield* client.push({ jobtype: "MetFine", args: [i], queue: "m-q" })
      yield* client.pushBulk([{ jobtype: "MetFine", args: [9], queue: "m-q" }, { jobtype: "MetFlaky", args: [], queue: "m-q" }])
      yield* client.push({ jobtype: "MetFlaky", args: [], queue: "m-q" })
      yield* waitFor("7 reports", () => worker.processed().acked + worker.processed().failed === 7)

      const fine = [["jobtype", "MetFine"], ["queue", "m-q"]] as const
      const flaky = [["jobtype", "MetFlaky"], ["queue", "m-q"]] as const
      expect(yield* counter(Metrics.jobsPushed, ...fine)).toBe(5)
      expect(yield* counter(Metrics.jobsPushed, ...flaky)).toBe(2)
      expect(yield* counter(Metrics.jobsFetched, ...fine)).toBe(5)
      expect(yield* counter(Metrics.jobsFetched, ...flaky)).toBe(2)
      expect(yield* counter(Metrics.jobsAcked, ...fine)).toBe(5)
      expect(yield* counter(Metrics.jobsAcked, ...flaky)).toBe(0)
      expect(yield* counter(Metrics.jobsFailed, ...flaky, ["errtype", "MailerError"])).toBe(2)
      // The metrics agree with the worker's own counts, which agree with the server's.
      expect(worker.processed()).toEqual({ acked: 5, failed: 2 })
      const info = yield* client.info
      expect(info.faktory.total_processed).toBeGreaterThanOrEqual(7)
      expect(yield* histogramCount(Metrics.jobDuration, ...fine)).toBe(5)
      expect(yield* histogramCount(Metrics.jobDuration, ...flaky)).toBe(2)
      expect((yield* histogramCount(Metrics.pushDuration)) - pushLatencyBefore).toBe(5)
      expect(yield* histogramCount(Metrics.fetchDuration)).toBeGreaterThanOrEqual(7)
      expect((yield* Metric.value(Metrics.jobsRunning)).value).toBe(0)
      // Each of the worker's 3 processors holds a connection while it fetches.
      expect((yield* Metric.value(Metrics.connectionsInUse)).value).toBeGreaterThanOrEqual(3)

      const snapshot = yield* Metric.snapshot
      const names = new Set(snapshot.map((pair) => pair.metricKey.name))
      for (
        const name of [
          "faktory_jobs_pushed",
          "faktory_jobs_fetched",
          "faktory_jobs_acked",
          "faktory_jobs_failed",
          "faktory_job_duration_seconds",
          "faktory_jobs_running",
          "faktory_push_duration_seconds",
          "faktory_fetch_duration_seconds",
          "faktory_pool_connections_in_use"
        ]
      ) expect(names).toContain(name)
      yield* worker.terminate
      // The processors gave their connections back.
      expect((yield* Metric.value(Metrics.connectionsInUse)).value).toBeLessThan(3)
    }))

  it.scoped("logs each job's start and end at DEBUG only when DEBUG is on, and every failure at WARN", () =>
    Effect.gen(function*() {
      const server = yield* FaktoryServer.FaktoryServer
      const client = yield* Client.Client
      const Loud = Job.define("LogFail", { args: Schema.Tuple(), queue: "l-q", retry: 0 })
      const run = (level: LogLevel.LogLevel) =>
        Effect.gen(function*() {
          const { lines, logger } = capture()
          const worker = yield* Worker.make({ queues: ["l-q"], concurrency: 1, client: server.clientOptions }).pipe(
            Effect.provide(Layer.mergeAll(Loud.handle(() => new MailerError({ detail: "550 no such user" })), NodeTransport.layer)),
            Effect.provide(logger),
            Logger.withMinimumLogLevel(level)
          )
          const jid = yield* client.push({ jobtype: "LogFail", args: [], queue: "l-q" })
          yield* waitFor("the FAIL", () => worker.processed().failed === 1)
          yield* worker.terminate
          return { lines, jid }
        }).pipe(Effect.scoped)

      const quiet = yield* run(LogLevel.Info)
      expect(quiet.lines.filter((line) => line.level === "DEBUG")).toEqual([])
      const warn = quiet.lines.find((line) => line.level === "WARN")
      expect(warn).toEqual({
        level: "WARN",
        message: "job failed: MailerError: smtp: 550 no such user",
        annotations: { jid: quiet.jid, jobtype: "LogFail", queue: "l-q", errtype: "MailerError", retry_count: 0 }
      })

      const verbose = yield* run(LogLevel.Debug)
      const jobLines = verbose.lines.filter((line) => line.annotations["jid"] === verbose.jid)
      expect(jobLines.map((line) => [line.level, line.message.replace(/[0-9.]+ ms/, "N ms").split("\n")[0]])).toEqual([
        ["DEBUG", "job started"],
        ["DEBUG", "job failed (MailerError) in N ms"],
        ["WARN", "job failed: MailerError: smtp: 550 no such user"],
        ["DEBUG", expect.stringContaining("MailerError")]
      ])
      expect(jobLines[0]!.annotations).toEqual({ jid: verbose.jid, jobtype: "LogFail", queue: "l-q", retry_count: 0 })
    }))

  it.scoped("names server, queues, concurrency, labels and jobtypes at start, never the password; sums up at stop", () =>
    Effect.gen(function*() {
      const server = yield* FaktoryServer.FaktoryServer
      const client = yield* Client.Client
      const { lines, logger } = capture()
      const Slow = Job.define("LogSlow", { args: Schema.Tuple(), queue: "s-q" })
      const Quick = Job.define("LogQuick", { args: Schema.Tuple(), queue: "s-q" })
      const worker = yield* Worker.make({
        queues: { "s-q": 2, other: 1 },
        concurrency: 2,
        labels: ["blue"],
        shutdownTimeout: "200 millis",
        client: { url: `tcp://:${password}@127.0.0.1:${server.port}` }
      }).pipe(
        Effect.provide(Layer.mergeAll(Slow.handle(() => Effect.never), Quick.handle(() => Effect.void), NodeTransport.layer)),
        Effect.provide(logger)
      )
      yield* client.push({ jobtype: "LogQuick", args: [], queue: "s-q" })
      yield* client.push({ jobtype: "LogSlow", args: [], queue: "s-q" })
      yield* waitFor("one ACK and one running", () => worker.processed().acked === 1 && worker.running() === 1)
      // terminate logs with the logger of its caller.
      yield* worker.terminate.pipe(Effect.provide(logger))
      const text = lines.map((line) => line.message).join("\n")
      expect(text).not.toContain(password)
      const started = lines.find((line) => line.message.startsWith("worker "))?.message ?? text
      expect(started).toContain(`started on 127.0.0.1:${server.port}: 2 at once from {"s-q":2,"other":1}, labels blue`)
      expect(started).toContain("jobtypes: LogQuick, LogSlow")
      const stopped = lines.find((line) => line.message.startsWith("stopped:"))?.message ?? text
      expect(stopped).toMatch(/^stopped: 1 acked, 1 failed \(1 interrupted by shutdown\); up [0-9]/)
    }))
})
