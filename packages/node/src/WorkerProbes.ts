/**
 * Health probes for a worker, over HTTP, for orchestrators (Kubernetes' `readinessProbe` and
 * `livenessProbe`, a load balancer's health check):
 *
 * - `GET /ready`: 200 while the worker is running and its processors reach the server; 503
 *   while it starts, is quiet, terminates (draining its jobs) or has stopped, and during an
 *   outage (from the first FETCH that fails until a processor fetches again).
 * - `GET /alive`: 200 unless the worker is stuck; 503 when it is. Stuck, measurably: while the
 *   worker is running and reaches the server, no processor has made progress (a FETCH answered,
 *   or a job's report accepted) for longer than `stuckAfter`, and jobs wait in its queues
 *   (the server's INFO, asked only then); or, while it runs or is quiet, one of its processors'
 *   fibers has ended (they end only with the worker). Not stuck: quiet, terminating (terminate
 *   has its own deadline), in an outage (restarting the process would not bring the server
 *   back), or idle with empty queues. A process whose event loop is blocked answers neither
 *   probe, which an orchestrator counts as a failure too.
 *
 * Each answer is JSON: the verdict, the state and the figures it was made from. The probes
 * read the worker's own state (`Worker.Service.activity`), kept by its lifecycle; nothing is
 * counted twice.
 *
 * The port is bound before the worker starts, so that a taken port fails at once (naming the
 * port) rather than after the worker has reached the server, and so that `/alive` answers
 * while start waits for a server that is down (`/ready` says `starting`).
 *
 * Not re-exported from `@effect-faktory/node`: only workers that serve probes load the HTTP
 * server's modules. Import `@effect-faktory/node/WorkerProbes`.
 *
 * @since 0.2.0
 */
import * as HttpServer from "@effect/platform/HttpServer"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import { InvalidArgumentError } from "@effect-faktory/core/Errors"
import * as Worker from "@effect-faktory/core/Worker"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import * as Http from "node:http"
import { shownArgument } from "./internal/shownArgument.js"

/**
 * Where to serve the probes, and when a worker counts as stuck.
 *
 * @since 0.2.0
 * @category models
 */
export interface ProbeOptions {
  /** The TCP port, 1 to 65535 (0: any free port, as the start line says). */
  readonly port: number
  /** The address to listen on. Default: every interface, as a probe from outside the pod needs. */
  readonly host?: string | undefined
  /**
   * How long no processor may make progress, while jobs wait, before `/alive` says stuck.
   * Default 30 minutes: Faktory's default reservation, before which the worker's reservation
   * guard has already interrupted any job that keeps a processor. Set it above your longest
   * job's run time: with every processor in a long job and jobs waiting, there is no progress.
   */
  readonly stuckAfter?: Duration.DurationInput | undefined
}

/**
 * The probes' HTTP server could not listen: the port is taken, or not allowed. Says the port
 * and the host.
 *
 * @example
 * ```ts
 * import * as WorkerProbes from "@effect-faktory/node/WorkerProbes"
 *
 * new WorkerProbes.ProbeServerError({ host: "0.0.0.0", port: 8080, detail: "the port is taken (EADDRINUSE)" }).message
 * // cannot serve health probes on port 8080 (0.0.0.0): the port is taken (EADDRINUSE)
 * ```
 *
 * @since 0.2.0
 * @category errors
 */
export class ProbeServerError extends Schema.TaggedError<ProbeServerError>()("ProbeServerError", {
  host: Schema.String,
  port: Schema.Number,
  detail: Schema.String
}) {
  override get message(): string {
    return `cannot serve health probes on port ${this.port} (${this.host}): ${this.detail}`
  }
}

/**
 * What a probe answers, in its JSON body too.
 *
 * @since 0.2.0
 * @category models
 */
export interface Verdict {
  readonly ready: boolean
  readonly alive: boolean
  /** `starting` until the worker has reached the server. */
  readonly state: Worker.WorkerState | "starting"
  /** The processors cannot reach the server. */
  readonly outage: boolean
  readonly processors: number
  readonly concurrency: number
  /** Since a processor last made progress, in milliseconds. */
  readonly sinceProgressMillis: number
  /** Jobs waiting in the worker's queues: measured only once progress is overdue. */
  readonly waiting: number | null
  /** Why it is not ready, or not alive; empty when it is both. */
  readonly reason: string
  /**
   * With several pools built together (`Worker.Pools`), each pool's own verdict by name; the
   * rest of the answer sums them up: ready and alive when every pool is.
   */
  readonly pools?: Readonly<Record<string, Verdict>> | undefined
}

/** Faktory's default reservation; see ProbeOptions.stuckAfter. */
const DEFAULT_STUCK_AFTER = Duration.minutes(30)

/** Shorter than an orchestrator's usual probe timeout (Kubernetes: 1 s). */
const WAITING_TIMEOUT = Duration.millis(800)

