import { expect, it } from "@effect/vitest"
import { Client, Job, Worker } from "@effect-faktory/core"
import { NodeTransport } from "@effect-faktory/node"
import * as WorkerProbes from "@effect-faktory/node/WorkerProbes"
import { FaktoryServer } from "@effect-faktory/testing"
import { Context, Deferred, type Duration, Effect, Exit, Fiber, Layer, Schema } from "effect"
import * as Net from "node:net"
import { waitFor } from "./support/wait.js"

// The probes over real HTTP, against a real worker and a real throwaway server: ready while
// running and connected; not ready while starting, quiet, in an outage or terminating; not
// alive once stuck (no progress while jobs wait), alive again when progress resumes.

const Hold = Job.define("Hold", { args: Schema.Tuple(Schema.String), queue: "probe-q" })

interface Answer {
  readonly status: number
  readonly body: WorkerProbes.Verdict
  readonly millis: number
}

const isVerdict = (value: unknown): value is WorkerProbes.Verdict =>
  typeof value === "object" && value !== null && "ready" in value && "alive" in value && "state" in value

/** One real HTTP request to the probe; fails while nothing listens on the port. */
const probe = (port: number, path: "/ready" | "/alive") =>
  Effect.tryPromise(async (): Promise<Answer> => {
    const started = performance.now()
    const response = await fetch(`http://127.0.0.1:${port}${path}`)
    const body: unknown = await response.json()
    if (!isVerdict(body)) throw new Error(`not a verdict: ${JSON.stringify(body)}`)
    return { status: response.status, body, millis: performance.now() - started }
  })

/** Polls a probe until its status is `status`; dies saying what it last answered. */
const untilStatus = (port: number, path: "/ready" | "/alive", status: number, seconds = 20) =>
  Effect.gen(function*() {
    const deadline = Date.now() + seconds * 1000
    let last: Answer | string | undefined
    while (Date.now() < deadline) {
      // Refused until the probes' server listens (it starts beside the test).
      const answer = yield* Effect.either(probe(port, path))
      last = answer._tag === "Right" ? answer.right : String(answer.left.cause)
      if (typeof last !== "string" && last.status === status) return last
      yield* Effect.sleep("50 millis")
    }
    return yield* Effect.dieMessage(`${path} did not answer ${status} within ${seconds} s; last: ${JSON.stringify(last)}`)
  })

/**
 * A worker with probes on a free port, its handler holding each job until `release` is done;
 * `held` counts the jobs it holds.
 */
const start = (
  server: FaktoryServer.Service,
  options: Worker.WorkerOptions & { readonly stuckAfter?: Duration.DurationInput } = {}
) =>
  Effect.gen(function*() {
    const port = yield* FaktoryServer.freePort
    const release = yield* Deferred.make<void>()
    const held = { count: 0 }
    const handlers = Hold.handle(() =>
      Effect.sync(() => held.count++).pipe(Effect.zipRight(Deferred.await(release)), Effect.ensuring(Effect.sync(() => held.count--)))
    )
    const { stuckAfter, ...workerOptions } = options
    const built = yield* Layer.build(
      Worker.layer({ queues: ["probe-q"], concurrency: 2, shutdownTimeout: "5 seconds", client: server.clientOptions, ...workerOptions }).pipe(
        Layer.provide(Layer.merge(handlers, NodeTransport.layer)),
        WorkerProbes.serve({ port, host: "127.0.0.1", ...(stuckAfter === undefined ? {} : { stuckAfter }) })
      )
    )
    return { port, release, held, worker: Context.get(built, Worker.Worker) }
  })

const clientOf = (server: FaktoryServer.Service) => Client.make(server.clientOptions).pipe(Effect.provide(NodeTransport.layer))

it.scopedLive("running: /ready and /alive answer 200 with the state; an unknown path 404", () =>
  Effect.gen(function*() {
    const server = yield* FaktoryServer.make({ webUi: false })
    const { port } = yield* start(server)
    const ready = yield* untilStatus(port, "/ready", 200)
    expect(ready.body).toMatchObject({ ready: true, alive: true, state: "running", outage: false, processors: 2, concurrency: 2 })
    expect((yield* probe(port, "/alive")).status).toBe(200)
    const times: Array<number> = []
    for (let i = 0; i < 50; i++) times.push((yield* probe(port, "/ready")).millis)
    times.sort((a, b) => a - b)
    // A figure for the report; the bound is loose, for a loaded machine.
    console.log(`probe latency over 50 requests: median ${times[25]?.toFixed(2)} ms, max ${times[49]?.toFixed(2)} ms`)
    expect(times[25]).toBeLessThan(100)
    const other = yield* Effect.promise(() => fetch(`http://127.0.0.1:${port}/metrics`))
    expect(other.status).toBe(404)
  }), { timeout: 60_000 })

