import { describe, expect, it } from "@effect/vitest"
import { Client, JobHandler, Transport, Worker } from "@effect-faktory/core"
import { FakeFaktory, FaktoryServer } from "@effect-faktory/testing"
import { Context } from "effect"

// Tags are classes, as Effect's own packages declare them: the class names the requirement
// (`Layer.Layer<Client.Client>`), its `Service` interface names what `yield*` gives. The
// type-level half is compiled by `tsc -b` (the test project).
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false
export const typeChecks: [
  Same<Context.Tag.Service<Client.Client>, Client.Service>,
  Same<Context.Tag.Service<Worker.Worker>, Worker.Service>,
  Same<Context.Tag.Service<FaktoryServer.FaktoryServer>, FaktoryServer.Service>,
  Same<Context.Tag.Service<FakeFaktory.FakeFaktory>, FakeFaktory.Service>
] = [true, true, true, true]

describe("tags", () => {
  it("every public tag is a class with the package's key", () => {
    const tags: ReadonlyArray<readonly [unknown, string]> = [
      [Client.Client, "@effect-faktory/core/Client"],
      [Worker.Worker, "@effect-faktory/core/Worker"],
      [Transport.Transport, "@effect-faktory/core/Transport"],
      [JobHandler.CurrentJob, "@effect-faktory/core/JobHandler/CurrentJob"],
      [FaktoryServer.FaktoryServer, "@effect-faktory/testing/FaktoryServer"],
      [FakeFaktory.FakeFaktory, "@effect-faktory/testing/FakeFaktory"]
    ]
    for (const [tag, key] of tags) {
      expect(typeof tag, key).toBe("function")
      expect(Context.isTag(tag) && tag.key, key).toBe(key)
    }
  })
})
