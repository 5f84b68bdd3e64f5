/**
 * The `faktory-worker` command: load modules that export handler layers, and run a worker
 * for them, as the Ruby gem's `faktory-worker` does. `faktory-worker contracts` prints the
 * same modules' job contracts (JSON Schema, AsyncAPI 3) or checks a file of jobs against
 * them, without a server.
 *
 * ```
 * faktory-worker -r ./dist/jobs.js -q critical,3 -q default,1 -c 20 -t 25 -l billing
 * faktory-worker -r ./dist/jobs.js --start-timeout 30s --health-port 8080 --log-format json
 * faktory-worker contracts -r ./dist/jobs.js --out contracts.json
 * ```
 *
 * @since 0.1.0
 */
import * as FaktoryUrl from "@effect-faktory/core/FaktoryUrl"
import * as Worker from "@effect-faktory/core/Worker"
import * as Cause from "effect/Cause"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { fileURLToPath, pathToFileURL } from "node:url"
import { parseArgs } from "node:util"
import * as ControlCharacters from "./internal/controlCharacters.js"
import * as FlagHelp from "./internal/flagHelp.js"
import type { Flag } from "./internal/flagHelp.js"
import * as HandlerLayers from "./internal/handlerLayers.js"
import { isUrlLike, shownArgument } from "./internal/shownArgument.js"
import * as NodeWorker from "./NodeWorker.js"

/**
 * The command line is unusable: a bad queue, a module that cannot be loaded or exports no
 * handler layer.
 *
 * @example
 * ```ts
 * import * as WorkerCli from "@effect-faktory/node/WorkerCli"
 *
 * new WorkerCli.CliError({ detail: "no handler layers" }).message
 * ```
 *
 * @since 0.1.0
 * @category errors
 */
export class CliError extends Schema.TaggedError<CliError>()("CliError", { detail: Schema.String }) {
  override get message(): string {
    return this.detail
  }
}

/**
 * Reads `-q name[,weight]` flags: plain names keep strict priority order; if any carries a
 * weight, all are weighted (a missing weight counts 1).
 *
 * @example
 * ```ts
 * import * as WorkerCli from "@effect-faktory/node/WorkerCli"
 *
 * WorkerCli.parseQueues(["critical", "default"]) // Either.right(["critical", "default"])
 * WorkerCli.parseQueues(["critical,3", "default"]) // Either.right({ critical: 3, default: 1 })
 * ```
 *
 * @since 0.1.0
 * @category parsing
 */
export const parseQueues = (flags: ReadonlyArray<string>): Effect.Effect<Worker.Queues, CliError> => {
  if (flags.length === 0) return Effect.succeed(["default"])
  const parsed: Array<[string, number | undefined]> = []
  for (const flag of flags) {
    const [name = "", weight, ...extra] = flag.split(",")
    if (!/^[a-zA-Z0-9._-]+$/.test(name) || extra.length > 0) {
      return Effect.fail(new CliError({ detail: `--queue ${JSON.stringify(shownArgument(flag))}: expected name or name,weight` }))
    }
    if (weight !== undefined && !/^[1-9][0-9]*$/.test(weight)) {
      return Effect.fail(new CliError({ detail: `--queue ${JSON.stringify(shownArgument(flag))}: the weight must be a positive integer` }))
    }
    if (parsed.some(([seen]) => seen === name)) {
      return Effect.fail(new CliError({ detail: `--queue ${JSON.stringify(name)} is given twice` }))
    }
    parsed.push([name, weight === undefined ? undefined : Number(weight)])
  }
  if (parsed.every(([, weight]) => weight === undefined)) return Effect.succeed(parsed.map(([name]) => name))
  return Effect.succeed(Object.fromEntries(parsed.map(([name, weight]) => [name, weight ?? 1])))
}

/**
 * A module's export that is a layer. Modules loaded at run time are outside the type system:
 * their layers must provide whatever their handlers need (a missing service fails the worker's
 * start with "Service not found").
 */
const isSelfContainedLayer = (value: unknown): value is Layer.Layer<never, unknown, never> => Layer.isLayer(value)