it.scopedLive("quiet: /ready 503 with the state, /alive 200", () =>
  Effect.gen(function*() {
    const server = yield* FaktoryServer.make({ webUi: false })
    const { port, worker } = yield* start(server)
    yield* untilStatus(port, "/ready", 200)
    yield* worker.quiet
    const ready = yield* probe(port, "/ready")
    expect(ready.status).toBe(503)
    expect(ready.body).toMatchObject({ ready: false, alive: true, state: "quiet", reason: "the worker is quiet" })
    expect((yield* probe(port, "/alive")).status).toBe(200)
  }), { timeout: 60_000 })

it.scopedLive("outage: the server stops → /ready 503 (outage), /alive 200; it starts again → /ready 200", () =>
  Effect.gen(function*() {
    const server = yield* FaktoryServer.make({ webUi: false })
    const { port } = yield* start(server)
    yield* untilStatus(port, "/ready", 200)
    const stopped = performance.now()
    yield* server.stop
    const down = yield* untilStatus(port, "/ready", 503)
    const noticed = performance.now() - stopped
    expect(down.body).toMatchObject({ ready: false, alive: true, state: "running", outage: true })
    expect(down.body.reason).toContain("outage")
    expect((yield* probe(port, "/alive")).status).toBe(200)
    const restarted = performance.now()
    yield* server.start
    yield* untilStatus(port, "/ready", 200, 30)
    console.log(
      `outage noticed by /ready ${noticed.toFixed(0)} ms after server.stop began (stop included); ` +
        `ready again ${(performance.now() - restarted).toFixed(0)} ms after server.start began`
    )
  }), { timeout: 90_000 })

it.scopedLive("terminate: /ready 503 while draining a running job (state terminating), /alive 200", () =>
  Effect.gen(function*() {
    const server = yield* FaktoryServer.make({ webUi: false })
    const client = yield* clientOf(server)
    const { held, port, release, worker } = yield* start(server)
    yield* untilStatus(port, "/ready", 200)
    yield* client.push({ jobtype: "Hold", queue: "probe-q", args: ["draining"] })
    yield* waitFor("the job to be held", () => held.count === 1)
    const terminating = yield* Effect.fork(worker.terminate)
    const ready = yield* untilStatus(port, "/ready", 503)
    expect(ready.body).toMatchObject({ ready: false, alive: true, state: "terminating" })
    expect((yield* probe(port, "/alive")).status).toBe(200)
    yield* Deferred.succeed(release, undefined)
    yield* Fiber.join(terminating)
    const after = yield* probe(port, "/ready")
    expect(after.body).toMatchObject({ ready: false, state: "stopped" })
  }), { timeout: 60_000 })

it.scopedLive("stuck: every processor held past stuckAfter while a job waits → /alive 503; progress again → 200", () =>
  Effect.gen(function*() {
    const server = yield* FaktoryServer.make({ webUi: false })
    const client = yield* clientOf(server)
    const { held, port, release } = yield* start(server, { concurrency: 1, stuckAfter: "1 second" })
    yield* untilStatus(port, "/ready", 200)
    yield* client.push({ jobtype: "Hold", queue: "probe-q", args: ["blocks"] })
    yield* waitFor("the job to be held", () => held.count === 1)
    // Held, but nothing waits: busy, not stuck.
    yield* Effect.sleep("1500 millis")
    const busy = yield* probe(port, "/alive")
    expect(busy.status).toBe(200)
    expect(busy.body).toMatchObject({ alive: true, waiting: 0 })
    yield* client.push({ jobtype: "Hold", queue: "probe-q", args: ["waits"] })
    const stuck = yield* untilStatus(port, "/alive", 503, 10)
    expect(stuck.body).toMatchObject({ alive: false, ready: true, state: "running", waiting: 1 })
    expect(stuck.body.reason).toMatch(/^stuck: no processor has made progress for .* while 1 jobs wait in its queues$/)
    yield* Deferred.succeed(release, undefined)
    yield* untilStatus(port, "/alive", 200, 10)
  }), { timeout: 60_000 })

