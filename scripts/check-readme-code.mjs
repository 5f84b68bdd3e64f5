// Compiles every ```ts block of the READMEs (the root one and each published package's) and of
// the guides (docs/*.md) as its own ES module, against the workspace's packages, so the documented code cannot drift
// from the API. Each block must be a whole program or module: imports included, nothing
// undefined. Errors are reported at the README's own line numbers.
// Usage: node scripts/check-readme-code.mjs   (after `tsc -b`; exits 1 on any error)
import { spawnSync } from "node:child_process"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"

const root = Path.resolve(Path.dirname(fileURLToPath(import.meta.url)), "..")
/** The Markdown files whose ```ts blocks are compiled: the READMEs, then every guide in docs/. */
export const documents = () => [
  "README.md",
  "packages/core/README.md",
  "packages/node/README.md",
  "packages/testing/README.md",
  ...Fs.readdirSync(Path.join(root, "docs"))
    .filter((name) => name.endsWith(".md"))
    .sort()
    .map((name) => `docs/${name}`)
]

/** The ```ts blocks of a Markdown file, with the line (1-based) of each block's first code line. */
export const tsBlocks = (markdown) => {
  const blocks = []
  const lines = markdown.split("\n")
  let current = undefined
  lines.forEach((line, index) => {
    if (current === undefined) {
      if (/^```(ts|typescript)\s*$/.test(line)) current = { line: index + 2, code: [] }
    } else if (/^```\s*$/.test(line)) {
      blocks.push({ line: current.line, code: current.code.join("\n") + "\n" })
      current = undefined
    } else {
      current.code.push(line)
    }
  })
  return blocks
}

const main = () => {
  // Inside the repository's node_modules, so the blocks resolve the workspace's packages
  // (ancestor node_modules) like an application would; outside git's view.
  const directory = Path.join(root, "node_modules", ".cache", "readme-code")
  Fs.rmSync(directory, { recursive: true, force: true })
  Fs.mkdirSync(directory, { recursive: true })
  Fs.writeFileSync(Path.join(directory, "package.json"), JSON.stringify({ type: "module", private: true }))
  const origins = new Map()
  for (const readme of documents()) {
    const blocks = tsBlocks(Fs.readFileSync(Path.join(root, readme), "utf8"))
    blocks.forEach((block, index) => {
      const name = `${readme.replace(/[/.]/g, "_")}_${index + 1}.ts`
      Fs.writeFileSync(Path.join(directory, name), block.code)
      origins.set(name, { readme, line: block.line })
    })
  }
  Fs.writeFileSync(
    Path.join(directory, "tsconfig.json"),
    JSON.stringify({
      extends: Path.join(root, "tsconfig.base.json"),
      compilerOptions: {
        noEmit: true,
        composite: false,
        incremental: false,
        declaration: false,
        declarationMap: false,
        // Documentation defines values it does not use (`const program = …`).
        noUnusedLocals: false,
        noUnusedParameters: false
      },
      include: ["*.ts"]
    })
  )
  const tsc = spawnSync(process.execPath, [Path.join(root, "node_modules", "typescript", "bin", "tsc"), "-p", directory], {
    encoding: "utf8"
  })
  const output = `${tsc.stdout}${tsc.stderr}`.replace(/[^\s(]*?([\w.]+\.ts)\((\d+),(\d+)\)/g, (match, file, line, column) => {
    const origin = origins.get(file)
    return origin === undefined ? match : `${origin.readme}:${origin.line + Number(line) - 1}:${column}`
  })
  if (tsc.status !== 0) {
    console.log(output.trim())
    console.log(`README code: ${origins.size} blocks, tsc failed`)
    process.exit(1)
  }
  console.log(`README code: ${origins.size} blocks compile`)
}

if (process.argv[1] === fileURLToPath(import.meta.url)) main()