/**
 * Why a module did not load, in one line that says where: the first frame of the stack in a
 * file of the user's (a module imported by the one named may be the culprit). Node keeps a
 * syntax error's position out of the error's stack, so for those the line says how to see it.
 */
const describeLoadFailure = (cause: unknown, module: string): string => {
  const text = String(cause)
  if (!(cause instanceof Error)) return text
  // An ES module's frames are file: URLs, a CommonJS module's absolute paths; Node's own
  // (`node:internal/…`) are neither.
  const frame = (cause.stack ?? "").split("\n").slice(1)
    .map((line) => /(?:^\s*at |\()(file:\/\/[^\s()]+|\/[^\s()]+:\d+:\d+)\)?$/.exec(line)?.[1])
    .find((location) => location !== undefined)
  if (frame !== undefined) {
    const [, file = frame, position = ""] = /^(.*?)((?::\d+)+)$/.exec(frame) ?? []
    return `${text} (at ${file.startsWith("file:") ? fileURLToPath(file) : file}${position})`
  }
  return cause.name === "SyntaxError" ? `${text} (\`node ${module}\` shows where)` : text
}

/**
 * Loads a module and returns the layers it exports (default or named).
 *
 * @example
 * ```ts
 * import * as WorkerCli from "@effect-faktory/node/WorkerCli"
 *
 * const layers = WorkerCli.loadHandlers("./dist/jobs.js")
 * ```
 *
 * @since 0.1.0
 * @category loading
 */
export const loadHandlers = (module: string) =>
  Effect.gen(function*() {
    const { exports, named } = yield* importModule("--require", module)
    const layers = Object.values(exports).filter(isSelfContainedLayer)
    if (layers.length === 0) {
      return yield* new CliError({ detail: `--require ${named}: it exports no handler layer` })
    }
    return layers
  })

/**
 * A module as `flag` names it, imported: its exports, and its name as messages may show it
 * (a URL's password left out).
 */
const importModule = (flag: string, module: string) =>
  Effect.gen(function*() {
    const scheme = /^([A-Za-z][A-Za-z0-9+.-]+):/.exec(module)?.[1]?.toLowerCase()
    if (scheme === "tcp" || scheme === "tcp+tls") {
      return yield* new CliError({
        detail: `${flag} ${FaktoryUrl.redact(module)}: expected a module, not the server's URL (that goes in -u/--url or FAKTORY_URL)`
      })
    }
    // Node loads no scheme but these; a URL of any other may hold a password too.
    const named = scheme === undefined || scheme === "file" || scheme === "node" || scheme === "data"
      ? module
      : FaktoryUrl.redact(module)
    // A path as people type it (`dist/jobs.js`, no `./`) is a file when one is there; anything
    // else is a package name, resolved as `import` would.
    const isFile = module.startsWith(".") || Path.isAbsolute(module) || Fs.existsSync(Path.resolve(module))
    const url = isFile ? pathToFileURL(Path.resolve(module)).href : module
    const loaded = yield* Effect.tryPromise({
      try: () => import(url) as Promise<Record<string, unknown>>,
      catch: (cause) => new CliError({ detail: `${flag} ${named}: cannot load it: ${describeLoadFailure(cause, named)}` })
    })
    return { exports: loaded, named }
  })

