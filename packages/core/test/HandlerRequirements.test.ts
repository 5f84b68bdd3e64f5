import { describe, expect, it } from "@effect/vitest"
import { Job, type JobHandler, Worker } from "@effect-faktory/core"
import { NodeTransport, NodeWorker } from "@effect-faktory/node"
import { Cause, Context, Effect, Layer, Schema } from "effect"

// A handler's services are part of the worker layer's type: forgetting to provide one does
// not compile. The checks are the `@ts-expect-error` lines below, compiled by `tsc -b` (the
// test project; an error that stops happening fails the build as an unused directive); the
// test itself only runs what needs no server.

class Db extends Context.Tag("app/Db")<Db, { readonly save: (text: string) => Effect.Effect<void> }>() {}
const DbLive = Layer.succeed(Db, { save: () => Effect.void })

const Save = Job.define("Save", { args: Schema.Tuple(Schema.String) })
const Handlers = Save.handle(([text]) => Effect.flatMap(Db, (db) => db.save(text)))
const Built = Save.handleWith(Effect.map(Db, (db) => ([text]: readonly [string]) => db.save(text)))

const withDb = Worker.layer().pipe(Layer.provide(Handlers), Layer.provide(DbLive), Layer.provide(NodeTransport.layer))
const withoutDb = Worker.layer().pipe(Layer.provide(Handlers), Layer.provide(NodeTransport.layer))
const builtWithoutDb = Worker.layer().pipe(Layer.provide(Built), Layer.provide(NodeTransport.layer))

// A handler not written yet, which only throws, needs nothing: the worker compiles without more.
const Todo = Job.define("Todo", { args: Schema.Tuple() })
const todo = Worker.layer().pipe(
  Layer.provide(Todo.handle(() => {
    throw new Error("not implemented yet")
  })),
  Layer.provide(NodeTransport.layer)
)

export const typeChecks = () => {
  NodeWorker.runMain(withDb)
  NodeWorker.runMain(todo)
  // @ts-expect-error the handler needs app/Db, which nothing provides
  NodeWorker.runMain(withoutDb)
  // @ts-expect-error the same for a handler built with handleWith
  NodeWorker.runMain(builtWithoutDb)
  // @ts-expect-error and for running the layer by hand
  void Effect.runPromise(Layer.launch(withoutDb))
  const needs: Layer.Layer<Worker.Worker, Worker.StartError, Db> = withoutDb
  return needs
}

describe("handler requirements", () => {
  it.effect("a handler built with handleWith takes its services as the worker starts: a missing one fails the start", () =>
    Effect.gen(function*() {
      const exit = yield* Effect.exit(Layer.build(Built as Layer.Layer<JobHandler.JobHandler<"Save">>).pipe(Effect.scoped))
      expect(exit._tag).toBe("Failure")
      expect(exit._tag === "Failure" ? Cause.pretty(exit.cause) : "").toContain("Service not found: app/Db")
      const fine = yield* Effect.exit(Layer.build(Built.pipe(Layer.provide(DbLive))).pipe(Effect.scoped))
      expect(fine._tag).toBe("Success")
    }))
})
