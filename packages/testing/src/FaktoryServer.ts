/**
 * A real, throwaway Faktory server for tests: free ports, a fresh short temp directory for
 * its data and config, an optional password, optional TLS with a self-signed certificate,
 * and everything (server, its Redis, the directory) gone when the scope closes.
 *
 * @since 0.1.0
 */
import { Client, type InvalidUrlError } from "@effect-faktory/core"
import type * as ConfigError from "effect/ConfigError"
import { NodeTransport } from "@effect-faktory/node"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as Net from "node:net"
import * as Os from "node:os"
import * as Path from "node:path"
import * as Tls from "node:tls"
import { fileURLToPath } from "node:url"

/**
 * The server could not be found, configured, started or stopped.
 *
 * @since 0.1.0
 * @category errors
 */
export class FaktoryServerError extends Data.TaggedError("FaktoryServerError")<{
  readonly detail: string
  readonly log?: string
}> {
  override get message(): string {
    return this.log === undefined || this.log === "" ? this.detail : `${this.detail}\n--- server log ---\n${this.log}`
  }
}

/**
 * How to start the server.
 *
 * @since 0.1.0
 * @category models
 */
export interface FaktoryServerOptions {
  /** Require this password (`FAKTORY_PASSWORD`). */
  readonly password?: string | undefined
  /** Serve TLS only, with a fresh self-signed certificate for `localhost` and `127.0.0.1`. */
  readonly tls?: boolean | undefined
  /** Start the Web UI on a free port (needed for quiet/terminate from the UI). Default true. */
  readonly webUi?: boolean | undefined
  /** The `faktory` binary. Default: `$FAKTORY_BIN`, `PATH`, then `$GOPATH/bin`, `~/go/bin`. */
  readonly binary?: string | undefined
  /** How long to wait for the server to greet. Default 20 s. */
  readonly startTimeoutMillis?: number | undefined
}

/**
 * A running server: the service of the `FaktoryServer` tag.
 *
 * @since 0.2.0
 * @category models
 */
export interface Service {
  /** `tcp://…` or `tcp+tls://…`, with the password when there is one. */
  readonly url: string
  readonly host: string
  readonly port: number
  /** The Web UI's base URL (`http://` or `https://`), when it runs. */
  readonly webUrl: string | undefined
  readonly password: string | undefined
  /** The self-signed certificate's PEM, when TLS is on: trust it as a CA. */
  readonly certificate: string | undefined
  readonly directory: string
  /** Options for `Client.make`/`Client.layer` that reach this server. */
  readonly clientOptions: Client.ClientOptions
  /** Stops the server (SIGTERM, then SIGKILL); data and ports are kept for `start`. */
  readonly stop: Effect.Effect<void>
  /** Starts it again on the same ports and data directory. */
  readonly start: Effect.Effect<void, FaktoryServerError>
  /** The last lines the server printed. */
  readonly log: () => string
  /** The server's process id while it runs (to pause it with SIGSTOP, say). */
  readonly pid: () => number | undefined
}

/**
 * The running server in context (`FaktoryServer.layer` provides it).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { FaktoryServer } from "@effect-faktory/testing"
 *
 * const url = Effect.map(FaktoryServer.FaktoryServer, (server) => server.url)
 * ```
 *
 * @since 0.1.0
 * @category tags
 */
export class FaktoryServer extends Context.Tag("@effect-faktory/testing/FaktoryServer")<FaktoryServer, Service>() {}

const isExecutable = (file: string): boolean => {
  try {
    Fs.accessSync(file, Fs.constants.X_OK)
    return Fs.statSync(file).isFile()
  } catch {
    return false
  }
}

/**
 * Where the `faktory` binary is: `$FAKTORY_BIN`, `PATH`, `$GOPATH/bin`, `~/go/bin`.
 *
 * @example
 * ```ts
 * import { FaktoryServer } from "@effect-faktory/testing"
 *
 * const binary = FaktoryServer.findBinary() // "/root/go/bin/faktory" or undefined
 * ```
 *
 * @since 0.1.0
 * @category binary
 */
export const findBinary = (): string | undefined => {
  const located = locateBinary()
  return "found" in located ? located.found : undefined
}