// Each flag as `--help` shows it (FlagHelp.Flag); the same text describes the flag to the parser.
const flagsDoc = {
  require: {
    name: "require",
    alias: "r",
    value: "module",
    description: "required: a module whose exports are handler layers (Job.define(...).handle(...)); repeatable"
  },
  queue: {
    name: "queue",
    alias: "q",
    value: "name[,weight]",
    description: "a queue to fetch from; repeatable; with weights, heavier queues are fetched first more often",
    fallback: "default"
  },
  concurrency: { name: "concurrency", alias: "c", value: "jobs", description: `most jobs running at once, 1 to ${Worker.MAX_CONCURRENCY} (each holds a connection)`, fallback: "20" },
  timeout: {
    name: "timeout",
    alias: "t",
    value: "seconds",
    description: "how long a shutdown waits for running jobs before it FAILs them",
    fallback: "25"
  },
  label: { name: "label", alias: "l", value: "label", description: "a label shown in the Web UI; repeatable" },
  url: {
    name: "url",
    alias: "u",
    value: "url",
    description: "the server, tcp://[:password@]host:port or tcp+tls://... (a password given here shows in ps: set FAKTORY_URL instead)",
    fallback: "$FAKTORY_PROVIDER or $FAKTORY_URL, else tcp://localhost:7419"
  },
  logFormat: {
    name: "log-format",
    value: "json|pretty",
    description: "json: one JSON object a line, for production; pretty: for people (coloured on a terminal unless NO_COLOR is set)",
    fallback: "$FAKTORY_LOG_FORMAT, else pretty"
  },
  startTimeout: {
    name: "start-timeout",
    value: "duration",
    description: "how long start may wait for the server (30s, 2m, 500ms; a bare number is seconds) before it fails, " +
      "saying why: refused, not a Faktory server (give more than the 10 s one connection attempt may take)",
    fallback: "no limit: retry for ever"
  },
  healthPort: {
    name: "health-port",
    value: "port",
    description: "serve health probes over HTTP on this port: GET /ready (200 while running and connected) and " +
      "GET /alive (200 unless stuck); the port is bound before the worker connects",
    fallback: "no probes"
  },
  healthHost: { name: "health-host", value: "host", description: "the address the probes listen on", fallback: "every interface" },
  healthStuckAfter: {
    name: "stuck-after",
    value: "duration",
    description: "with --health-port: /alive answers 503 once no processor has made progress (fetched, or finished a job) for this long " +
      "while jobs wait in its queues; set it above your longest job",
    fallback: "30m"
  },
  verbose: { name: "verbose", alias: "v", description: "log debug lines too" },
  help: { name: "help", alias: "h", description: "show this help" },
  version: { name: "version", description: "show the version" }
} satisfies Record<string, Flag>

const VERSION = "0.1.0"

/**
 * What `faktory-worker --help` prints: every flag with what it does and its default, plain
 * text (no colour), as wide as a terminal's 100 columns.
 *
 * @example
 * ```ts
 * import * as WorkerCli from "@effect-faktory/node/WorkerCli"
 *
 * console.log(WorkerCli.helpText)
 * ```
 *
 * @since 0.2.0
 * @category commands
 */
export const helpText: string = (() => {
  const rows = FlagHelp.rows(Object.values(flagsDoc))
  return [
    `faktory-worker ${VERSION}: runs a Faktory worker for the handler layers that the required modules export.`,
    "",
    "Usage: faktory-worker -r <module> [-r <module>...] [options]",
    "       faktory-worker contracts -r <module>... | --definitions <module>... [--format jsonschema|asyncapi] [--draft 2020-12|07]",
    "                                [--out <file>] [--check <file>|-]",
    "",
    "Options:",
    ...rows,
    "",
    "Commands:",
    "  contracts   the jobs' contracts (JSON Schema, AsyncAPI 3) for producers in other languages, or which jobs of a file",
    "              the worker would refuse (--check); connects to no server (faktory-worker contracts --help)",
    "",
    "Signals: SIGTSTP quiets the worker (no more fetching; running jobs finish); SIGTERM or SIGINT",
    "stops it, waiting up to --timeout for running jobs; a second SIGINT stops it at once, FAILing them.",
    "",
    "Example: faktory-worker -r ./dist/jobs.js -q critical,3 -q default,1 -c 20 -t 25 -l billing",
    ""
  ].join("\n")
})()

const wholeNumber = (flag: Flag, value: string, least: number, most?: number): Effect.Effect<number, CliError> =>
  /^[0-9]+$/.test(value.trim()) && Number(value) >= least && (most === undefined || Number(value) <= most)
    ? Effect.succeed(Number(value))
    : Effect.fail(
      new CliError({
        detail: `--${flag.name} ${JSON.stringify(shownArgument(value))}: expected a whole number ${
          most === undefined ? `of at least ${least}` : `from ${least} to ${most}`
        }`
      })
    )

