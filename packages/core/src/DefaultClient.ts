/**
 * Module-level commands for applications (`push`, `pushBulk`, `info`, the queue commands…)
 * that use the `Client` in context when there is one, and otherwise a process-wide default
 * client. So this works with no layer:
 *
 * ```ts
 * import { Effect } from "effect"
 * import { push } from "@effect-faktory/node"
 *
 * await Effect.runPromise(push({ jobtype: "SendEmail", args: ["a@example.com"] }))
 * ```
 *
 * Core is platform-free, so the default client needs a platform (sockets, an exit hook).
 * `@effect-faktory/node` registers one with `setPlatform` when it is imported, and re-exports
 * these commands, so importing them from there is always enough. Importing them from core
 * works too once `@effect-faktory/node` is imported somewhere in the program; with no
 * platform they fail with `PlatformMissingError`. Nothing is loaded behind the program's
 * back: a computed `import()` of the platform would be invisible to bundlers.
 *
 * When the default client is built, and from what:
 *
 * - on the first module-level command that runs with no `Client` in context (and again on
 *   the first one after `close`), not when the module is imported;
 * - its URL comes from `FAKTORY_PROVIDER`/`FAKTORY_URL`, read through the `ConfigProvider`
 *   of the fiber running that first command (the process environment unless the program
 *   installed another one), else `tcp://localhost:7419`; all other options are the
 *   `Client` defaults (a pool of 10);
 * - it is kept until `close` or the end of the process: later commands reuse it whatever
 *   their `ConfigProvider` says. For other settings, provide a `Client` layer instead.
 *
 * Building it logs, at DEBUG, the server it uses (with the password redacted). It is closed
 * (each connection says END) when the process is about to exit, and its idle connections
 * never keep the process alive.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Scope from "effect/Scope"
import {
  Client,
  type ClientOptions,
  make,
  type PushBulkResult,
  type PushError,
  type Service as ClientService
} from "./Client.js"
import { type CommandError, type InvalidArgumentError, type InvalidUrlError, PlatformMissingError } from "./Errors.js"
import type * as JobPayload from "./JobPayload.js"
import type * as Protocol from "./Protocol.js"
import type * as ServerInfo from "./ServerInfo.js"
import { type Platform, Transport } from "./Transport.js"
import type * as ConfigError from "effect/ConfigError"

/**
 * What building the default client can fail with: a bad URL in the environment, or no
 * platform registered.
 *
 * @since 0.1.0
 * @category models
 */
export type DefaultClientError = InvalidUrlError | ConfigError.ConfigError | PlatformMissingError

interface Instance {
  readonly client: ClientService
  readonly scope: Scope.CloseableScope
}

let instance: Instance | undefined = undefined
const building = Effect.unsafeMakeSemaphore(1)
// Module state rather than a global: node and the application share one copy of core
// (core is a peer dependency of node), and importing node is what sets it.
let platform: Platform | undefined = undefined

/**
 * Sets the platform the default client is built on. `@effect-faktory/node` calls this when
 * it is imported; applications do not need to.
 *
 * @example
 * ```ts
 * import { DefaultClient, type Transport } from "@effect-faktory/core"
 *
 * // What a platform package does when it is imported:
 * export const register = (platform: Transport.Platform) => DefaultClient.setPlatform(platform)
 * ```
 *
 * @since 0.1.0
 * @category registration
 */
export const setPlatform = (registered: Platform): void => {
  platform = registered
}

/**
 * The process-wide default client, built on first use from the environment (see the module
 * comment for exactly when and from what).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { DefaultClient } from "@effect-faktory/core"
 *
 * const program = Effect.flatMap(DefaultClient.get, (client) => client.info)
 * ```
 *
 * @since 0.1.0
 * @category accessors
 */
export const get: Effect.Effect<ClientService, DefaultClientError> = Effect.suspend(() =>
  instance !== undefined
    ? Effect.succeed(instance.client)
    : building.withPermits(1)(Effect.suspend(() => instance !== undefined ? Effect.succeed(instance.client) : build({})))
)

const build = (options: ClientOptions): Effect.Effect<ClientService, DefaultClientError> =>
  Effect.gen(function*() {
    const current = platform
    if (current === undefined) return yield* new PlatformMissingError()
    const scope = yield* Scope.make()
    const client = yield* make(options).pipe(
      Scope.extend(scope),
      Effect.provideService(Transport, current.transport),
      Effect.onError(() => Scope.close(scope, Exit.void))
    )
    instance = { client, scope }
    current.onExit(() => Effect.runPromise(close))
    // The URL prints its password as <redacted>.
    yield* Effect.logDebug(`effect-faktory: the default client uses ${client.url} over ${current.transport.name} sockets`)
    return client
  })

/**
 * The default client as a `Client` layer, for what asks for a `Client` in context (a typed
 * `Job`'s push) in a script that has no layer of its own. It is the process-wide client:
 * closing the layer leaves it open for later commands (`close` closes it).
 *
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import { DefaultClient, Job } from "@effect-faktory/core"
 *
 * const SendEmail = Job.define("SendEmail", { args: Schema.Tuple(Schema.String) })
 * const program = SendEmail.push(["a@example.com"]).pipe(Effect.provide(DefaultClient.layer))
 * ```
 *
 * @since 0.2.0
 * @category layers
 */
