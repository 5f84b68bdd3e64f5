/**
 * Running a worker as a Node process: the worker layer with this host's identity and memory
 * figures, and `runMain`, which maps signals onto Faktory's lifecycle:
 *
 * - SIGTSTP: quiet (stop fetching, finish running jobs);
 * - SIGTERM or SIGINT: terminate (stop fetching, wait up to the shutdown timeout, FAIL what is
 *   left, END); a second SIGINT stops at once;
 * - an uncaught exception (thrown from a timer or an event handler, outside any fiber): logged
 *   at ERROR with its stack, then terminate as for SIGTERM, and exit 1;
 * - an unhandled promise rejection (a promise nobody awaited): logged at ERROR; the worker
 *   carries on. The line names no job: Node runs the handler in the async context where the
 *   promise was made, but a fiber's steps run in the context of whatever resumed it (another
 *   job completing a Deferred, say), so a jid kept there would sometimes be another job's.
 *
 * Logs are pretty (coloured only on a terminal, and never when `NO_COLOR` is set) or one JSON
 * object a line, for production: `runMain(layer, { logFormat: "json" })` or
 * `FAKTORY_LOG_FORMAT=json`.
 *
 * @since 0.1.0
 */
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import type * as Worker from "@effect-faktory/core/Worker"
import * as Cause from "effect/Cause"
import * as Config from "effect/Config"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as FiberRef from "effect/FiberRef"
import * as HashSet from "effect/HashSet"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as Option from "effect/Option"
import * as Runtime from "effect/Runtime"
import * as Schema from "effect/Schema"
import * as Os from "node:os"
import * as ControlCharacters from "./internal/controlCharacters.js"
import * as LogOutput from "./internal/logOutput.js"
import * as PrettyLog from "./internal/prettyLog.js"
import { shownArgument } from "./internal/shownArgument.js"
import * as NodeTransport from "./NodeTransport.js"

/**
 * The worker's own modules (its processors, the job runner, the lifecycle), loaded when a
 * worker is first built rather than with this module: a program that imports
 * `@effect-faktory/node` to push never loads them. A literal `import()`, which bundlers
 * follow and include.
 */
const WorkerModule = Effect.promise(() => import("@effect-faktory/core/Worker"))

/**
 * Resident memory of this process in KB, as heartbeats report it.
 *
 * @example
 * ```ts
 * import { NodeWorker } from "@effect-faktory/node"
 *
 * NodeWorker.rssKb() // 61440
 * ```
 *
 * @since 0.1.0
 * @category memory
 */
export const rssKb = (): number => Math.round(process.memoryUsage.rss() / 1024)

/**
 * A worker layer over Node sockets, identified by this host name and pid, reporting RSS.
 * Provide the handler layers to it. For several pools in one process, merge several, each
 * with its `pool` name, queues and concurrency (see `Worker.layer`).
 *
 * @example
 * ```ts
 * import { Effect, Layer, Schema } from "effect"
 * import { Job } from "@effect-faktory/core"
 * import { NodeWorker } from "@effect-faktory/node"
 *
 * const Ping = Job.define("Ping", { args: Schema.Tuple(Schema.String) })
 * const WorkerLive = NodeWorker.layer({ queues: ["default"] }).pipe(
 *   Layer.provide(Ping.handle(([who]) => Effect.log(`pong ${who}`)))
 * )
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (options: Worker.WorkerOptions = {}): Layer.Layer<Worker.Worker | Worker.Pools, Worker.StartError> =>
  Layer.unwrapEffect(Effect.map(WorkerModule, (Worker) =>
    Worker.layer({ hostname: Os.hostname(), pid: process.pid, rssKb, ...options }).pipe(
      Layer.provide(NodeTransport.layer)
    )))

/**
 * `layer` with its options from `Config` (see `Worker.layerConfig`): this host's identity and
 * memory figures, over Node sockets.
 *
 * @example
 * ```ts
 * import { Config } from "effect"
 * import { Worker } from "@effect-faktory/core"
 * import { NodeWorker } from "@effect-faktory/node"
 *
 * const WorkerLive = NodeWorker.layerConfig({
 *   queues: Worker.queuesConfig("WORKER_QUEUES"),
 *   concurrency: Config.integer("WORKER_CONCURRENCY").pipe(Config.withDefault(20))
 * })
 * ```
 *
 * @since 0.2.0
 * @category layers
 */
