// What a user gets from npm: packs core, node and testing, installs the tarballs in a fresh
// application with the README's exact install line, compiles the README's headline and
// typed-jobs examples with tsc as ES modules and as CommonJS, runs them against a throwaway
// Faktory server (started by the installed @effect-faktory/testing), checks what require()
// and the exports map allow, and runs the headline bundled by esbuild with no node_modules
// beside it. Needs the npm registry (for effect and friends) and a built workspace (tsc -b).
//
// Usage: node scripts/consumer-check.mjs [--keep]
// Prints one line per check and ends with "consumer check: N passed, N failed"; exits 1 on
// any failure. The temp directory is removed unless --keep or a check failed.
import { spawn, spawnSync } from "node:child_process"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"
import { tsBlocks } from "./check-readme-code.mjs"

const root = Path.resolve(Path.dirname(fileURLToPath(import.meta.url)), "..")
const keep = process.argv.includes("--keep")
const work = Fs.mkdtempSync(Path.join(Os.tmpdir(), "fk-consumer-"))
const app = Path.join(work, "app")
const results = []

const record = (name, ok, detail = "") => {
  results.push({ name, ok })
  console.log(`${ok ? "PASS" : "FAIL"} ${name}${detail === "" ? "" : `: ${detail}`}`)
  return ok
}

/** Runs a command to completion; returns its status and output. */
const run = (command, args, options = {}) => {
  const result = spawnSync(command, args, { encoding: "utf8", timeout: 120_000, ...options })
  return { status: result.status, output: `${result.stdout ?? ""}${result.stderr ?? ""}`, error: result.error }
}

const tail = (text, lines = 15) => text.trim().split("\n").slice(-lines).join("\n")

/** The environment for the examples: the server's URL, nothing else of FAKTORY_*. */
const envFor = (url) => {
  const env = {}
  for (const [key, value] of Object.entries(process.env)) {
    if (value !== undefined && !key.startsWith("FAKTORY_") && key !== "NODE_OPTIONS") env[key] = value
  }
  return { ...env, FAKTORY_URL: url }
}

const readme = Fs.readFileSync(Path.join(root, "README.md"), "utf8")
const testingReadme = Fs.readFileSync(Path.join(root, "packages", "testing", "README.md"), "utf8")

