/**
 * The metrics the client and the worker keep, as Effect `Metric`s in Effect's global metric
 * registry: read them with `Metric.value` or `Metric.snapshot`, or export them with
 * `@effect/opentelemetry` (Prometheus, OTLP).
 *
 * Job metrics carry the tags `jobtype` and `queue`, in that order (`errtype` third on
 * `faktory_jobs_failed`), then the metric labels in effect where the worker or client was made
 * (`Effect.tagMetrics`), then `pool` for a worker given a `pool` name (several pools in one
 * process: its running gauge and fetch latency carry it too). To read one series, tag in that order:
 * `Metrics.jobsAcked.pipe(Metric.tagged("jobtype", "SendEmail"), Metric.tagged("queue", "mail"))`.
 *
 * @since 0.2.0
 */
import * as Metric from "effect/Metric"
import type * as MetricKeyType from "effect/MetricKeyType"
import { keys } from "./internal/observability/metrics.js"

/**
 * `faktory_jobs_pushed`: jobs the server accepted, by `jobtype` and `queue`.
 *
 * @example
 * ```ts
 * import { Effect, Metric } from "effect"
 * import { Metrics } from "@effect-faktory/core"
 *
 * const pushed = Effect.runSync(
 *   Metric.value(Metrics.jobsPushed.pipe(Metric.tagged("jobtype", "SendEmail"), Metric.tagged("queue", "mail")))
 * ).count
 * ```
 *
 * @since 0.2.0
 * @category metrics
 */
export const jobsPushed: Metric.Metric.Counter<number> = Metric.fromMetricKey(keys.pushed)

/**
 * `faktory_jobs_fetched`: jobs fetched by workers, by `jobtype` and `queue`.
 *
 * @since 0.2.0
 * @category metrics
 */
export const jobsFetched: Metric.Metric.Counter<number> = Metric.fromMetricKey(keys.fetched)

/**
 * `faktory_jobs_acked`: jobs ACKed, by `jobtype` and `queue`, counted as the server's reply
 * arrives (as `Worker.processed()` is).
 *
 * @since 0.2.0
 * @category metrics
 */
export const jobsAcked: Metric.Metric.Counter<number> = Metric.fromMetricKey(keys.acked)

/**
 * `faktory_jobs_failed`: jobs FAILed, by `jobtype`, `queue` and `errtype`, counted as the
 * server's reply arrives. Jobs interrupted by shutdown have errtype `Shutdown`.
 *
 * @since 0.2.0
 * @category metrics
 */
export const jobsFailed: Metric.Metric.Counter<number> = Metric.fromMetricKey(keys.failed)

/**
 * `faktory_job_duration_seconds`: how long jobs ran, by `jobtype` and `queue`, whatever their
 * outcome.
 *
 * @since 0.2.0
 * @category metrics
 */
export const jobDuration: Metric.Metric<MetricKeyType.MetricKeyType.Histogram, number, unknown> = Metric
  .fromMetricKey(keys.duration)

/**
 * `faktory_jobs_running`: jobs running now in this process's workers.
 *
 * @since 0.2.0
 * @category metrics
 */
export const jobsRunning: Metric.Metric.Gauge<number> = Metric.fromMetricKey(keys.running)

/**
 * `faktory_push_duration_seconds`: from a push to the server's accepting reply.
 *
 * @since 0.2.0
 * @category metrics
 */
export const pushDuration: Metric.Metric<MetricKeyType.MetricKeyType.Histogram, number, unknown> = Metric
  .fromMetricKey(keys.pushLatency)

/**
 * `faktory_fetch_duration_seconds`: from a worker's FETCH to its reply.
 *
 * @since 0.2.0
 * @category metrics
 */
export const fetchDuration: Metric.Metric<MetricKeyType.MetricKeyType.Histogram, number, unknown> = Metric
  .fromMetricKey(keys.fetchLatency)

/**
 * `faktory_pool_connections_in_use`: pooled connections lent out or awaiting a reply, summed
 * over the process's clients (a worker's processors each hold one).
 *
 * @since 0.2.0
 * @category metrics
 */
export const connectionsInUse: Metric.Metric.Gauge<number> = Metric.fromMetricKey(keys.connectionsInUse)