export const layerConfig = (
  config: Config.Config.Wrap<Worker.WorkerOptions>
): Layer.Layer<Worker.Worker | Worker.Pools, Worker.StartError> =>
  Layer.unwrapEffect(
    Effect.map(Config.unwrap(config), (options) => layer(options))
  )

/**
 * How the worker's log lines are written: `pretty` (for people) or `json` (one object a line,
 * with level, message, annotations such as jid and jobtype, spans and timestamp).
 *
 * @since 0.2.0
 * @category logging
 */
export type LogFormat = "pretty" | "json"

/**
 * A log format named by a flag or the environment is neither `json` nor `pretty`. `value` is
 * what was given, with `<redacted>` where it may hold a password (a URL given to the wrong
 * flag or variable: see `FaktoryUrl.redact`).
 *
 * @example
 * ```ts
 * import { NodeWorker } from "@effect-faktory/node"
 *
 * new NodeWorker.LogFormatError({ source: "FAKTORY_LOG_FORMAT", value: "xml" }).message
 * // FAKTORY_LOG_FORMAT "xml": expected json or pretty
 * ```
 *
 * @since 0.2.0
 * @category errors
 */
export class LogFormatError extends Schema.TaggedError<LogFormatError>()("LogFormatError", {
  source: Schema.String,
  value: Schema.String
}) {
  override get message(): string {
    return `${this.source} ${JSON.stringify(this.value)}: expected json or pretty`
  }
}

/**
 * Reads a log format: `json` or `pretty`, in any case.
 *
 * @example
 * ```ts
 * import { NodeWorker } from "@effect-faktory/node"
 *
 * NodeWorker.parseLogFormat("JSON", "--log-format") // Either.right("json")
 * ```
 *
 * @since 0.2.0
 * @category logging
 */
export const parseLogFormat = (value: string, source: string): Either.Either<LogFormat, LogFormatError> => {
  const normalized = value.trim().toLowerCase()
  return normalized === "json" || normalized === "pretty"
    ? Either.right(normalized)
    : Either.left(new LogFormatError({ source, value: shownArgument(value) }))
}

/**
 * The log format `FAKTORY_LOG_FORMAT` names; `pretty` when it is unset or empty.
 *
 * @example
 * ```ts
 * import { NodeWorker } from "@effect-faktory/node"
 *
 * const format = NodeWorker.logFormatFromEnv // Effect: "pretty" unless FAKTORY_LOG_FORMAT says json
 * ```
 *
 * @since 0.2.0
 * @category logging
 */
export const logFormatFromEnv: Effect.Effect<LogFormat, LogFormatError> = Effect.suspend(() => {
  const value = process.env.FAKTORY_LOG_FORMAT
  return value === undefined || value.trim() === "" ? Effect.succeed("pretty") : parseLogFormat(value, "FAKTORY_LOG_FORMAT")
})

/**
 * Whether pretty logs are coloured: only when standard output is a terminal and `NO_COLOR` is
 * unset or empty (https://no-color.org).
 *
 * @example
 * ```ts
 * import { NodeWorker } from "@effect-faktory/node"
 *
 * NodeWorker.colorEnabled() // false when piped to a file
 * ```
 *
 * @since 0.2.0
 * @category logging
 */
export const colorEnabled = (): boolean => process.stdout.isTTY === true && (process.env.NO_COLOR ?? "") === ""

/**
 * Runs `effect` with one logger in the given format, written to standard output, in place of
 * Effect's default logger and of the pretty one `NodeRuntime.runMain` installs (providing
 * `Logger.json` alongside that one printed every line twice, pretty and JSON).
 *
 * Both formats escape control characters (line breaks, ESC, C1, U+2028…) in what they write,
 * as JSON does: a jid, jobtype or message from another producer's job stays on its record's
 * line and cannot pass for a record of its own or reach a terminal as an escape sequence. In
 * `pretty`, a record's first line starts at column 0 and everything after it (a Cause, its
 * stack, annotations) is indented.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { NodeWorker } from "@effect-faktory/node"
 *
 * const program = Effect.log("hello").pipe(NodeWorker.withLogFormat("json"))
 * // {"message":["hello"],"logLevel":"INFO","timestamp":"…","annotations":{},"spans":{},"fiberId":"#1"}
 * ```
 *
 * @since 0.2.0
 * @category logging
 */