const main = async () => {
  console.log(`consumer check in ${work} (node ${process.version})`)

  // 1. Pack. Build first, so the tarballs hold the current code.
  const build = run(process.execPath, [Path.join(root, "node_modules", "typescript", "bin", "tsc"), "-b", Path.join(root, "tsconfig.json")])
  if (!record("workspace builds", build.status === 0, tail(build.output))) return
  const tarballs = {}
  for (const name of ["core", "node", "testing"]) {
    const packed = run("npm", ["pack", "--json", "--pack-destination", work], { cwd: Path.join(root, "packages", name) })
    if (packed.status !== 0) return record(`npm pack ${name}`, false, tail(packed.output))
    const [info] = JSON.parse(packed.output.slice(packed.output.indexOf("[")))
    const files = info.files.map((file) => file.path)
    const unwanted = files.filter((file) => file.endsWith(".tsbuildinfo"))
    const missing = ["README.md", "LICENSE", "package.json", "dist/index.js", "dist/index.d.ts"].filter((file) => !files.includes(file))
    record(
      `npm pack ${name}: ${info.filename}, ${files.length} files, ${info.size} bytes`,
      unwanted.length === 0 && missing.length === 0,
      [...unwanted.map((file) => `packs ${file}`), ...missing.map((file) => `lacks ${file}`)].join(", ")
    )
    tarballs[`@effect-faktory/${name}`] = Path.join(work, info.filename)
  }

  // 2. Install with the README's line, the package names swapped for the tarballs.
  const line = readme.split("\n").find((text) => text.startsWith("npm i @effect-faktory/core "))
  if (!record("the README has an install line", line !== undefined)) return
  const specs = line.split(/\s+/).slice(2).map((spec) => tarballs[spec] ?? spec)
  Fs.mkdirSync(Path.join(app, "src"), { recursive: true })
  Fs.writeFileSync(Path.join(app, "package.json"), JSON.stringify({ name: "consumer-app", private: true, type: "module" }, null, 2))
  const install = run("npm", ["install", "--no-audit", "--no-fund", ...specs], { cwd: app, timeout: 600_000 })
  if (!record(`npm install ${line.split(/\s+/).slice(2).join(" ")} (tarballs)`, install.status === 0, install.status === 0 ? "" : tail(install.output))) return
  // The testing package's README has its own line, with the test runner's versions.
  const devLine = testingReadme.split("\n").find((text) => text.startsWith("npm i -D @effect-faktory/testing"))
  if (!record("the testing README has an install line", devLine !== undefined)) return
  const devSpecs = devLine.split(/\s+/).slice(3).map((spec) => tarballs[spec] ?? spec)
  const installDev = run("npm", ["install", "--no-audit", "--no-fund", "-D", ...devSpecs, "@types/node@20"], {
    cwd: app,
    timeout: 600_000
  })
  if (!record(`npm install -D ${devLine.split(/\s+/).slice(3).join(" ")} @types/node@20 (tarball)`, installDev.status === 0, installDev.status === 0 ? "" : tail(installDev.output))) return
  const tree = run("npm", ["ls", "--all"], { cwd: app })
  record("npm ls --all: no missing or invalid peers", tree.status === 0, tree.status === 0 ? "" : tail(tree.output))
  const effectVersion = JSON.parse(Fs.readFileSync(Path.join(app, "node_modules", "effect", "package.json"), "utf8")).version
  console.log(`  installed effect ${effectVersion}`)

  // 3. The README's examples, compiled as ES modules and as CommonJS.
  const blocks = tsBlocks(readme).map((block) => block.code)
  const headline = blocks[0]
  const typed = blocks.find((code) => code.includes("Job.define(\"SendEmail\""))
  if (!record("the README has the headline and typed-jobs examples", headline !== undefined && typed !== undefined)) return
  Fs.writeFileSync(Path.join(app, "src", "headline.ts"), headline)
  Fs.writeFileSync(Path.join(app, "src", "typed.ts"), typed)
  // CommonJS has no top-level await: the one change is `await` to `void` (a rejection still
  // ends the process with an error).
  Fs.writeFileSync(Path.join(app, "src", "headline-cjs.cts"), headline.replace(/^await /m, "void "))
  Fs.writeFileSync(Path.join(app, "src", "typed-cjs.cts"), typed)
  Fs.writeFileSync(
    Path.join(app, "tsconfig.json"),
    JSON.stringify({
      compilerOptions: {
        target: "ES2022",
        module: "nodenext",
        moduleResolution: "nodenext",
        strict: true,
        exactOptionalPropertyTypes: true,
        // The packages' own declarations are checked too, as a strict consumer would.
        skipLibCheck: false,
        types: ["node"],
        rootDir: "src",
        outDir: "dist"
      },
      include: ["src"]
    }, null, 2)
  )
  const compiled = run(process.execPath, [Path.join(root, "node_modules", "typescript", "bin", "tsc"), "-p", app], { cwd: app })
  record("tsc: headline.ts, typed.ts (ESM) and headline-cjs.cts, typed-cjs.cts (CommonJS)", compiled.status === 0, tail(compiled.output))
  const emittedCjs = Fs.existsSync(Path.join(app, "dist", "typed-cjs.cjs"))
    ? Fs.readFileSync(Path.join(app, "dist", "typed-cjs.cjs"), "utf8")
    : ""
  record("the CommonJS build loads the packages with require()", emittedCjs.includes("require(\"@effect-faktory/node\")"))

  // The testing README's server-free tests (FakeFaktory), run by the installed vitest.
  const fakeTests = tsBlocks(testingReadme).map((block) => block.code).filter((code) => code.includes("FakeFaktory.layer"))
  Fs.mkdirSync(Path.join(app, "test"), { recursive: true })
  fakeTests.forEach((code, index) => Fs.writeFileSync(Path.join(app, "test", `fake-${index}.test.ts`), code))
  const vitest = run(process.execPath, [Path.join(app, "node_modules", "vitest", "vitest.mjs"), "run", "test"], { cwd: app, timeout: 300_000 })
  record(
    `the testing README's ${fakeTests.length} FakeFaktory examples pass under the installed vitest`,
    fakeTests.length >= 2 && vitest.status === 0,
    vitest.status === 0 ? "" : tail(vitest.output)
  )

  // 4. What require() and the exports map allow.
  Fs.writeFileSync(
    Path.join(app, "probe.cjs"),
    `const out = {}
const attempt = (id) => { try { require(id); return "ok" } catch (e) { return e.code ?? String(e) } }
out.core = typeof require("@effect-faktory/core").push
out.coreClient = typeof require("@effect-faktory/core/Client").make
out.node = typeof require("@effect-faktory/node").push
out.testing = typeof require("@effect-faktory/testing").FaktoryServer.make
out.internal = attempt("@effect-faktory/core/internal/pushBatcher")
out.bin = attempt("@effect-faktory/node/bin")
console.log(JSON.stringify(out))
`
  )
  const probe = run(process.execPath, [Path.join(app, "probe.cjs")], { cwd: app })
  let probed = {}
  try {
    probed = JSON.parse(probe.output.trim().split("\n").pop())
  } catch {
    // reported below
  }
  record(
    "require() of core, core/Client, node and testing",
    probed.core === "function" && probed.coreClient === "function" && probed.node === "function" && probed.testing === "function",
    probe.status === 0 ? JSON.stringify(probed) : tail(probe.output)
  )
  record(
    "internal/ modules and node's bin are not exported",
    probed.internal === "ERR_PACKAGE_PATH_NOT_EXPORTED" && probed.bin === "ERR_PACKAGE_PATH_NOT_EXPORTED",
    `internal: ${probed.internal}, bin: ${probed.bin}`
  )

  // 5. Against a server.
  const server = await startServer()
  if (!record("a throwaway Faktory server from the installed @effect-faktory/testing", server.url !== undefined, server.error ?? "")) return
  try {
    const env = envFor(server.url)
    const runJs = (file, args = []) => run(process.execPath, [file, ...args], { cwd: app, env, timeout: 60_000 })
    const take = (queue) => {
      const taken = run(process.execPath, [Path.join(app, "take.mjs"), queue], { cwd: app, env, timeout: 60_000 })
      return taken.output.trim().split("\n").pop() ?? ""
    }
    Fs.writeFileSync(
      Path.join(app, "take.mjs"),
      `import { Effect, Option } from "effect"
import { DefaultClient } from "@effect-faktory/node"
const job = await Effect.runPromise(DefaultClient.withClient((client) =>
  Effect.tap(client.fetch([process.argv[2]]), (job) => Option.isSome(job) ? client.ack(job.value.jid) : Effect.void)))
console.log(Option.match(job, { onNone: () => "none", onSome: (j) => JSON.stringify([j.jobtype, j.args]) }))
`
    )
    const expected = JSON.stringify(["SendEmail", ["a@example.com"]])
    for (const file of ["headline.js", "headline-cjs.cjs"]) {
      const ran = runJs(Path.join(app, "dist", file))
      const job = take("default")
      record(`node dist/${file} pushes the headline's job`, ran.status === 0 && job === expected, `exit ${ran.status}, job ${job} ${ran.status === 0 ? "" : tail(ran.output)}`)
    }
    for (const file of ["typed.js", "typed-cjs.cjs"]) {
      const pushed = runJs(Path.join(app, "dist", file), ["push"])
      record(`node dist/${file} push`, pushed.status === 0 && pushed.output.includes("pushed"), tail(pushed.output, 5))
      const worked = await runWorker(Path.join(app, "dist", file), env, "mailing a@example.com (attempt 3)")
      record(`node dist/${file} (the worker) runs the job and stops on SIGTERM`, worked.ok, worked.detail)
    }

    // 6. The headline bundled into one file, run where no node_modules can be found.
    const bundleDir = Path.join(work, "bundle")
    Fs.mkdirSync(bundleDir)
    // The workspace's esbuild (a root devDependency); its bin is a native executable.
    const bundled = run(Path.join(root, "node_modules", ".bin", "esbuild"), [
      Path.join(app, "src", "headline.ts"),
      "--bundle",
      "--platform=node",
      "--format=esm",
      `--outfile=${Path.join(bundleDir, "headline.mjs")}`,
      "--log-level=warning"
    ], { cwd: app })
    if (record("esbuild bundles the headline", bundled.status === 0, tail(bundled.output))) {
      const ran = run(process.execPath, [Path.join(bundleDir, "headline.mjs")], { cwd: bundleDir, env, timeout: 60_000 })
      const job = take("default")
      record("the bundle pushes the headline's job", ran.status === 0 && job === expected, `exit ${ran.status}, job ${job} ${ran.status === 0 ? "" : tail(ran.output)}`)
    }
  } finally {
    await server.stop()
  }
}