/**
 * The binary, or why there is none: `FAKTORY_BIN`, when set, is the binary, and one that is
 * not there is said by its name (not as if no binary were anywhere).
 */
const locateBinary = (): { readonly found: string } | { readonly missing: string } => {
  const explicit = process.env.FAKTORY_BIN
  if (explicit !== undefined && explicit !== "") {
    return isExecutable(explicit) ? { found: explicit } : { missing: `FAKTORY_BIN=${explicit} is not an executable file` }
  }
  const candidates = [
    ...(process.env.PATH ?? "").split(Path.delimiter).filter((dir) => dir !== "").map((dir) =>
      Path.join(dir, "faktory")
    ),
    ...(process.env.GOPATH ?? "").split(Path.delimiter).filter((dir) => dir !== "").map((dir) =>
      Path.join(dir, "bin", "faktory")
    ),
    Path.join(Os.homedir(), "go", "bin", "faktory")
  ]
  const found = candidates.find(isExecutable)
  return found !== undefined ? { found } : { missing: "no faktory binary on PATH, in $GOPATH/bin or ~/go/bin" }
}

/**
 * The Faktory release these packages are tested against (the repository's FAKTORY_VERSION).
 *
 * @since 0.1.0
 * @category binary
 */
export const FAKTORY_VERSION = "1.10.0"

const missingBinary = (why: string): string =>
  `${why}. ` +
  `Install Faktory ${FAKTORY_VERSION} with Go: \`go install github.com/contribsys/faktory/cmd/faktory@v${FAKTORY_VERSION}\` ` +
  `(it also needs redis-server, e.g. \`apt-get install redis-server\`), or set FAKTORY_BIN to the binary's path` +
  ` (in the effect-faktory repository: \`bash scripts/install-faktory.sh\`)`

/**
 * A TCP port nothing listens on right now.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { FaktoryServer } from "@effect-faktory/testing"
 *
 * Effect.runPromise(FaktoryServer.freePort).then(console.log)
 * ```
 *
 * @since 0.1.0
 * @category ports
 */
export const freePort: Effect.Effect<number, FaktoryServerError> = Effect.async((resume) => {
  const server = Net.createServer()
  server.once("error", (cause) =>
    resume(Effect.fail(new FaktoryServerError({ detail: `no free port: ${cause.message}` }))))
  server.listen(0, "127.0.0.1", () => {
    const address = server.address()
    const port = typeof address === "object" && address !== null ? address.port : 0
    server.close(() => resume(Effect.succeed(port)))
  })
})

// Each server runs under a small supervisor process (internal/supervisor.ts) that stops it,
// sweeps up its Redis and removes its directory when this process dies in any way, SIGKILL
// included. The exit hook below only makes an orderly exit that skipped its scopes (an
// uncaught exception) faster: it kills the servers at once rather than waiting for that.
const supervisor = fileURLToPath(new URL("./internal/supervisor.js", import.meta.url))

interface Running {
  readonly supervisor: ChildProcess.ChildProcess
  /** The server's own pid, once the supervisor reports it. */
  serverPid: number | undefined
}

const children = new Set<Running>()
const directories = new Set<string>()
let exitHookInstalled = false
const installExitHook = () => {
  if (exitHookInstalled) return
  exitHookInstalled = true
  process.once("exit", () => {
    for (const child of children) {
      if (child.serverPid !== undefined) signal(child.serverPid, "SIGKILL")
      child.supervisor.kill("SIGKILL")
    }
    for (const directory of directories) removeDirectory(directory)
  })
}

const signal = (pid: number, name: NodeJS.Signals) => {
  try {
    process.kill(pid, name)
  } catch {
    // Already gone.
  }
}

const removeDirectory = (directory: string) => {
  directories.delete(directory)
  killTree(directory)
  Fs.rmSync(directory, { recursive: true, force: true })
}

const makeCertificate = (configDir: string): Effect.Effect<string, FaktoryServerError> =>
  Effect.try({
    try: () => {
      ChildProcess.execFileSync("openssl", [
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-sha256",
        "-days",
        "2",
        "-subj",
        "/CN=localhost",
        "-addext",
        "subjectAltName=DNS:localhost,IP:127.0.0.1",
        "-keyout",
        Path.join(configDir, "private.key.pem"),
        "-out",
        Path.join(configDir, "public.cert.pem")
      ], { stdio: "pipe" })
      return Fs.readFileSync(Path.join(configDir, "public.cert.pem"), "utf8")
    },
    catch: (cause) =>
      new FaktoryServerError({
        detail: `cannot make a TLS certificate with openssl (apt-get install openssl): ${String(cause)}`
      })
  })