export const withLogFormat = (format: LogFormat) => <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  Effect.locallyWith(effect, FiberRef.currentLoggers, (loggers) =>
    loggers.pipe(
      HashSet.remove(Logger.defaultLogger),
      HashSet.remove(Logger.prettyLoggerDefault),
      HashSet.add(
        Logger.withConsoleLog(
          format === "json"
            ? Logger.map(Logger.jsonLogger, ControlCharacters.escapeJson)
            : PrettyLog.make({ colors: colorEnabled() })
        )
      )
    ))

/**
 * What `runMain` can be told.
 *
 * @since 0.2.0
 * @category running
 */
export interface RunMainOptions {
  /** `pretty` or `json`. Default: `FAKTORY_LOG_FORMAT`, else `pretty`. */
  readonly logFormat?: LogFormat | undefined
}

/**
 * Runs a worker until it stops: on a terminate from the server, SIGTERM or SIGINT. SIGTSTP
 * quiets it. The process exits when the worker has stopped and every finalizer has run. A
 * failure (the worker could not start, say) is logged in the chosen format and the process
 * exits non-zero. With several pools (`Layer.mergeAll` of `layer`s), signals act on all of
 * them, SIGTERM drains them concurrently, and the process stops when any pool stops.
 *
 * @example
 * ```ts
 * import { Effect, Layer, Schema } from "effect"
 * import { Job } from "@effect-faktory/core"
 * import { NodeWorker } from "@effect-faktory/node"
 *
 * const Ping = Job.define("Ping", { args: Schema.Tuple(Schema.String) })
 * const WorkerLive = NodeWorker.layer().pipe(Layer.provide(Ping.handle(([who]) => Effect.log(who))))
 *
 * // The entry point's one statement; the process runs until the worker stops.
 * export const main = () => NodeWorker.runMain(WorkerLive, { logFormat: "json" })
 * ```
 *
 * @since 0.1.0
 * @category running
 */
export const runMain = <E>(workerLayer: Layer.Layer<Worker.Worker, E>, options: RunMainOptions = {}): void => {
  exitOnSecondInterrupt()
  const program = Effect.gen(function*() {
    const fromEnv = yield* Effect.either(logFormatFromEnv)
    // A bad FAKTORY_LOG_FORMAT is reported in pretty lines: the format asked for is unknown.
    const format = options.logFormat ?? Either.getOrElse(fromEnv, () => "pretty" as const)
    yield* Effect.gen(function*() {
      if (options.logFormat === undefined && Either.isLeft(fromEnv)) return yield* fromEnv.left
      yield* run(workerLayer)
    }).pipe(
      // Reported here rather than by the runtime, so that the report is in the chosen format:
      // a failure as the binary says it (its message, its tag annotated, no stack trace, which
      // would only show this library's frames); a defect in full.
      Effect.tapErrorCause((cause) => {
        if (Cause.isInterruptedOnly(cause)) return Effect.void
        return Option.match(Cause.failureOption(cause), {
          onNone: () => Effect.logError("a defect", cause),
          onSome: (error) => Effect.logError(messageOf(error)).pipe(Effect.annotateLogs(tagOf(error)))
        })
      }),
      withLogFormat(format)
    )
  })
  NodeRuntime.runMain(program, { disableErrorReporting: true, disablePrettyLogger: true })
}

/** An error's message, whatever it is. */
const messageOf = (error: unknown): string =>
  typeof error === "object" && error !== null && "message" in error && typeof error.message === "string"
    ? error.message
    : String(error)

/** An error's tag as a log annotation, when it has one. */
const tagOf = (error: unknown): Record<string, string> =>
  typeof error === "object" && error !== null && "_tag" in error && typeof error._tag === "string"
    ? { error: error._tag }
    : {}

/**
 * For entry points: the runtime turns the first SIGINT into a graceful terminate; a second
 * one stops at once, as a person pressing Ctrl-C twice expects, and the process exits with
 * code 130. "At once" skips the shutdown timeout, not the reports: running jobs are
 * interrupted and FAILed as `Shutdown` (`Worker.terminateNow`), so that the server retries
 * them rather than after their reservations run out (30 minutes by default). That takes up to
 * about 2 s: FETCHes in flight are answered first, since a job one brings would otherwise stay
 * reserved too. A third SIGINT, or a server that does not answer within 5 s, exits without them.
 *
 * @example
 * ```ts
 * import { NodeWorker } from "@effect-faktory/node"
 *
 * NodeWorker.exitOnSecondInterrupt()
 * ```
 *
 * @since 0.1.0
 * @category running
 */