/** Starts a server with the installed testing package; it stops when its stdin closes. */
const startServer = () =>
  new Promise((resolve) => {
    Fs.writeFileSync(
      Path.join(app, "server.mjs"),
      `import { FaktoryServer } from "@effect-faktory/testing"
import { Effect } from "effect"
process.stdin.on("data", () => {})
const program = Effect.gen(function* () {
  const server = yield* FaktoryServer.make({ webUi: false })
  console.log(JSON.stringify({ url: server.url }))
  yield* Effect.async((resume) => { process.stdin.once("end", () => resume(Effect.void)) })
}).pipe(Effect.scoped)
Effect.runPromise(program).then(() => process.exit(0), (error) => { console.error(String(error)); process.exit(1) })
`
    )
    const child = spawn(process.execPath, [Path.join(app, "server.mjs")], { cwd: app, stdio: ["pipe", "pipe", "pipe"] })
    let output = ""
    let started = false
    const stop = () =>
      new Promise((done) => {
        if (child.exitCode !== null) return done()
        child.once("exit", () => done())
        child.stdin.end()
        setTimeout(() => child.kill("SIGKILL"), 15_000).unref()
      })
    const onData = (chunk) => {
      output += chunk.toString()
      const line = output.split("\n").find((text) => text.startsWith("{\"url\""))
      if (line !== undefined && !started) {
        started = true
        resolve({ url: JSON.parse(line).url, stop })
      }
    }
    child.stdout.on("data", onData)
    child.stderr.on("data", (chunk) => (output += chunk.toString()))
    child.once("exit", (code) => {
      if (!started) resolve({ error: `exited ${code}: ${tail(output)}`, stop })
    })
  })

