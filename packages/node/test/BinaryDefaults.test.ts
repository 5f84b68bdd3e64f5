import { expect, it } from "@effect/vitest"
import * as Fs from "node:fs"
import { bin } from "./support/binary.js"

it("the faktory-worker binary's first line runs on any env, BusyBox's included (no -S, no flags)", () => {
  // `#!/usr/bin/env -S node --flag` fails on Alpine images: BusyBox's env has no -S.
  expect(Fs.readFileSync(bin, "utf8").split("\n")[0]).toBe("#!/usr/bin/env node")
})