it.scopedLive("starting: while the worker waits for a server that is down, /ready 503 (starting) and /alive 200", () =>
  Effect.gen(function*() {
    const closed = yield* FaktoryServer.freePort
    const port = yield* FaktoryServer.freePort
    const building = yield* Effect.fork(Effect.scoped(Layer.build(
      Worker.layer({ queues: ["probe-q"], client: { url: `tcp://127.0.0.1:${closed}` } }).pipe(
        Layer.provide(Layer.merge(Hold.handle(() => Effect.void), NodeTransport.layer)),
        WorkerProbes.serve({ port, host: "127.0.0.1" })
      )
    )))
    const ready = yield* untilStatus(port, "/ready", 503)
    expect(ready.body).toMatchObject({ ready: false, alive: true, state: "starting" })
    expect((yield* probe(port, "/alive")).status).toBe(200)
    yield* Fiber.interrupt(building)
  }), { timeout: 60_000 })

it.scopedLive("a taken port fails the start at once, naming the port, before the worker connects", () =>
  Effect.gen(function*() {
    const port = yield* FaktoryServer.freePort
    const closed = yield* FaktoryServer.freePort
    const squatter = Net.createServer()
    yield* Effect.acquireRelease(
      Effect.async<void>((resume) => void squatter.listen(port, "127.0.0.1", () => resume(Effect.void))),
      () => Effect.async<void>((resume) => void squatter.close(() => resume(Effect.void)))
    )
    // The worker's server is down and start would wait for ever: the port fails it first.
    const exit = yield* Effect.exit(Effect.scoped(Layer.build(
      Worker.layer({ queues: ["probe-q"], client: { url: `tcp://127.0.0.1:${closed}` } }).pipe(
        Layer.provide(Layer.merge(Hold.handle(() => Effect.void), NodeTransport.layer)),
        WorkerProbes.serve({ port, host: "127.0.0.1" })
      )
    )).pipe(Effect.timeout("10 seconds")))
    expect(Exit.isFailure(exit)).toBe(true)
    if (Exit.isFailure(exit)) {
      const error = exit.cause._tag === "Fail" ? exit.cause.error : undefined
      expect(error).toBeInstanceOf(WorkerProbes.ProbeServerError)
      expect(error?.message).toBe(
        `cannot serve health probes on port ${port} (127.0.0.1): the port is taken (EADDRINUSE): stop what listens there, or choose another port`
      )
    }
  }), { timeout: 30_000 })

it.effect("a port or stuckAfter that is no such thing is refused, saying what to write", () =>
  Effect.gen(function*() {
    const worker = Worker.layer().pipe(Layer.provide(NodeTransport.layer))
    const badPort = yield* Effect.flip(Effect.scoped(Layer.build(WorkerProbes.serve({ port: 70000 })(worker))))
    expect(badPort.message).toContain("port 70000 is not a port: a whole number from 1 to 65535")
    const badWindow = yield* Effect.flip(Effect.scoped(Layer.build(WorkerProbes.serve({ port: 8080, stuckAfter: -5 })(worker))))
    expect(badWindow.message).toContain(`stuckAfter "-5" is not a finite duration above 0`)
  }))

it.scopedLive("several pools: ready while every pool is; one pool quiet → /ready 503 naming it, each pool's verdict in the body", () =>
  Effect.gen(function*() {
    const server = yield* FaktoryServer.make({ webUi: false })
    const port = yield* FaktoryServer.freePort
    const pool = (name: string, queue: string) =>
      Worker.layer({ pool: name, queues: [queue], concurrency: 1, shutdownTimeout: "1 second", client: server.clientOptions })
    const built = yield* Layer.build(
      Layer.mergeAll(pool("images", "probe-images"), pool("mail", "probe-mail")).pipe(
        Layer.provide(Layer.merge(Hold.handle(() => Effect.void), NodeTransport.layer)),
        WorkerProbes.serve({ port, host: "127.0.0.1" })
      )
    )
    const ready = yield* untilStatus(port, "/ready", 200)
    expect(ready.body).toMatchObject({ ready: true, alive: true, state: "running", processors: 2, concurrency: 2 })
    expect(Object.keys(ready.body.pools ?? {}).sort()).toEqual(["images", "mail"])
    const images = Context.get(built, Worker.Pools).pools().find((p) => p.name === "images")!
    yield* images.worker.quiet
    const quiet = yield* probe(port, "/ready")
    expect(quiet.status).toBe(503)
    expect(quiet.body).toMatchObject({ ready: false, alive: true, state: "quiet", reason: "pool images: the worker is quiet" })
    expect(quiet.body.pools?.["mail"]).toMatchObject({ ready: true, state: "running" })
    expect((yield* probe(port, "/alive")).status).toBe(200)
  }), { timeout: 60_000 })