export const exitOnSecondInterrupt = (): void => {
  let interrupts = 0
  process.on("SIGINT", () => {
    interrupts++
    if (interrupts < 2) return
    const stopNow = terminateNow
    if (interrupts > 2 || stopNow === undefined) process.exit(130)
    // The runtime exits with 0 once the worker has stopped (it was interrupted by a signal).
    process.on("exit", (code) => {
      if (code === 0) process.exitCode = 130
    })
    setTimeout(() => process.exit(130), SECOND_INTERRUPT_LIMIT_MILLIS)
    stopNow()
  })
}

/** How long a second SIGINT waits for running jobs to be reported before the process exits. */
const SECOND_INTERRUPT_LIMIT_MILLIS = 5000

/** While a worker runs in this process (see `run`): stops it now (`Worker.terminateNow`). */
let terminateNow: (() => void) | undefined = undefined

/**
 * An exception was thrown outside any fiber (from a timer, say): the worker terminated
 * gracefully because of it, and the process exits non-zero.
 *
 * @example
 * ```ts
 * import { NodeWorker } from "@effect-faktory/node"
 *
 * new NodeWorker.UncaughtExceptionError({ detail: "TypeError: x is undefined" }).message
 * ```
 *
 * @since 0.2.0
 * @category errors
 */
export class UncaughtExceptionError extends Schema.TaggedError<UncaughtExceptionError>()("UncaughtExceptionError", {
  detail: Schema.String
}) {
  override get message(): string {
    return `terminated after an uncaught exception: ${this.detail}`
  }
}

/**
 * The process's stdout or stderr was closed by its reader (EPIPE: `| head` had its lines, a
 * log collector died): the worker terminated gracefully, since nothing it says can be read,
 * and the process exits non-zero so that a supervisor restarts it with a working output.
 *
 * @example
 * ```ts
 * import { NodeWorker } from "@effect-faktory/node"
 *
 * new NodeWorker.LogOutputClosedError({ stream: "stdout" }).message
 * ```
 *
 * @since 0.2.0
 * @category errors
 */
export class LogOutputClosedError extends Schema.TaggedError<LogOutputClosedError>()("LogOutputClosedError", {
  stream: Schema.Literal("stdout", "stderr")
}) {
  override get message(): string {
    return `the log output (${this.stream}) was closed by its reader`
  }
}

const describeThrown = (thrown: unknown): string =>
  thrown instanceof Error ? `${thrown.name}: ${thrown.message}` : String(thrown)

/**
 * The program `runMain` runs: build the worker, quiet it on SIGTSTP, wait until it stops.
 * While it runs, exceptions and rejections that escape every fiber are logged with the
 * worker's logger; an uncaught exception terminates the worker (its running jobs get the
 * shutdown window and are reported) and fails the program with `UncaughtExceptionError`.
 *
 * It logs with the loggers it is given. Under `NodeRuntime.runMain` alone that is Effect's
 * pretty logger, which writes a job's line breaks and escape sequences as they are; wrap the
 * program in `withLogFormat` (as `runMain` does) for logs that escape them.
 *
 * @example
 * ```ts
 * import { NodeRuntime } from "@effect/platform-node"
 * import { NodeWorker } from "@effect-faktory/node"
 *
 * // The entry point's one statement; the process runs until the worker stops.
 * export const main = () => NodeRuntime.runMain(NodeWorker.run(NodeWorker.layer()))
 * ```
 *
 * @since 0.1.0
 * @category running
 */
export const run = <E>(
  workerLayer: Layer.Layer<Worker.Worker, E>
): Effect.Effect<void, E | UncaughtExceptionError | LogOutputClosedError> =>
  // SIGTERM is heard until the worker has stopped, not only until shutdown begins: a runtime's
  // handler leaves after the first signal, and a second one (impatient tooling, a person) would
  // then kill the process at once, its running jobs unreported and reserved for 30 minutes.
  Effect.acquireUseRelease(
    Effect.map(Effect.runtime<never>(), (runtime) => {
      const terms: Signals = { count: 0, terminate: () => undefined, quiet: () => (terms.quietAsked = true), quietAsked: false }
      const onTerm = () => {
        terms.count++
        // Alone (no runtime handles signals): the first one terminates the worker itself.
        if (terms.count === 1) {
          if (process.listenerCount("SIGTERM") === 1) terms.terminate()
          return
        }
        Runtime.runFork(runtime)(Effect.logWarning(
          "SIGTERM again: already terminating, waiting for running jobs to be reported (SIGKILL stops at once)"
        ))
      }
      // SIGTSTP is heard from the start too: its default action suspends the process, and one
      // that came while the worker still reaches its server would leave it stopped, deaf to
      // SIGTERM. A quiet asked before the worker is built quiets it once it is.
      const onQuiet = () => terms.quiet()
      process.on("SIGTERM", onTerm)
      process.on("SIGTSTP", onQuiet)
      return { terms, onTerm, onQuiet }
    }),
    ({ terms }) => runWorker(workerLayer, terms),
    ({ onQuiet, onTerm }) =>
      Effect.sync(() => {
        process.off("SIGTERM", onTerm)
        process.off("SIGTSTP", onQuiet)
      })
  )