/**
 * A duration as people type it on a command line: `30s`, `2m`, `500ms`, `1h`, or a bare
 * number of seconds (as `--timeout` takes them).
 */
const duration = (flag: Flag, value: string): Effect.Effect<Duration.Duration, CliError> => {
  const match = /^([0-9]+(?:\.[0-9]+)?)\s*(ms|s|m|h)?$/.exec(value.trim())
  const amount = match === null ? Number.NaN : Number(match[1])
  const unit = match?.[2] ?? "s"
  const millis = amount * (unit === "ms" ? 1 : unit === "s" ? 1000 : unit === "m" ? 60_000 : 3_600_000)
  return Number.isFinite(millis) && millis > 0
    ? Effect.succeed(Duration.millis(millis))
    : Effect.fail(
      new CliError({
        detail: `--${flag.name} ${JSON.stringify(shownArgument(value))}: expected a duration above 0 such as 30s, 2m or 500ms`
      })
    )
}

/** The flags as read from the command line, before their values are checked. */
interface Flags {
  readonly require: ReadonlyArray<string>
  readonly queue: ReadonlyArray<string>
  readonly concurrency: Option.Option<string>
  readonly timeout: Option.Option<string>
  readonly label: ReadonlyArray<string>
  readonly url: Option.Option<string>
  readonly logFormat: Option.Option<string>
  readonly startTimeout: Option.Option<string>
  readonly healthPort: Option.Option<string>
  readonly healthHost: Option.Option<string>
  readonly healthStuckAfter: Option.Option<string>
  readonly verbose: boolean
}

/** The log format the flags (else FAKTORY_LOG_FORMAT) name. */
const formatOf = (flags: Pick<Flags, "logFormat">): Effect.Effect<NodeWorker.LogFormat, NodeWorker.LogFormatError> =>
  Option.match(flags.logFormat, {
    onNone: () => NodeWorker.logFormatFromEnv,
    onSome: (value) => NodeWorker.parseLogFormat(value, "--log-format")
  })

/**
 * The probes, when --health-port asks for them, around the worker's layer. Their module is
 * loaded only then: a worker without probes never loads the HTTP server's modules.
 */
const withProbes = <E>(flags: Flags, workerLayer: Layer.Layer<Worker.Worker, E>) =>
  Effect.gen(function*() {
    if (Option.isNone(flags.healthPort)) {
      if (Option.isSome(flags.healthHost) || Option.isSome(flags.healthStuckAfter)) {
        const given = Option.isSome(flags.healthHost) ? flagsDoc.healthHost : flagsDoc.healthStuckAfter
        return yield* new CliError({ detail: `--${given.name} needs --health-port: it configures the health probes` })
      }
      return workerLayer
    }
    const port = yield* wholeNumber(flagsDoc.healthPort, flags.healthPort.value, 1, 65535)
    const host = Option.getOrUndefined(flags.healthHost)
    if (host !== undefined && isUrlLike(host)) {
      return yield* new CliError({ detail: `--health-host ${FaktoryUrl.redact(host)}: expected a host name or an address, not a URL` })
    }
    const stuckAfter = Option.isSome(flags.healthStuckAfter)
      ? yield* duration(flagsDoc.healthStuckAfter, flags.healthStuckAfter.value)
      : undefined
    const WorkerProbes = yield* Effect.promise(() => import("./WorkerProbes.js"))
    return WorkerProbes.serve({ port, host, stuckAfter })(workerLayer)
  })

