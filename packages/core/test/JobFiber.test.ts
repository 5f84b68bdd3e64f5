import { describe, expect, it } from "@effect/vitest"
import { Effect, FiberRef, FiberRefs, HashMap, Runtime } from "effect"

// The worker's job runner writes each job's log annotations into the fiber refs that
// `Runtime.runFork` hands to `updateRefs`, in place (a copy per job cost 1.1 KB of 17). That is
// right only while those refs are the new fiber's own: this pins Effect's behaviour.
describe("Runtime.runFork's updateRefs", () => {
  it.effect("gets fiber refs made for the new fiber, not the runtime's", () =>
    Effect.gen(function*() {
      const runtime = yield* Effect.runtime<never>()
      let given: FiberRefs.FiberRefs | undefined
      const fiber = Runtime.runFork(runtime, Effect.void, {
        updateRefs: (refs, fiberId) => {
          given = refs
          const stack = refs.locals.get(FiberRef.currentLogAnnotations)
          refs.locals.set(FiberRef.currentLogAnnotations, [[fiberId, HashMap.make(["jid", "j1"])], ...(stack ?? [])])
          return refs
        }
      })
      yield* fiber.await
      expect(given).toBeDefined()
      expect(given).not.toBe(runtime.fiberRefs)
      expect(given?.locals).not.toBe(runtime.fiberRefs.locals)
      // The runtime's own refs are untouched.
      expect(HashMap.has(FiberRefs.getOrDefault(runtime.fiberRefs, FiberRef.currentLogAnnotations), "jid")).toBe(false)
    }))
})
