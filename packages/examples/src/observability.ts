/**
 * Logs, metrics and traces of a producer and a worker, exported with `@effect/opentelemetry`:
 * the metrics for Prometheus (served at http://localhost:9464/metrics while it runs, printed
 * at the end), the spans to an in-memory exporter printed at the end (an OTLP exporter sends
 * them to a collector instead). Starts a throwaway Faktory server.
 *
 * `node packages/examples/dist/observability.js` (METRICS_PORT to serve elsewhere)
 */
import { NodeSdk } from "@effect/opentelemetry"
import { Job, Worker } from "@effect-faktory/core"
import { NodeTransport } from "@effect-faktory/node"
import { FaktoryServer } from "@effect-faktory/testing"
import { PrometheusExporter } from "@opentelemetry/exporter-prometheus"
import { InMemorySpanExporter, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base"
import { Effect, Layer, Logger, LogLevel, Schema } from "effect"
import * as Http from "node:http"

const port = Number(process.env["METRICS_PORT"] ?? 9464)
const spans = new InMemorySpanExporter()
const Observability = NodeSdk.layer(() => ({
  resource: { serviceName: "faktory-example" },
  metricReader: new PrometheusExporter({ port }),
  spanProcessor: new SimpleSpanProcessor(spans)
}))

class SmtpError extends Schema.TaggedError<SmtpError>()("SmtpError", { detail: Schema.String }) {}

const SendEmail = Job.define("SendEmail", { args: Schema.Tuple(Schema.String), queue: "mail", retry: 0 })
const Handlers = SendEmail.handle(([to]) =>
  to.endsWith("@invalid") ? new SmtpError({ detail: `550 no mailbox ${to}` }) : Effect.sleep("2 millis")
)

const scrape = Effect.async<string, Error>((resume) => {
  Http.get(`http://localhost:${port}/metrics`, (response) => {
    let body = ""
    response.on("data", (chunk: Buffer) => (body += chunk.toString()))
    response.on("end", () => resume(Effect.succeed(body)))
  }).on("error", (error) => resume(Effect.fail(error)))
})

const program = Effect.gen(function*() {
  const server = yield* FaktoryServer.FaktoryServer
  const worker = yield* Worker.make({ queues: ["mail"], concurrency: 2, client: server.clientOptions }).pipe(
    Effect.provide(Layer.merge(Handlers, NodeTransport.layer))
  )
  // One trace from the checkout to the email's run, across the push and the worker.
  yield* SendEmail.push(["ada@example.com"]).pipe(Effect.withSpan("checkout"))
  yield* SendEmail.push(["bob@invalid"])
  while (worker.processed().acked + worker.processed().failed < 2) yield* Effect.sleep("10 millis")
  yield* worker.terminate

  console.log("--- metrics (Prometheus) ---")
  const text = yield* scrape
  console.log(text.split("\n").filter((line) => line.startsWith("faktory_") && !line.includes("_bucket")).join("\n"))
  console.log("--- spans (OpenTelemetry) ---")
  // Only the pushes' and jobs' spans: heartbeats and connections are traced only with
  // Tracing.verbose (each a trace of its own).
  for (const span of spans.getFinishedSpans()) {
    console.log(JSON.stringify({
      name: span.name,
      kind: span.kind,
      traceId: span.spanContext().traceId,
      spanId: span.spanContext().spanId,
      parentSpanId: span.parentSpanContext?.spanId,
      attributes: span.attributes
    }))
  }
}).pipe(
  Effect.scoped,
  Effect.provide(FaktoryServer.clientLayer().pipe(Layer.provideMerge(FaktoryServer.layer({ webUi: false })))),
  Effect.provide(Observability),
  Logger.withMinimumLogLevel(process.env["DEBUG"] === "1" ? LogLevel.Debug : LogLevel.Info)
)

Effect.runPromise(program).then(() => process.exit(0), (error: unknown) => {
  console.error(error)
  process.exit(1)
})
