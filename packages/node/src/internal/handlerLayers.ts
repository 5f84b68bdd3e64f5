/**
 * Builds the handler layers that `faktory-worker` loaded, before the worker connects: modules
 * loaded at run time are outside the type system, so what the compiler checks for a worker
 * written in TypeScript (every service a handler needs is provided) is checked here, as the
 * process starts, and said in one line.
 */
import * as JobHandler from "@effect-faktory/core/JobHandler"
import * as Cause from "effect/Cause"
import type * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import type * as Scope from "effect/Scope"

const SERVICE_NOT_FOUND = /^Service not found: (.+)$/

const firstLine = (text: string) => text.split("\n")[0] ?? ""

/** Why building failed, in words a user can act on. */
const explain = (cause: Cause.Cause<unknown>): string => {
  const defect = Cause.dieOption(cause)
  const thrown: unknown = Option.getOrUndefined(Option.orElse(Cause.failureOption(cause), () => defect))
  const message = thrown instanceof Error
    ? thrown.message
    : typeof thrown === "object" && thrown !== null && "message" in thrown && typeof thrown.message === "string"
    ? thrown.message
    : firstLine(Cause.pretty(cause))
  const missing = SERVICE_NOT_FOUND.exec(message)
  return missing !== null
    ? `a handler layer needs the service ${missing[1]}, which no loaded module provides: ` +
      "provide it in the handler's module (Layer.provide) and export the provided layer"
    : `building the handler layers failed: ${firstLine(message)}`
}

/**
 * The loaded layers built in `scope`: their context. Fails, with the reason, when a layer
 * needs a service nothing provides (it asked for it as it was built: `Job.define(…).handleWith`,
 * `Layer.effect`), or when building fails.
 */
export const buildContext = (
  layers: ReadonlyArray<Layer.Layer<never, unknown, never>>
): Effect.Effect<Context.Context<never>, string, Scope.Scope> =>
  Layer.build(Layer.mergeAll(Layer.empty, ...layers)).pipe(Effect.sandbox, Effect.mapError(explain))

/** What a start with no handler at all says. */
export const noHandlers = "the loaded modules register no handler: export the layers that Job.define(…).handle(…) returns"

/**
 * The loaded layers built in `scope`: their context, with at least one handler and one per
 * jobtype. Fails, with the reason, as `buildContext` does, and when no layer registers a
 * handler, or two register one for the same jobtype.
 */
export const build = (
  layers: ReadonlyArray<Layer.Layer<never, unknown, never>>
): Effect.Effect<Context.Context<never>, string, Scope.Scope> =>
  Effect.gen(function*() {
    const context = yield* buildContext(layers)
    const handlers = yield* Effect.mapError(JobHandler.collect(context), (error) => error.message)
    if (handlers.size === 0) return yield* Effect.fail(noHandlers)
    return context
  })
