/**
 * The metrics' keys, and the recorders that the worker and the client update on their hot
 * paths. The public `Metric`s are in `Metrics`.
 */
import * as Metric from "effect/Metric"
import * as MetricBoundaries from "effect/MetricBoundaries"
import * as MetricKey from "effect/MetricKey"
import type * as MetricKeyType from "effect/MetricKeyType"
import * as MetricLabel from "effect/MetricLabel"

const counterKey = (name: string, description: string) => MetricKey.counter(name, { description, incremental: true })

/** Seconds; from half a millisecond (a no-op job) to half an hour (a job near its reservation). */
const jobSeconds = MetricBoundaries.fromIterable([
  0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800
])
/** Seconds of one round trip; FETCH waits up to 2 s on empty queues. */
const roundTripSeconds = MetricBoundaries.fromIterable([
  0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10
])

export const keys = {
  pushed: counterKey("faktory_jobs_pushed", "Jobs the server accepted from this process (PUSH, PUSHB)"),
  fetched: counterKey("faktory_jobs_fetched", "Jobs this process's workers fetched"),
  acked: counterKey("faktory_jobs_acked", "Jobs ACKed, counted when the server's reply arrives"),
  failed: counterKey("faktory_jobs_failed", "Jobs FAILed, counted when the server's reply arrives"),
  duration: MetricKey.histogram(
    "faktory_job_duration_seconds",
    jobSeconds,
    "How long jobs ran, from their start to their outcome, in seconds"
  ),
  running: MetricKey.gauge("faktory_jobs_running", { description: "Jobs running now" }),
  pushLatency: MetricKey.histogram(
    "faktory_push_duration_seconds",
    roundTripSeconds,
    "From a push to the server's reply, in seconds"
  ),
  fetchLatency: MetricKey.histogram(
    "faktory_fetch_duration_seconds",
    roundTripSeconds,
    "From a worker's FETCH to its reply, in seconds (up to 2 s when the queues are empty)"
  ),
  connectionsInUse: MetricKey.gauge("faktory_pool_connections_in_use", {
    description: "Pooled connections lent out or awaiting a reply, across this process's clients"
  })
}

/** No per-update labels: each recorder's labels are in its key already. */
const NO_LABELS: ReadonlyArray<MetricLabel.MetricLabel> = []

/**
 * What one jobtype on one queue updates, with its labels fixed once. `Metric.tagged` would
 * build and look up its key on every update (an array and a hash per job); a metric made from
 * a tagged key finds its series once.
 */
export interface JobRecorder {
  readonly pushed: (count: number) => void
  readonly fetched: () => void
  readonly acked: () => void
  readonly failed: (errtype: string) => void
  readonly ran: (seconds: number) => void
}

const recorderFor = (
  jobtype: string,
  queue: string,
  base: ReadonlyArray<MetricLabel.MetricLabel>
): JobRecorder => {
  const labels = [MetricLabel.make("jobtype", jobtype), MetricLabel.make("queue", queue), ...base]
  const series = <Type extends MetricKeyType.MetricKeyType<number, unknown>>(key: MetricKey.MetricKey<Type>) =>
    Metric.fromMetricKey(MetricKey.taggedWithLabels(key, labels))
  const pushed = series(keys.pushed)
  const fetched = series(keys.fetched)
  const acked = series(keys.acked)
  const duration = series(keys.duration)
  const failures = new Map<string, Metric.Metric.Counter<number>>()
  return {
    pushed: (count) => pushed.unsafeUpdate(count, NO_LABELS),
    fetched: () => fetched.unsafeUpdate(1, NO_LABELS),
    acked: () => acked.unsafeUpdate(1, NO_LABELS),
    failed: (errtype) => {
      let failed = failures.get(errtype)
      if (failed === undefined) {
        failed = Metric.fromMetricKey(
          MetricKey.taggedWithLabels(keys.failed, [labels[0]!, labels[1]!, MetricLabel.make("errtype", errtype), ...base])
        )
        failures.set(errtype, failed)
      }
      failed.unsafeUpdate(1, NO_LABELS)
    },
    ran: (seconds) => duration.unsafeUpdate(seconds, NO_LABELS)
  }
}

/**
 * The recorders of one worker or client: one per jobtype and queue, made on first use.
 * Nested maps, so that finding one builds no string.
 */
export interface Recorders {
  readonly forJob: (jobtype: string, queue: string) => JobRecorder
  readonly running: (delta: number) => void
  readonly pushLatency: (seconds: number) => void
  readonly fetchLatency: (seconds: number) => void
}

/**
 * Recorders with `base` labels (the fiber's metric labels where the worker or client is made)
 * on every series.
 */
export const makeRecorders = (base: ReadonlyArray<MetricLabel.MetricLabel> = NO_LABELS): Recorders => {
  const byQueue = new Map<string, Map<string, JobRecorder>>()
  const plain = <Type extends MetricKeyType.MetricKeyType<number, unknown>>(key: MetricKey.MetricKey<Type>) =>
    Metric.fromMetricKey(base.length === 0 ? key : MetricKey.taggedWithLabels(key, base))
  const running = plain(keys.running)
  const pushLatency = plain(keys.pushLatency)
  const fetchLatency = plain(keys.fetchLatency)
  return {
    forJob: (jobtype, queue) => {
      let byType = byQueue.get(queue)
      if (byType === undefined) {
        byType = new Map()
        byQueue.set(queue, byType)
      }
      let recorder = byType.get(jobtype)
      if (recorder === undefined) {
        recorder = recorderFor(jobtype, queue, base)
        byType.set(jobtype, recorder)
      }
      return recorder
    },
    running: (delta) => running.unsafeModify(delta, NO_LABELS),
    pushLatency: (seconds) => pushLatency.unsafeUpdate(seconds, NO_LABELS),
    fetchLatency: (seconds) => fetchLatency.unsafeUpdate(seconds, NO_LABELS)
  }
}

const inUse = Metric.fromMetricKey(keys.connectionsInUse)

/**
 * Counts a pooled connection taken (+1) or given back (-1).
 */
export const connectionInUse = (delta: 1 | -1): void => inUse.unsafeModify(delta, NO_LABELS)

/**
 * Seconds since `startedAt` (a `performance.now()` reading).
 */
export const secondsSince = (startedAt: number): number => (performance.now() - startedAt) / 1000
