import { describe, expect, it } from "vitest"
import { spawnSync } from "node:child_process"
import * as Fs from "node:fs"
import { fileURLToPath } from "node:url"

// The READMEs' and the guides' (docs/*.md) TypeScript blocks are programs users copy: they must
// compile against the packages as built (tsc -b runs before the tests). Their links must lead
// somewhere: relative ones to a file and heading of the repository, and the npm pages' (the
// packages' READMEs) to absolute URLs.
const script = fileURLToPath(new URL("../../../scripts/check-readme-code.mjs", import.meta.url))
const linkScript = fileURLToPath(new URL("../../../scripts/check-doc-links.mjs", import.meta.url))

describe("README code", () => {
  it("every ```ts block of the READMEs and guides compiles as a whole module", () => {
    const run = spawnSync(process.execPath, [script], { encoding: "utf8" })
    expect(`${run.stdout}${run.stderr}`).toMatch(/README code: \d+ blocks compile/)
    expect(run.status).toBe(0)
  })
})

describe("documentation links", () => {
  it("every relative link and #anchor of the README and guides resolves; npm pages link absolutely", () => {
    const run = spawnSync(process.execPath, [linkScript], { encoding: "utf8" })
    const output = `${run.stdout}${run.stderr}`
    expect(output).toMatch(/doc links: \d+ links, 0 broken/)
    expect(run.status).toBe(0)
  })

  it("anchors follow GitHub's slugs, and a broken link is found", async () => {
    const { anchors, links, slug } = await import(linkScript)
    expect(slug("The `faktory-worker` binary")).toBe("the-faktory-worker-binary")
    expect(slug("Faktory Enterprise: batches, tracking, unique and expiring jobs")).toBe(
      "faktory-enterprise-batches-tracking-unique-and-expiring-jobs"
    )
    expect(slug("Effect 3, not Effect 4")).toBe("effect-3-not-effect-4")
    expect([...anchors("# A\n\n## Notes\n\n```\n## not a heading\n```\n\n## Notes\n")]).toEqual(["a", "notes", "notes-1"])
    expect(links("see [x](a.md#b) and `[y](c.md)`\n```\n[z](d.md)\n```\n")).toEqual([{ target: "a.md#b", line: 1 }])
  })

  it("the packages' repository field is the URL the npm pages link to", async () => {
    const { repository } = await import(linkScript)
    for (const name of ["core", "node", "testing"]) {
      const manifest = JSON.parse(
        Fs.readFileSync(fileURLToPath(new URL(`../../${name}/package.json`, import.meta.url)), "utf8")
      )
      expect(manifest.repository.url).toBe(`git+${repository}.git`)
      expect(manifest.repository.directory).toBe(`packages/${name}`)
    }
  })
})
