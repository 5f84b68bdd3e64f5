import { describe, expect, it, layer } from "@effect/vitest"
import { Client, Job, type JobHandler, TraceContext, Tracing, Worker } from "@effect-faktory/core"
import { NodeTransport } from "@effect-faktory/node"
import { FaktoryServer } from "@effect-faktory/testing"
import { Effect, Layer, Option, Schema, type Tracer } from "effect"
import { execFile } from "node:child_process"
import { fileURLToPath } from "node:url"
import { recordingTracer } from "./RecordingTracer.js"
import { Env, waitFor } from "./support.js"

// One trace from a push in one process to the job's run in another, with W3C trace context
// carried in the job's `custom`; jobs without it (or with a broken one) run in a fresh trace.

const producer = fileURLToPath(new URL("./fixtures/traced-push.mjs", import.meta.url))

interface ExportedSpan {
  readonly name: string
  readonly kind: string
  readonly traceId: string
  readonly spanId: string
  readonly parent: string | null
  readonly attributes: Record<string, unknown>
  readonly ended: boolean
}

/** Runs the producer process; returns the spans it exported and the jid it pushed. */
const pushFromAnotherProcess = (jobtype: string, queue: string) =>
  Effect.flatMap(FaktoryServer.FaktoryServer, (server) =>
    Effect.async<{ spans: Array<ExportedSpan>; jid: string }, Error>((resume) => {
      execFile(process.execPath, [producer, server.url, jobtype, queue], (error, stdout, stderr) => {
        if (error !== null) return resume(Effect.fail(new Error(`${error.message}\n${stderr}`)))
        const lines = stdout.trim().split("\n").map((line): unknown => JSON.parse(line))
        const last = lines.pop() as { jid: string }
        resume(Effect.succeed({ spans: lines as Array<ExportedSpan>, jid: last.jid }))
      })
    }))

interface Ran {
  readonly jid: string
  readonly custom: Readonly<Record<string, unknown>>
  readonly span: Tracer.Span
}

/** A worker under a recording tracer; each job's handler notes its own span and custom. */
const tracedWorker = (queue: string, jobtype: string, also: (job: JobHandler.JobContext) => Effect.Effect<void> = () => Effect.void) =>
  Effect.gen(function*() {
    const server = yield* FaktoryServer.FaktoryServer
    const { made, tracer } = yield* recordingTracer
    const ran: Array<Ran> = []
    const Definition = Job.define(jobtype, { args: Schema.Array(Schema.Unknown), queue })
    yield* Worker.make({ queues: [queue], concurrency: 2, shutdownTimeout: "2 seconds", client: server.clientOptions }).pipe(
      Effect.provide(Layer.merge(
        Definition.handle((_, job) =>
          Effect.flatMap(Effect.currentSpan, (span) =>
            Effect.zipRight(
              Effect.sync(() => ran.push({ jid: job.jid, custom: job.custom, span: span as Tracer.Span })),
              also(job)
            )).pipe(Effect.orDie)
        ),
        NodeTransport.layer
      )),
      Effect.withTracer(tracer)
    )
    return { made, ran }
  })

const parentIdOf = (span: Tracer.Span) => Option.getOrNull(Option.map(span.parent, (parent) => parent.spanId))