const starting: Verdict = {
  ready: false,
  alive: true,
  state: "starting",
  outage: false,
  processors: 0,
  concurrency: 0,
  sinceProgressMillis: 0,
  waiting: null,
  reason: "the worker is starting: it has not reached the server yet"
}

/**
 * The verdict on a worker now, as `/ready` and `/alive` give it (see the module's description).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Worker } from "@effect-faktory/core"
 * import * as WorkerProbes from "@effect-faktory/node/WorkerProbes"
 *
 * const verdict = Effect.flatMap(Worker.Worker, (worker) => WorkerProbes.check(worker, "30 minutes"))
 * ```
 *
 * @since 0.2.0
 * @category probes
 */
export const check = (worker: Worker.Service, stuckAfter: Duration.DurationInput): Effect.Effect<Verdict> =>
  Effect.gen(function*() {
    const activity = yield* worker.activity
    const sinceProgressMillis = Math.round(Duration.toMillis(activity.sinceProgress))
    const fetching = activity.state === "running" || activity.state === "quiet"
    const base = {
      state: activity.state,
      outage: activity.outage,
      processors: activity.processors,
      concurrency: activity.concurrency,
      sinceProgressMillis
    }
    const ready = activity.state === "running" && !activity.outage
    const notReady = ready
      ? ""
      : activity.state !== "running"
      ? `the worker is ${activity.state}`
      : "the server is unreachable (outage)"
    if (fetching && activity.processors < activity.concurrency) {
      return {
        ...base,
        ready,
        alive: false,
        waiting: null,
        reason: `stuck: ${activity.concurrency - activity.processors} of ${activity.concurrency} processors have ended`
      }
    }
    const overdue = activity.state === "running" && !activity.outage &&
      Duration.greaterThan(activity.sinceProgress, stuckAfter)
    // INFO is asked only when progress is overdue: an idle worker's processors make progress
    // every 2 s (the server's FETCH wait), so a healthy worker's probes cost nothing. A server
    // that does not answer in time is not the worker's fault: not stuck.
    const waiting = overdue
      ? Option.getOrNull(Option.flatten(yield* Effect.option(Effect.timeoutOption(worker.waiting, WAITING_TIMEOUT))))
      : null
    const stuck = waiting !== null && waiting > 0
    return {
      ...base,
      ready,
      alive: !stuck,
      waiting,
      reason: stuck
        ? `stuck: no processor has made progress for ${Duration.format(Duration.millis(sinceProgressMillis))} ` +
          `while ${waiting} jobs wait in its queues`
        : notReady
    }
  })

/**
 * The verdict on several pools as one: ready and alive when every pool is, its figures summed
 * (the longest time without progress), each pool's reason named.
 */
const combine = (verdicts: ReadonlyArray<readonly [string, Verdict]>): Verdict => {
  if (verdicts.length === 1) return verdicts[0]![1]
  const all = verdicts.map(([, verdict]) => verdict)
  const notRunning = all.find((verdict) => verdict.state !== "running")
  const waiting = all.filter((verdict) => verdict.waiting !== null)
  return {
    ready: all.every((verdict) => verdict.ready),
    alive: all.every((verdict) => verdict.alive),
    state: notRunning === undefined ? "running" : notRunning.state,
    outage: all.some((verdict) => verdict.outage),
    processors: all.reduce((sum, verdict) => sum + verdict.processors, 0),
    concurrency: all.reduce((sum, verdict) => sum + verdict.concurrency, 0),
    sinceProgressMillis: Math.max(...all.map((verdict) => verdict.sinceProgressMillis)),
    waiting: waiting.length === 0 ? null : waiting.reduce((sum, verdict) => sum + (verdict.waiting ?? 0), 0),
    reason: verdicts.filter(([, verdict]) => verdict.reason !== "").map(([name, verdict]) => `pool ${name}: ${verdict.reason}`)
      .join("; "),
    pools: Object.fromEntries(verdicts)
  }
}

/** A port as the HTTP server takes it. */
const isPort = (port: number) => Number.isSafeInteger(port) && port >= 0 && port <= 65535

const describeListenFailure = (cause: unknown): string => {
  const code = typeof cause === "object" && cause !== null && "code" in cause ? String(cause.code) : ""
  if (code === "EADDRINUSE") return "the port is taken (EADDRINUSE): stop what listens there, or choose another port"
  if (code === "EACCES") return "not allowed (EACCES): ports below 1024 need privileges"
  if (code === "EADDRNOTAVAIL") return "the host is not an address of this machine (EADDRNOTAVAIL)"
  if (code === "ENOTFOUND") return "the host name does not resolve (ENOTFOUND)"
  return cause instanceof Error ? cause.message : String(cause)
}

/**
 * The probes' HTTP app: the worker, once built, is in `current`. Answers GET and HEAD.
 */