export const layer: Layer.Layer<Client, DefaultClientError> = Layer.effect(Client, get)

/**
 * Closes the default client now (it is rebuilt if used again). Tests and short scripts use
 * this; applications need not, since it closes itself at exit.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { DefaultClient, push } from "@effect-faktory/core"
 *
 * const program = push({ jobtype: "Ping" }).pipe(Effect.ensuring(DefaultClient.close))
 * ```
 *
 * @since 0.1.0
 * @category lifecycle
 */
export const close: Effect.Effect<void> = Effect.suspend(() => {
  const current = instance
  instance = undefined
  return current === undefined ? Effect.void : Scope.close(current.scope, Exit.void)
})

/**
 * Runs `f` with the `Client` in context, or with the default client.
 *
 * @example
 * ```ts
 * import { DefaultClient } from "@effect-faktory/core"
 *
 * const stats = DefaultClient.withClient((client) => client.info)
 * ```
 *
 * @since 0.1.0
 * @category accessors
 */
export const withClient = <A, E, R>(
  f: (client: ClientService) => Effect.Effect<A, E, R>
): Effect.Effect<A, E | DefaultClientError, R> =>
  Effect.flatMap(
    Effect.serviceOption(Client),
    (provided) => provided._tag === "Some" ? f(provided.value) : Effect.flatMap(get, f)
  )

/**
 * Pushes a job; returns its jid.
 *
 * @example
 * ```ts
 * import { push } from "@effect-faktory/core"
 *
 * // Succeeds with the jid; the default client needs `@effect-faktory/node` imported somewhere.
 * const program = push({ jobtype: "SendEmail", args: ["a@example.com"], queue: "mail" })
 * ```
 *
 * @since 0.1.0
 * @category commands
 */
export const push = (job: JobPayload.JobInput): Effect.Effect<string, PushError | DefaultClientError> =>
  withClient((client) => client.push(job))

/**
 * Pushes many jobs with PUSHB.
 *
 * @example
 * ```ts
 * import { pushBulk } from "@effect-faktory/core"
 *
 * pushBulk([{ jobtype: "Resize", args: [1] }, { jobtype: "Resize", args: [2] }])
 * ```
 *
 * @since 0.1.0
 * @category commands
 */
export const pushBulk = (
  jobs: ReadonlyArray<JobPayload.JobInput>
): Effect.Effect<PushBulkResult, PushError | DefaultClientError> =>
  withClient((client) => client.pushBulk(jobs))

/**
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { info } from "@effect-faktory/core"
 *
 * Effect.map(info, (report) => report.faktory.queues)
 * ```
 *
 * @since 0.1.0
 * @category commands
 */
export const info: Effect.Effect<ServerInfo.ServerInfo, CommandError | DefaultClientError> = withClient((client) =>
  client.info
)

/**
 * @example
 * ```ts
 * import { mutate } from "@effect-faktory/core"
 *
 * mutate({ cmd: "requeue", target: "retries", filter: { jobtype: "SendEmail" } })
 * ```
 *
 * @since 0.1.0
 * @category commands
 */
export const mutate = (
  mutation: Protocol.Mutation
): Effect.Effect<void, InvalidArgumentError | CommandError | DefaultClientError> =>
  withClient((client) => client.mutate(mutation))

/**
 * @example
 * ```ts
 * import { pauseQueues } from "@effect-faktory/core"
 *
 * pauseQueues(["mail"])
 * ```
 *
 * @since 0.1.0
 * @category commands
 */
export const pauseQueues = (
  names: ReadonlyArray<string>
): Effect.Effect<void, InvalidArgumentError | CommandError | DefaultClientError> =>
  withClient((client) => client.pauseQueues(names))

/**
 * @example
 * ```ts
 * import { resumeQueues } from "@effect-faktory/core"
 *
 * resumeQueues(["mail"])
 * ```
 *
 * @since 0.1.0
 * @category commands
 */
export const resumeQueues = (
  names: ReadonlyArray<string>
): Effect.Effect<void, InvalidArgumentError | CommandError | DefaultClientError> =>
  withClient((client) => client.resumeQueues(names))

/**
 * Deletes queues with all their jobs.
 *
 * @example
 * ```ts
 * import { removeQueues } from "@effect-faktory/core"
 *
 * removeQueues(["scratch"])
 * ```
 *
 * @since 0.1.0
 * @category commands
 */
export const removeQueues = (
  names: ReadonlyArray<string>
): Effect.Effect<void, InvalidArgumentError | CommandError | DefaultClientError> =>
  withClient((client) => client.removeQueues(names))

/**
 * @example
 * ```ts
 * import { queueLatency } from "@effect-faktory/core"
 *
 * queueLatency(["default", "mail"])
 * ```
 *
 * @since 0.1.0
 * @category commands
 */
export const queueLatency = (
  names: ReadonlyArray<string>
): Effect.Effect<Readonly<Record<string, number>>, InvalidArgumentError | CommandError | DefaultClientError> =>
  withClient((client) => client.queueLatency(names))