layer(Env, { excludeTestServices: true, timeout: "90 seconds" })("one trace from push to run", (it) => {
  it.scoped("a job pushed in another process runs in a CONSUMER span whose parent is the producer's span", () =>
    Effect.gen(function*() {
      const { made, ran } = yield* tracedWorker("tr-cross", "Checkout")
      const { jid, spans } = yield* pushFromAnotherProcess("Checkout", "tr-cross")
      yield* waitFor("the job", () => ran.length === 1)
      const send = spans.find((span) => span.name === "send tr-cross")!
      const checkout = spans.find((span) => span.name === "checkout")!
      expect(send).toMatchObject({
        kind: "producer",
        parent: checkout.spanId,
        traceId: checkout.traceId,
        ended: true,
        attributes: {
          "messaging.system": "faktory",
          "messaging.operation.name": "send",
          "messaging.operation.type": "send",
          "messaging.destination.name": "tr-cross",
          "messaging.message.id": jid,
          "messaging.faktory.jobtype": "Checkout"
        }
      })
      // The producer's connection, when traced, is a trace of its own, not a child of the push.
      expect(spans.filter((span) => span.name === "Connection.make" && span.parent !== null)).toEqual([])

      const [run] = ran
      expect(run!.custom["traceparent"]).toBe(`00-${send.traceId}-${send.spanId}-01`)
      const process = run!.span
      expect(process.name).toBe("process tr-cross")
      expect(process.kind).toBe("consumer")
      expect(process.traceId).toBe(send.traceId)
      expect(parentIdOf(process)).toBe(send.spanId)
      expect(Object.fromEntries(process.attributes)).toEqual({
        "messaging.system": "faktory",
        "messaging.operation.name": "process",
        "messaging.operation.type": "process",
        "messaging.destination.name": "tr-cross",
        "messaging.message.id": jid,
        "messaging.faktory.jobtype": "Checkout",
        "messaging.faktory.retry_count": 0
      })
      yield* waitFor("the span to end", () => process.status._tag === "Ended")
      expect(made).toContain(process)
    }))

  it.scoped("by default a worker's heartbeats and connections make no span: a push and its job make the only two", () =>
    Effect.gen(function*() {
      const server = yield* FaktoryServer.FaktoryServer
      const { made, tracer } = yield* recordingTracer
      const Quiet = Job.define("Quiet", { args: Schema.Tuple(), queue: "tr-quiet" })
      const worker = yield* Worker.make({
        queues: ["tr-quiet"],
        concurrency: 2,
        heartbeatInterval: "1 second",
        shutdownTimeout: "2 seconds",
        client: server.clientOptions
      }).pipe(
        Effect.provide(Layer.merge(Quiet.handle(() => Effect.void), NodeTransport.layer)),
        // Started inside a span of the application's: the heartbeats are not filed under it either.
        Effect.withSpan("main"),
        Effect.withTracer(tracer)
      )
      // Two heartbeats and some idle FETCHes (each waits 2 s on an empty queue).
      yield* Effect.sleep("2500 millis")
      expect(made.map((span) => span.name)).toEqual(["main"])
      made.length = 0
      // A client of the producer's own, so that its connection is opened under the tracer.
      const producer = yield* Client.make(server.clientOptions).pipe(Effect.provide(NodeTransport.layer), Effect.withTracer(tracer))
      const jid = yield* producer.push({ jobtype: "Quiet", args: [], queue: "tr-quiet" }).pipe(Effect.withTracer(tracer))
      yield* waitFor("the job", () => worker.processed().acked === 1)
      yield* waitFor("its span to end", () => made.some((span) => span.name === "process tr-quiet" && span.status._tag === "Ended"))
      expect(made.map((span) => span.name)).toEqual(["send tr-quiet", "process tr-quiet"])
      expect(parentIdOf(made[1]!)).toBe(made[0]!.spanId)
      expect(made[1]!.attributes.get("messaging.message.id")).toBe(jid)
    }))

  it.scoped("with Tracing.verbose, heartbeats and connections are traced too, each a trace of its own", () =>
    Effect.gen(function*() {
      const server = yield* FaktoryServer.FaktoryServer
      const { made, tracer } = yield* recordingTracer
      const WorkerLive = Worker.layer({
        queues: ["tr-verbose"],
        concurrency: 2,
        heartbeatInterval: "1 second",
        shutdownTimeout: "2 seconds",
        client: server.clientOptions
      }).pipe(Layer.provide(NodeTransport.layer), Layer.provide(Tracing.verbose))
      yield* Layer.build(WorkerLive).pipe(Effect.withSpan("main"), Effect.withTracer(tracer))
      yield* waitFor("two heartbeats", () => made.filter((span) => span.name === "Faktory.beat").length >= 2)
      const beats = made.filter((span) => span.name === "Faktory.beat")
      const connects = made.filter((span) => span.name === "Connection.make")
      // A connection for each processor and one for the heartbeats.
      expect(connects.length).toBeGreaterThanOrEqual(3)
      expect(Object.fromEntries(connects[0]!.attributes)).toMatchObject({ "faktory.address": `127.0.0.1:${server.port}` })
      // Roots, not children of "main" nor of each other.
      expect([...beats, ...connects].map(parentIdOf).filter((parent) => parent !== null)).toEqual([])
      expect(new Set([...beats, ...connects].map((span) => span.traceId)).size).toBe(beats.length + connects.length)
    }))

  it.scoped("jobs with no trace context, or a malformed one, run in a fresh trace; a traceparent given by the caller is kept", () =>
    Effect.gen(function*() {
      const { ran } = yield* tracedWorker("tr-raw", "Raw")
      const client = yield* Client.Client
      // Pushed under Effect's built-in tracer: nothing is traced, nothing is injected.
      const plain = yield* client.push({ jobtype: "Raw", args: [], queue: "tr-raw" })
      const broken = yield* client.push({
        jobtype: "Raw",
        args: [],
        queue: "tr-raw",
        custom: { traceparent: "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01" }
      })
      const zeros = yield* client.push({
        jobtype: "Raw",
        args: [],
        queue: "tr-raw",
        custom: { traceparent: `00-${"0".repeat(32)}-00f067aa0ba902b7-01`, tracestate: 7 }
      })
      // Pushed under a recording tracer, with the caller's own traceparent: it is kept.
      const { made: producerSpans, tracer } = yield* recordingTracer
      const own = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00"
      const kept = yield* client.push({
        jobtype: "Raw",
        args: [],
        queue: "tr-raw",
        custom: { traceparent: own, tracestate: "vendor=abc" }
      }).pipe(Effect.withTracer(tracer))
      yield* waitFor("four jobs", () => ran.length === 4)
      const byJid = new Map(ran.map((entry) => [entry.jid, entry]))

      expect(byJid.get(plain)!.custom).toEqual({})
      for (const jid of [plain, broken, zeros]) {
        const span = byJid.get(jid)!.span
        expect(span.name).toBe("process tr-raw")
        expect(Option.isNone(span.parent)).toBe(true)
      }
      const traces = new Set([plain, broken, zeros].map((jid) => byJid.get(jid)!.span.traceId))
      expect(traces.size).toBe(3)

      expect(producerSpans.map((span) => span.name)).toContain("send tr-raw")
      expect(byJid.get(kept)!.custom).toEqual({ traceparent: own, tracestate: "vendor=abc" })
      const continued = byJid.get(kept)!.span
      expect(continued.traceId).toBe("4bf92f3577b34da6a3ce929d0e0e4736")
      expect(parentIdOf(continued)).toBe("00f067aa0ba902b7")
      expect(continued.sampled).toBe(true)
    }))

  it.scoped("a job pushed from inside a traced job carries the trace on, tracestate included", () =>
    Effect.gen(function*() {
      const client = yield* Client.Client
      const { ran } = yield* tracedWorker("tr-chain", "Chain", (job) =>
        job.custom["next"] === true
          ? Effect.asVoid(Effect.orDie(client.push({ jobtype: "Chain", args: [], queue: "tr-chain" })))
          : Effect.void)
      yield* client.push({
        jobtype: "Chain",
        args: [],
        queue: "tr-chain",
        custom: { next: true, traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", tracestate: "rojo=00f067aa0ba902b7" }
      })
      yield* waitFor("two jobs", () => ran.length === 2)
      const [first, second] = ran
      expect(second!.custom["tracestate"]).toBe("rojo=00f067aa0ba902b7")
      expect(second!.span.traceId).toBe("0af7651916cd43dd8448eb211c80319c")
      expect(first!.span.traceId).toBe("0af7651916cd43dd8448eb211c80319c")
    }))
})

describe("trace context, parsed", () => {
  it.effect("reads W3C traceparents and refuses what the recommendation forbids", () =>
    Effect.sync(() => {
      const valid = TraceContext.parse({ traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01" })
      expect(Option.map(valid, (span) => [span.traceId, span.spanId, span.sampled])).toEqual(
        Option.some(["4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7", true])
      )
      // A later version may append fields; version 00 may not.
      expect(Option.isSome(TraceContext.parse({ traceparent: "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00-extra" })))
        .toBe(true)
      for (
        const traceparent of [
          "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
          "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
          "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
          "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01",
          "",
          42
        ]
      ) {
        expect(Option.isNone(TraceContext.parse({ traceparent }))).toBe(true)
      }
      expect(Option.isNone(TraceContext.parse(undefined))).toBe(true)
    }))
})