/** Runs the worker for flags already read, logging in `format`. */
const runWorker = (flags: Flags, format: NodeWorker.LogFormat) =>
  Effect.gen(function*() {
    yield* Effect.gen(function*() {
      if (flags.require.length === 0) {
        return yield* new CliError({ detail: "name at least one module of handlers with -r/--require (see --help)" })
      }
      const concurrency = Option.isSome(flags.concurrency) ? yield* wholeNumber(flagsDoc.concurrency, flags.concurrency.value, 1, Worker.MAX_CONCURRENCY) : 20
      const timeout = Option.isSome(flags.timeout) ? yield* wholeNumber(flagsDoc.timeout, flags.timeout.value, 0) : 25
      const queues = yield* parseQueues(flags.queue)
      // A label goes to the server and into every start line: a URL given here (-l for -u)
      // would show its password there. "region:eu" is a label; "tcp://…" or ":pw@" is not.
      const urlLabel = flags.label.find(isUrlLike)
      if (urlLabel !== undefined) {
        return yield* new CliError({
          detail: `-l ${FaktoryUrl.redact(urlLabel)}: expected a label, not a URL (the server's goes in -u/--url or FAKTORY_URL)`
        })
      }
      const handlers = (yield* Effect.forEach(flags.require, loadHandlers)).flat()
      // Startup checks: the handler layers are built before the worker connects; a missing
      // service or no handler at all fails the start, before any job is fetched.
      const built = yield* Effect.mapError(HandlerLayers.build(handlers), (detail) => new CliError({ detail }))
      const startTimeout = Option.isSome(flags.startTimeout)
        ? yield* duration(flagsDoc.startTimeout, flags.startTimeout.value)
        : undefined
      const workerLayer = NodeWorker.layer({
        queues,
        concurrency,
        shutdownTimeout: `${timeout} seconds`,
        labels: flags.label,
        startTimeout,
        ...(Option.isSome(flags.url) ? { client: { url: flags.url.value } } : {})
      }).pipe(Layer.provide(Layer.succeedContext(built)))
      yield* NodeWorker.run(yield* withProbes(flags, workerLayer))
    }).pipe(
      Effect.scoped,
      Logger.withMinimumLogLevel(flags.verbose ? LogLevel.Debug : LogLevel.Info),
      NodeWorker.withLogFormat(format)
    )
  })

const needsValue = (arg: string, value: string) => `${arg} needs a value: ${arg} <${value}>`

/** The flags `util.parseArgs` is told of: each by its long name, with its alias. */
const parseOptions = Object.fromEntries(
  Object.values<Flag>(flagsDoc).map((flag) => [
    flag.name,
    { type: flag.value === undefined ? "boolean" as const : "string" as const, multiple: true, ...(flag.alias === undefined ? {} : { short: flag.alias }) }
  ])
)

/** The flags that take one value: given twice, the second is refused. */
const single = new Set<string>([
  flagsDoc.concurrency.name,
  flagsDoc.timeout.name,
  flagsDoc.url.name,
  flagsDoc.logFormat.name,
  flagsDoc.startTimeout.name,
  flagsDoc.healthPort.name,
  flagsDoc.healthHost.name,
  flagsDoc.healthStuckAfter.name
])

/**
 * Reads the worker's command line (the arguments after the script) with Node's
 * `util.parseArgs`: the flags, or the one line that says why they cannot be used. A flag's
 * value goes after it (`-q mail`) or, for a long name, after `=` (`--queue=mail`); a short
 * flag glued to a value or to another flag (`-qmail`, `-q=mail`, `-vq`) is an unknown
 * argument, as is anything that is not a flag: a URL typed there still holds its password, and is shown redacted.
 *
 * @example
 * ```ts
 * import * as WorkerCli from "@effect-faktory/node/WorkerCli"
 *
 * WorkerCli.parseCommandLine(["-r", "./dist/jobs.js", "-q", "critical,3", "-c", "5"])
 * // Either.right({ require: ["./dist/jobs.js"], queue: ["critical,3"], concurrency: Option.some("5"), … })
 * WorkerCli.parseCommandLine(["-r", "./dist/jobs.js", "-c"]) // Either.left("-c needs a value: -c <jobs>")
 * ```
 *
 * @since 0.2.0
 * @category parsing
 */