/** Resolves when a connection to the port reads the server's `+HI` greeting. */
const greets = (port: number, tls: boolean): Promise<boolean> =>
  new Promise((resolve) => {
    const socket = tls
      ? Tls.connect({ host: "127.0.0.1", port, rejectUnauthorized: false })
      : Net.connect({ host: "127.0.0.1", port })
    let seen = ""
    const done = (ok: boolean) => {
      clearTimeout(timer)
      socket.destroy()
      resolve(ok)
    }
    const timer = setTimeout(() => done(false), 1000)
    socket.on("data", (chunk: Buffer) => {
      seen += chunk.toString("latin1")
      if (seen.startsWith("+HI ")) done(true)
    })
    socket.on("error", () => done(false))
    socket.on("close", () => done(false))
  })

const killTree = (directory: string) => {
  // Faktory stops its Redis on shutdown; this only sweeps up after a crash.
  try {
    ChildProcess.execFileSync("pkill", ["-KILL", "-f", `redis-server .*${directory}`], { stdio: "ignore" })
  } catch {
    // pkill exits 1 when nothing matched.
  }
}

/**
 * Starts a server for the life of the scope.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { FaktoryServer } from "@effect-faktory/testing"
 *
 * const program = Effect.gen(function* () {
 *   const server = yield* FaktoryServer.make({ password: "s3cret" })
 *   console.log(server.url)
 * }).pipe(Effect.scoped)
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (options: FaktoryServerOptions = {}) =>
  Effect.gen(function*() {
    const located = options.binary === undefined
      ? locateBinary()
      : isExecutable(options.binary)
      ? { found: options.binary }
      : { missing: `${options.binary} is not an executable file` }
    if ("missing" in located) return yield* new FaktoryServerError({ detail: missingBinary(located.missing) })
    const binary = located.found
    installExitHook()
    const directory = yield* Effect.acquireRelease(
      Effect.sync(() => {
        const made = Fs.mkdtempSync(Path.join("/tmp", "fk-"))
        directories.add(made)
        return made
      }),
      (dir) => Effect.sync(() => removeDirectory(dir))
    )
    const configDir = Path.join(directory, "conf")
    Fs.mkdirSync(configDir, { recursive: true })
    const tls = options.tls === true
    const certificate = tls ? yield* makeCertificate(configDir) : undefined
    const port = yield* freePort
    const webPort = options.webUi === false ? undefined : yield* freePort
    const startTimeout = options.startTimeoutMillis ?? 20_000

    let child: Running | undefined = undefined
    let output: Array<string> = []
    const log = () => output.join("")

    const stop: Effect.Effect<void> = Effect.async<void>((resume) => {
      const running = child
      child = undefined
      if (running === undefined) return resume(Effect.void)
      const proc = running.supervisor
      if (proc.exitCode !== null || proc.signalCode !== null) {
        children.delete(running)
        return resume(Effect.void)
      }
      // The supervisor sends SIGTERM, then SIGKILL after 5 s; this is for a stuck supervisor.
      const kill = setTimeout(() => {
        if (running.serverPid !== undefined) signal(running.serverPid, "SIGKILL")
        proc.kill("SIGKILL")
      }, 8000)
      proc.once("exit", () => {
        clearTimeout(kill)
        children.delete(running)
        resume(Effect.void)
      })
      // "stop": keep the data directory, the server may be started again.
      proc.stdin?.end("stop\n")
    }).pipe(Effect.zipRight(Effect.sync(() => killTree(directory))))

    const start: Effect.Effect<void, FaktoryServerError> = Effect.gen(function*() {
      if (child !== undefined) return
      output = []
      const env: Record<string, string> = {}
      for (const [key, value] of Object.entries(process.env)) {
        if (value !== undefined && !key.startsWith("FAKTORY_")) env[key] = value
      }
      if (options.password !== undefined) env.FAKTORY_PASSWORD = options.password
      const spawned = ChildProcess.spawn(process.execPath, [
        supervisor,
        directory,
        binary,
        "-e",
        "development",
        "-b",
        `127.0.0.1:${port}`,
        "-w",
        webPort === undefined ? ":0" : `127.0.0.1:${webPort}`,
        "-d",
        Path.join(directory, "db"),
        "-c",
        configDir,
        "-l",
        "warn"
      ], { env, stdio: ["pipe", "pipe", "pipe", "pipe"] })
      const running: Running = { supervisor: spawned, serverPid: undefined }
      child = running
      children.add(running)
      let control = ""
      spawned.stdio[3]?.on("data", (chunk: Buffer) => {
        control += chunk.toString("utf8")
        const match = /\{"pid":(\d+)\}/.exec(control)
        if (match !== null) running.serverPid = Number(match[1])
      })
      // Writing "stop" races the supervisor's own exit; a closed pipe is then no error.
      spawned.stdin?.on("error", () => {})
      const keep = (chunk: Buffer) => {
        output.push(chunk.toString("utf8"))
        if (output.length > 200) output = output.slice(-100)
      }
      spawned.on("error", (cause) => keep(Buffer.from(`spawn failed: ${cause.message}\n`)))
      spawned.stdout?.on("data", keep)
      spawned.stderr?.on("data", keep)
      const deadline = Date.now() + startTimeout
      while (true) {
        if (spawned.exitCode !== null || spawned.signalCode !== null) {
          child = undefined
          children.delete(running)
          return yield* new FaktoryServerError({
            detail: `faktory exited during start (${spawned.exitCode ?? spawned.signalCode})`,
            log: log()
          })
        }
        // Ready once it greets and the supervisor has said which pid is the server's.
        if (running.serverPid !== undefined && (yield* Effect.promise(() => greets(port, tls)))) return
        if (Date.now() > deadline) {
          yield* stop
          return yield* new FaktoryServerError({ detail: `faktory did not greet within ${startTimeout} ms`, log: log() })
        }
        yield* Effect.sleep("50 millis")
      }
    }).pipe(
      // A live clock for the readiness wait: under @effect/vitest's `layer(...)` or `it.effect`
      // the ambient clock is the TestClock, which nobody moves while a layer builds, so the
      // sleep between greeting attempts would never end.
      Effect.withClock(Clock.make())
    )

    yield* Effect.acquireRelease(start, () => stop)

    const auth = options.password === undefined ? "" : `:${encodeURIComponent(options.password)}@`
    const url = `${tls ? "tcp+tls" : "tcp"}://${auth}127.0.0.1:${port}`
    return FaktoryServer.of({
      url,
      host: "127.0.0.1",
      port,
      webUrl: webPort === undefined ? undefined : `${tls ? "https" : "http"}://127.0.0.1:${webPort}`,
      password: options.password,
      certificate,
      directory,
      clientOptions: {
        url,
        ...(certificate === undefined ? {} : { tls: { ca: certificate, serverName: "localhost" } })
      },
      stop,
      start,
      log,
      pid: () => child?.serverPid
    })
  })

/**
 * The server as a layer.
 *
 * @example
 * ```ts
 * import { FaktoryServer } from "@effect-faktory/testing"
 *
 * const TlsServer = FaktoryServer.layer({ tls: true })
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (options: FaktoryServerOptions = {}): Layer.Layer<FaktoryServer, FaktoryServerError> =>
  Layer.scoped(FaktoryServer, make(options))

/**
 * A `Client` connected to the `FaktoryServer` in context, over Node sockets.
 *
 * @example
 * ```ts
 * import { Layer } from "effect"
 * import { FaktoryServer } from "@effect-faktory/testing"
 *
 * const TestClient = FaktoryServer.clientLayer({ poolSize: 2 }).pipe(Layer.provideMerge(FaktoryServer.layer()))
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const clientLayer = (
  options: Client.ClientOptions = {}
): Layer.Layer<Client.Client, InvalidUrlError | ConfigError.ConfigError, FaktoryServer> =>
  Layer.unwrapEffect(
    Effect.map(FaktoryServer, (server) =>
      Client.layer({ ...server.clientOptions, ...options }).pipe(Layer.provide(NodeTransport.layer)))
  )
