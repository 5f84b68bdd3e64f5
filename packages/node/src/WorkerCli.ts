/**
 * The `faktory-worker` command: load modules that export handler layers, and run a worker
 * for them, as the Ruby gem's `faktory-worker` does.
 *
 * ```
 * faktory-worker -r ./dist/jobs.js -q critical,3 -q default,1 -c 20 -t 25 -l billing
 * ```
 *
 * @since 0.1.0
 */
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import * as ValidationError from "@effect/cli/ValidationError"
import { type Worker } from "@effect-faktory/core"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import * as Path from "node:path"
import { pathToFileURL } from "node:url"
import * as HandlerLayers from "./internal/handlerLayers.js"
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
      return Effect.fail(new CliError({ detail: `--queue ${JSON.stringify(flag)}: expected name or name,weight` }))
    }
    if (weight !== undefined && !/^[1-9][0-9]*$/.test(weight)) {
      return Effect.fail(new CliError({ detail: `--queue ${JSON.stringify(flag)}: the weight must be a positive integer` }))
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
    const url = module.startsWith(".") || Path.isAbsolute(module) ? pathToFileURL(Path.resolve(module)).href : module
    const loaded = yield* Effect.tryPromise({
      try: () => import(url) as Promise<Record<string, unknown>>,
      catch: (cause) => new CliError({ detail: `--require ${module}: cannot load it: ${String(cause)}` })
    })
    const layers = Object.values(loaded).filter(isSelfContainedLayer)
    if (layers.length === 0) {
      return yield* new CliError({ detail: `--require ${module}: it exports no handler layer` })
    }
    return layers
  })

const require = Options.text("require").pipe(
  Options.withAlias("r"),
  Options.withDescription("a module whose exports are handler layers (Job.define(…).handle(…)); repeatable"),
  Options.repeated
)
const queue = Options.text("queue").pipe(
  Options.withAlias("q"),
  Options.withDescription("a queue to fetch from, as name or name,weight; repeatable; default: default"),
  Options.repeated
)
const concurrency = Options.integer("concurrency").pipe(
  Options.withAlias("c"),
  Options.withDescription("most jobs running at once"),
  Options.withDefault(20)
)
const timeout = Options.integer("timeout").pipe(
  Options.withAlias("t"),
  Options.withDescription("seconds to wait for running jobs on shutdown"),
  Options.withDefault(25)
)
const label = Options.text("label").pipe(
  Options.withAlias("l"),
  Options.withDescription("a label shown in the Web UI; repeatable"),
  Options.repeated
)
const url = Options.text("url").pipe(
  Options.withAlias("u"),
  Options.withDescription("the server, tcp://[:password@]host:port; default: FAKTORY_PROVIDER/FAKTORY_URL"),
  Options.optional
)
const verbose = Options.boolean("verbose").pipe(Options.withAlias("v"), Options.withDescription("log debug lines"))

/**
 * The command.
 *
 * @since 0.1.0
 * @category commands
 */
export const command = Command.make(
  "faktory-worker",
  { require, queue, concurrency, timeout, label, url, verbose },
  (flags) =>
    Effect.gen(function*() {
      if (flags.require.length === 0) {
        return yield* new CliError({ detail: "name at least one module of handlers with -r/--require" })
      }
      if (flags.concurrency < 1) return yield* new CliError({ detail: "--concurrency must be at least 1" })
      if (flags.timeout < 0) return yield* new CliError({ detail: "--timeout must not be negative" })
      const queues = yield* parseQueues(flags.queue)
      const handlers = (yield* Effect.forEach(flags.require, loadHandlers)).flat()
      // Startup checks: the handler layers are built before the worker connects; a missing
      // service or no handler at all fails the start, before any job is fetched.
      const built = yield* Effect.mapError(HandlerLayers.build(handlers), (detail) => new CliError({ detail }))
      const workerLayer = NodeWorker.layer({
        queues,
        concurrency: flags.concurrency,
        shutdownTimeout: `${flags.timeout} seconds`,
        labels: flags.label,
        ...(Option.isSome(flags.url) ? { client: { url: flags.url.value } } : {})
      }).pipe(Layer.provide(Layer.succeedContext(built)))
      yield* NodeWorker.run(workerLayer)
    }).pipe(Effect.scoped, Logger.withMinimumLogLevel(flags.verbose ? LogLevel.Debug : LogLevel.Info))
).pipe(Command.withDescription("Runs a Faktory worker for the handler layers that the required modules export."))

/**
 * Parses `argv` and runs the command.
 *
 * @example
 * ```ts
 * import { NodeContext, NodeRuntime } from "@effect/platform-node"
 * import { Effect } from "effect"
 * import * as WorkerCli from "@effect-faktory/node/WorkerCli"
 *
 * WorkerCli.run(process.argv).pipe(Effect.provide(NodeContext.layer), NodeRuntime.runMain)
 * ```
 *
 * @since 0.1.0
 * @category commands
 */
export const run = Command.run(command, { name: "faktory-worker", version: "0.1.0" })

const hasMessage = (error: unknown): error is { readonly message: string } =>
  typeof error === "object" && error !== null && "message" in error && typeof error.message === "string"

/**
 * Runs the command and says why it failed in one line on stderr: a refused password, a bad
 * flag, a module that does not load. Usage errors are printed by the parser itself; defects
 * keep their full cause. The program still fails, so the process exits non-zero.
 *
 * @example
 * ```ts
 * import { NodeContext, NodeRuntime } from "@effect/platform-node"
 * import { Effect } from "effect"
 * import * as WorkerCli from "@effect-faktory/node/WorkerCli"
 *
 * WorkerCli.main(process.argv).pipe(Effect.provide(NodeContext.layer), (program) =>
 *   NodeRuntime.runMain(program, { disableErrorReporting: true }))
 * ```
 *
 * @since 0.2.0
 * @category commands
 */
export const main = (argv: ReadonlyArray<string>) =>
  run(argv).pipe(
    Effect.tapErrorCause((cause) =>
      Effect.sync(() => {
        if (Cause.isInterruptedOnly(cause)) return
        const failure = Cause.failureOption(cause)
        if (Option.isNone(failure)) {
          process.stderr.write(`faktory-worker: ${Cause.pretty(cause)}\n`)
          return
        }
        // @effect/cli has printed its usage errors already.
        if (ValidationError.isValidationError(failure.value)) return
        const reason = hasMessage(failure.value) ? failure.value.message : String(failure.value)
        process.stderr.write(`faktory-worker: ${reason.split("\n")[0]}\n`)
      })
    )
  )