export const parseCommandLine = (args: ReadonlyArray<string>): Either.Either<Flags, string> => {
  const { tokens } = parseArgs({ args: [...args], options: parseOptions, strict: false, allowPositionals: true, tokens: true })
  const values: Record<string, Array<string>> = {}
  let verbose = false
  let terminated = false
  for (const token of tokens) {
    if (token.kind === "option-terminator") {
      terminated = true
      continue
    }
    const raw = args[token.index] ?? ""
    if (token.kind === "positional" || terminated) {
      const hint = /^tcp(\+tls)?:/i.test(raw) ? ": the server's URL goes after -u/--url" : ""
      return Either.left(`unknown argument ${JSON.stringify(shownArgument(raw))}${hint}`)
    }
    const flag = Object.values<Flag>(flagsDoc).find((known) => known.name === token.name)
    // A short flag must stand alone: `-qmail`, `-q=mail` and `-vq` are not read as flags.
    const glued = !token.rawName.startsWith("--") && raw !== token.rawName
    if (flag === undefined || glued || (flag.value === undefined && token.value !== undefined)) {
      return Either.left(`unknown argument ${JSON.stringify(shownArgument(raw))}`)
    }
    if (flag.value === undefined) {
      verbose ||= flag.name === flagsDoc.verbose.name
      continue
    }
    if (token.value === undefined || token.value.trim() === "") return Either.left(needsValue(token.rawName, flag.value))
    const seen = (values[flag.name] ??= [])
    if (single.has(flag.name) && seen.length > 0) return Either.left(`${token.rawName} is given more than once`)
    seen.push(token.value)
  }
  const many = (flag: Flag): ReadonlyArray<string> => values[flag.name] ?? []
  const one = (flag: Flag): Option.Option<string> => Option.fromNullable(values[flag.name]?.[0])
  return Either.right({
    require: many(flagsDoc.require),
    queue: many(flagsDoc.queue),
    concurrency: one(flagsDoc.concurrency),
    timeout: one(flagsDoc.timeout),
    label: many(flagsDoc.label),
    url: one(flagsDoc.url),
    logFormat: one(flagsDoc.logFormat),
    startTimeout: one(flagsDoc.startTimeout),
    healthPort: one(flagsDoc.healthPort),
    healthHost: one(flagsDoc.healthHost),
    healthStuckAfter: one(flagsDoc.healthStuckAfter),
    verbose
  })
}

/**
 * The log format the command line names, read before the rest of it: a bad flag elsewhere is
 * then reported in that format. The first `--log-format` counts (a second is refused later, in
 * the first one's format); without one, FAKTORY_LOG_FORMAT; else pretty.
 */
const logFormatOfArgs = (args: ReadonlyArray<string>): Effect.Effect<NodeWorker.LogFormat, NodeWorker.LogFormatError> => {
  const { tokens } = parseArgs({ args: [...args], options: parseOptions, strict: false, allowPositionals: true, tokens: true })
  const given = tokens.find((token) => token.kind === "option" && token.name === flagsDoc.logFormat.name && token.value !== undefined)
  return formatOf({ logFormat: Option.fromNullable(given?.kind === "option" ? given.value : undefined) })
}

/**
 * Reads the arguments after the script and runs the worker, failing with a `CliError` for a
 * command line it cannot use. `main` is the binary's whole program: it also says why, on
 * stderr, and answers `--help`, `--version` and `contracts`.
 *
 * @example
 * ```ts
 * import * as WorkerCli from "@effect-faktory/node/WorkerCli"
 *
 * const worker = WorkerCli.run(["-r", "./dist/jobs.js", "-q", "critical,3", "-q", "default"])
 * ```
 *
 * @since 0.1.0
 * @category commands
 */
export const run = (args: ReadonlyArray<string>) =>
  Effect.flatMap(
    Either.mapLeft(parseCommandLine(args), (line) => new CliError({ detail: `${line} (see faktory-worker --help)` })),
    (flags) => Effect.flatMap(formatOf(flags), (format) => runWorker(flags, format))
  )

const hasMessage = (error: unknown): error is { readonly message: string } =>
  typeof error === "object" && error !== null && "message" in error && typeof error.message === "string"

const fail = (line: string) =>
  Effect.zipRight(
    Effect.sync(() => process.stderr.write(`faktory-worker: ${ControlCharacters.escape(line)}\n`)),
    Effect.fail(new CliError({ detail: line }))
  )

/**
 * Says why the command failed, in the log format: pretty, one plain line on stderr; json, one
 * ERROR record on stdout in the shape of every other line (a collector parsing JSON would
 * drop a plain one), its error's tag annotated.
 */