/** Runs a worker until it prints `line`, then sends SIGTERM and waits for it to exit. */
const runWorker = (file, env, line) =>
  new Promise((resolve) => {
    const child = spawn(process.execPath, [file], { cwd: app, env, stdio: ["ignore", "pipe", "pipe"] })
    let output = ""
    let seen = false
    let terminatedAt = 0
    const onData = (chunk) => {
      output += chunk.toString()
      if (!seen && output.includes(line)) {
        seen = true
        terminatedAt = Date.now()
        child.kill("SIGTERM")
      }
    }
    child.stdout.on("data", onData)
    child.stderr.on("data", onData)
    const timer = setTimeout(() => child.kill("SIGKILL"), 60_000)
    child.once("exit", (code, signal) => {
      clearTimeout(timer)
      const stopMillis = Date.now() - terminatedAt
      resolve({
        ok: seen && signal === null,
        detail: seen
          ? `ran the job; exit ${code ?? signal} ${stopMillis} ms after SIGTERM`
          : `never printed "${line}" (exit ${code ?? signal}): ${tail(output)}`
      })
    })
  })

try {
  await main()
} catch (error) {
  record("the check itself", false, error instanceof Error ? error.stack ?? error.message : String(error))
}
const failed = results.filter((result) => !result.ok).length
if (failed === 0 && !keep) Fs.rmSync(work, { recursive: true, force: true })
else console.log(`kept ${work}`)
console.log(`consumer check: ${results.length - failed} passed, ${failed} failed`)
process.exit(failed === 0 ? 0 : 1)