const app = (current: { pools: (() => ReadonlyArray<readonly [string, Worker.Service]>) | undefined }, stuckAfter: Duration.Duration) =>
  Effect.gen(function*() {
    const request = yield* HttpServerRequest.HttpServerRequest
    const path = request.url.split("?")[0]
    if (path !== "/ready" && path !== "/alive") {
      return HttpServerResponse.unsafeJson({ error: "not found: the probes are GET /ready and GET /alive" }, { status: 404 })
    }
    if (request.method !== "GET" && request.method !== "HEAD") {
      return HttpServerResponse.unsafeJson({ error: "method not allowed: GET or HEAD" }, { status: 405 })
    }
    const pools = current.pools?.() ?? []
    const verdict = pools.length === 0 ? starting : combine(
      yield* Effect.forEach(pools, ([name, worker]) => Effect.map(check(worker, stuckAfter), (verdict) => [name, verdict] as const), {
        concurrency: "unbounded"
      })
    )
    const ok = path === "/ready" ? verdict.ready : verdict.alive
    return HttpServerResponse.unsafeJson(verdict, { status: ok ? 200 : 503, headers: { "cache-control": "no-store" } })
  })

/**
 * Serves the probes for the worker that `workerLayer` builds, for the layer's life: the port
 * is bound first (a taken port fails with `ProbeServerError`), then the worker starts. The
 * probes' own timers run on the live clock, whatever clock the caller has.
 *
 * @example
 * ```ts
 * import { Effect, Layer, Schema } from "effect"
 * import { Job } from "@effect-faktory/core"
 * import { NodeWorker } from "@effect-faktory/node"
 * import * as WorkerProbes from "@effect-faktory/node/WorkerProbes"
 *
 * const Ping = Job.define("Ping", { args: Schema.Tuple(Schema.String) })
 * const WorkerLive = NodeWorker.layer({ queues: ["default"] }).pipe(
 *   Layer.provide(Ping.handle(([who]) => Effect.log(`pong ${who}`))),
 *   WorkerProbes.serve({ port: 8080, stuckAfter: "10 minutes" })
 * )
 * // curl localhost:8080/ready → 200 {"ready":true,"alive":true,"state":"running",…}
 * ```
 *
 * @since 0.2.0
 * @category layers
 */
export const serve = (options: ProbeOptions) =>
<ROut, E, R>(
  workerLayer: Layer.Layer<ROut, E, R> & Layer.Layer<Worker.Worker, E, R>
): Layer.Layer<ROut, E | ProbeServerError | InvalidArgumentError, R> =>
  Layer.scopedContext(
    Effect.gen(function*() {
      // As errors show it: a URL typed as the host still holds its password.
      const host = options.host === undefined ? "every interface" : shownArgument(options.host)
      if (!isPort(options.port)) {
        return yield* new InvalidArgumentError({
          command: "WorkerProbes",
          detail: `port ${String(options.port)} is not a port: a whole number from 1 to 65535`
        })
      }
      const stuckAfter = Duration.decodeUnknown(options.stuckAfter ?? DEFAULT_STUCK_AFTER)
      if (Option.isNone(stuckAfter) || !Duration.isFinite(stuckAfter.value) || Duration.toMillis(stuckAfter.value) <= 0) {
        return yield* new InvalidArgumentError({
          command: "WorkerProbes",
          detail: `stuckAfter ${JSON.stringify(String(options.stuckAfter))} is not a finite duration above 0 ` +
            `(write it as "10 minutes", "90 seconds" or a number of milliseconds)`
        })
      }
      // Written once, when the worker has started; read by each request.
      const current: { pools: (() => ReadonlyArray<readonly [string, Worker.Service]>) | undefined } = { pools: undefined }
      const server = yield* NodeHttpServer.make(() => Http.createServer(), {
        port: options.port,
        ...(options.host === undefined ? {} : { host: options.host })
      }).pipe(
        Effect.mapError((error) => new ProbeServerError({ host, port: options.port, detail: describeListenFailure(error.cause) }))
      )
      yield* server.serve(Effect.withClock(app(current, stuckAfter.value), Clock.make()))
      const bound = server.address._tag === "TcpAddress" ? server.address.port : options.port
      yield* Effect.logInfo(
        `health probes on ${HttpServer.formatAddress(server.address)}: GET /ready, GET /alive ` +
          `(stuck after ${Duration.format(stuckAfter.value)} without progress while jobs wait)`
      ).pipe(Effect.annotateLogs({ probePort: bound }))
      const layer: Layer.Layer<ROut, E, R> = workerLayer
      const context = yield* Layer.build(layer)
      // Several pools built together are judged together; a worker of its own (a layer of
      // Worker.make) is judged alone. The layer's type says it holds a Worker.
      const pools = Context.getOption(context, Worker.Pools)
      const worker = Context.getOption(context, Worker.Worker)
      current.pools = Option.match(pools, {
        onNone: () => () => Option.match(worker, { onNone: () => [], onSome: (worker) => [[worker.pool, worker] as const] }),
        onSome: (pools) => () => pools.pools().map((pool) => [pool.name, pool.worker] as const)
      })
      return context
    })
  )