const report = (format: NodeWorker.LogFormat, line: string, tag?: string) =>
  format === "json"
    ? Effect.logError(line).pipe(
      Effect.annotateLogs(tag === undefined ? {} : { error: tag }),
      NodeWorker.withLogFormat("json")
    )
    : Effect.sync(() => void process.stderr.write(`faktory-worker: ${ControlCharacters.escape(line)}\n`))

const tagOf = (error: unknown): string | undefined =>
  typeof error === "object" && error !== null && "_tag" in error && typeof error._tag === "string" ? error._tag : undefined

/**
 * Runs the command and says why it failed in one line on stderr, with no stack trace: a
 * refused password, a bad flag, a module that does not load. `--help` prints `helpText`;
 * defects keep their full cause. The program still fails, so the process exits non-zero.
 * `contracts` as the first argument runs that command instead (its own `--help`).
 *
 * @example
 * ```ts
 * import { NodeRuntime } from "@effect/platform-node"
 * import * as WorkerCli from "@effect-faktory/node/WorkerCli"
 *
 * // What the faktory-worker binary runs.
 * export const main = () => NodeRuntime.runMain(WorkerCli.main(process.argv), { disableErrorReporting: true })
 * ```
 *
 * @since 0.2.0
 * @category commands
 */
export const main = (rawArgv: ReadonlyArray<string>) =>
  Effect.gen(function*() {
    if (rawArgv[2] === "contracts") {
      // Loaded only for this command: contracts need effect's JSON Schema modules, which a
      // worker never does.
      const ContractsCommand = yield* Effect.promise(() => import("./internal/contractsCommand.js"))
      return yield* ContractsCommand.run(rawArgv.slice(3), {
        handlers: loadHandlers,
        exports: (module) => importModule("--definitions", module)
      }).pipe(
        Effect.scoped,
        Effect.catchAll((error) => fail(typeof error === "string" ? error : error.message)),
        Effect.tapErrorCause(reportDefect)
      )
    }
    const args = rawArgv.slice(2)
    if (args.includes("--help") || args.includes("-h")) {
      return yield* Effect.sync(() => void process.stdout.write(helpText))
    }
    if (args.length === 1 && args[0] === "--version") {
      return yield* Effect.sync(() => void process.stdout.write(`${VERSION}\n`))
    }
    // The format first: every line after this one follows it. An unknown format is said in
    // plain text, since the format asked for is unknown.
    const format = yield* Effect.either(logFormatOfArgs(args))
    if (Either.isLeft(format)) return yield* fail(format.left.message)
    const flags = parseCommandLine(args)
    if (Either.isLeft(flags)) {
      const line = `${flags.left} (see faktory-worker --help)`
      return yield* Effect.zipRight(report(format.right, line, "CliError"), Effect.fail(new CliError({ detail: line })))
    }
    yield* runWorker(flags.right, format.right).pipe(
      Effect.tapErrorCause((cause) => {
        if (Cause.isInterruptedOnly(cause)) return Effect.void
        const failure = Cause.failureOption(cause)
        if (Option.isNone(failure)) {
          return format.right === "json"
            ? Effect.logError("a defect", cause).pipe(NodeWorker.withLogFormat("json"))
            : Effect.sync(() => writeDefect(cause))
        }
        const reason = hasMessage(failure.value) ? failure.value.message : String(failure.value)
        // Its first line: an uncaught exception's message may come from a job, line breaks and all.
        return report(format.right, reason.split("\n")[0] ?? "", tagOf(failure.value))
      })
    )
  })

/** A defect in full, its lines after the first indented, as in the pretty log format. */
const writeDefect = (cause: Cause.Cause<unknown>) => {
  process.stderr.write(`faktory-worker: ${ControlCharacters.escapeLines(Cause.pretty(cause)).join("\n  ")}\n`)
}

/** Says a defect; failures have said themselves. */
const reportDefect = (cause: Cause.Cause<unknown>) =>
  Effect.sync(() => {
    if (!Cause.isInterruptedOnly(cause) && Option.isNone(Cause.failureOption(cause))) writeDefect(cause)
  })