/** What the process's signals do, once the worker is built; until then, what they asked. */
interface Signals {
  count: number
  terminate: () => void
  quiet: () => void
  quietAsked: boolean
}

/**
 * What signals act on: every pool built in the layer (`Worker.Pools`, which `Worker.layer`
 * provides), else the one `Worker`. The process stops when any pool stops (a terminate from
 * the Web UI, say): the others are terminated with it as the layer closes, since a process
 * that carried on with a pool gone would have lost capacity that no supervisor restarts.
 */
const pooled = (
  pools: Option.Option<Worker.PoolsService>
): Effect.Effect<
  Pick<Worker.Service, "quiet" | "terminate" | "terminateNow" | "awaitStopped">,
  never,
  Worker.Worker
> =>
  // A Pools with no pool started (none to wait for) would end the process at once.
  Option.match(Option.filter(pools, (pools) => pools.pools().length > 0), {
    onNone: () => Effect.flatMap(WorkerModule, (Worker) => Worker.Worker),
    onSome: (pools) =>
      Effect.succeed({
        quiet: pools.quiet,
        terminate: pools.terminate,
        terminateNow: pools.terminateNow,
        awaitStopped: pools.awaitAnyStopped
      })
  })

const runWorker = <E>(
  workerLayer: Layer.Layer<Worker.Worker, E>,
  terms: Signals
): Effect.Effect<void, E | UncaughtExceptionError | LogOutputClosedError> =>
  Effect.gen(function*() {
    const worker = yield* pooled(yield* Effect.flatMap(WorkerModule, (Worker) => Effect.serviceOption(Worker.Pools)))
    const runFork = Runtime.runFork(yield* Effect.runtime<never>())
    terms.terminate = () => {
      runFork(worker.terminate)
    }
    const crashed = yield* Deferred.make<void, UncaughtExceptionError | LogOutputClosedError>()
    terms.quiet = () => {
      runFork(worker.quiet)
    }
    if (terms.quietAsked) terms.quiet()
    // Unset only once the worker's layer is released (below): a second SIGINT comes while
    // the worker terminates, which is after this scope's own finalizers have run.
    terminateNow = () => {
      runFork(worker.terminateNow)
    }
    const onRejection = (reason: unknown) => {
      runFork(Effect.logError("an unhandled promise rejection; the worker carries on", Cause.die(reason)))
    }
    const onException = (thrown: unknown) => {
      runFork(Effect.logError("an uncaught exception; terminating", Cause.die(thrown)))
      Deferred.unsafeDone(crashed, Effect.fail(new UncaughtExceptionError({ detail: describeThrown(thrown) })))
    }
    yield* Effect.acquireRelease(
      Effect.sync(() =>
        LogOutput.onClosed((stream) => {
          const error = new LogOutputClosedError({ stream })
          // The logs go to stdout: when only it closed, the reason can still be read on stderr.
          if (stream === "stdout") process.stderr.write(`${error.message}; terminating\n`)
          Deferred.unsafeDone(crashed, Effect.fail(error))
        })
      ),
      (stopListening) => Effect.sync(stopListening)
    )
    yield* Effect.acquireRelease(
      Effect.sync(() => {
        process.on("unhandledRejection", onRejection)
        process.on("uncaughtException", onException)
      }),
      () =>
        Effect.sync(() => {
          process.off("unhandledRejection", onRejection)
          process.off("uncaughtException", onException)
        })
    )
    yield* Effect.raceFirst(worker.awaitStopped, Deferred.await(crashed)).pipe(
      Effect.catchAll((error) => Effect.zipRight(worker.terminate, Effect.fail(error)))
    )
  }).pipe(Effect.scoped, Effect.provide(workerLayer), Effect.ensuring(Effect.sync(() => (terminateNow = undefined))))
