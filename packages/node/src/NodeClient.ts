/**
 * The client with the Node transport already provided.
 *
 * @since 0.1.0
 */
import * as Client from "@effect-faktory/core/Client"
import type * as Config from "effect/Config"
import * as Layer from "effect/Layer"
import * as NodeTransport from "./NodeTransport.js"

/**
 * A client layer over Node sockets. Options default to the environment
 * (`FAKTORY_PROVIDER`/`FAKTORY_URL`).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Client } from "@effect-faktory/core"
 * import { NodeClient } from "@effect-faktory/node"
 *
 * const program = Effect.flatMap(Client.Client, (client) => client.push({ jobtype: "Ping" })).pipe(
 *   Effect.provide(NodeClient.layer({ poolSize: 4 }))
 * )
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (options: Client.ClientOptions = {}) =>
  Client.layer(options).pipe(Layer.provide(NodeTransport.layer))

/**
 * A client layer over Node sockets whose options come from `Config`.
 *
 * @example
 * ```ts
 * import { Config } from "effect"
 * import { NodeClient } from "@effect-faktory/node"
 *
 * const FaktoryLive = NodeClient.layerConfig({ url: Config.string("JOBS_URL") })
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layerConfig = (config: Config.Config.Wrap<Client.ClientOptions>) =>
  Client.layerConfig(config).pipe(Layer.provide(NodeTransport.layer))
