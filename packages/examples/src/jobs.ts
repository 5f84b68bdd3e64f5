/**
 * The demo's jobs, defined once and shared by the producer and the worker.
 */
import { Job } from "@effect-faktory/core"
import { Effect, Layer, Schema } from "effect"

/** Positional arguments, as a Ruby `perform(to, template)` would take them. */
export const SendEmail = Job.define("SendEmail", {
  args: Schema.Tuple(Schema.String, Schema.Literal("welcome", "receipt")),
  queue: "critical",
  retry: 5
})

/** One structured argument, carried as `args[0]`. */
export const ResizeImage = Job.define("ResizeImage", {
  args: Schema.Struct({ file: Schema.String, width: Schema.Int.pipe(Schema.between(16, 4096)) })
})

/** The handlers: each is a Layer the worker picks up. */
export const Handlers = [
  SendEmail.handle(([to, template], job) => Effect.log(`sending the ${template} email to ${to} (jid ${job.jid})`)),
  ResizeImage.handle(({ file, width }) => Effect.log(`resizing ${file} to ${width}px`).pipe(Effect.delay("50 millis")))
] as const

/**
 * The same handlers as one layer: what `faktory-worker -r dist/jobs.js` loads, to run them or
 * to print their contracts (`npm run contracts -w @effect-faktory/examples` prints the AsyncAPI document).
 */
export const HandlersLive = Layer.mergeAll(...Handlers)
