/**
 * Where a Faktory server is and how to reach it: `tcp://[:password@]host[:port]` or
 * `tcp+tls://…`, the conventions of the official clients. The password is held as a
 * `Redacted` and never printed.
 *
 * @since 0.1.0
 */
import * as Config from "effect/Config"
import * as ConfigError from "effect/ConfigError"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import { InvalidUrlError } from "./Errors.js"

/**
 * The port Faktory listens on unless told otherwise.
 *
 * @since 0.1.0
 * @category constants
 */
export const DEFAULT_PORT = 7419

/**
 * The URL used when neither options nor the environment name one.
 *
 * @since 0.1.0
 * @category constants
 */
export const DEFAULT_URL = "tcp://localhost:7419"

/**
 * A parsed Faktory address.
 *
 * @example
 * ```ts
 * import { Either } from "effect"
 * import { FaktoryUrl } from "@effect-faktory/core"
 *
 * const url = Either.getOrThrow(FaktoryUrl.parse("tcp+tls://:s3cret@faktory.internal:7419"))
 * url.tls // true
 * String(url) // "tcp+tls://:<redacted>@faktory.internal:7419"
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export class FaktoryUrl {
  constructor(
    readonly host: string,
    readonly port: number,
    readonly tls: boolean,
    readonly password: Option.Option<Redacted.Redacted<string>>,
    /**
     * The URL named a user and no password (`tcp://secret@host`). Faktory reads only a
     * password, after a colon (`tcp://:secret@host`); this is kept to say so when the server
     * asks for a password. The user part itself is never kept: it may be the password.
     */
    readonly userWithoutPassword: boolean = false
  ) {}

  /** `host:port`, for log lines and error messages. */
  get address(): string {
    return this.host.includes(":") ? `[${this.host}]:${this.port}` : `${this.host}:${this.port}`
  }

  toString(): string {
    const auth = Option.isSome(this.password) ? ":<redacted>@" : ""
    return `${this.tls ? "tcp+tls" : "tcp"}://${auth}${this.address}`
  }

  toJSON(): unknown {
    return this.toString()
  }

  [Symbol.for("nodejs.util.inspect.custom")](): string {
    return `FaktoryUrl(${this.toString()})`
  }

  /** The same address with another password, or none. */
  withPassword(password: Option.Option<Redacted.Redacted<string>>): FaktoryUrl {
    return new FaktoryUrl(this.host, this.port, this.tls, password, Option.isNone(password) && this.userWithoutPassword)
  }
}

/**
 * What may be shown of a URL that failed to parse: the scheme and its slashes, then
 * `<redacted>` for everything up to the last `@`, then the rest. A URL that failed to parse
 * has no trustworthy structure, so the cut follows what its author may have meant, not a URL
 * grammar: a password may hold an unencoded `/`, `?`, `#` or `@`, which a parser reads as the
 * end of the authority, and the slashes may be one or none. Whatever comes before the last
 * `@` may be user-info; with no `@` there is none.
 */
const redactInput = (input: string): string => {
  const lastAt = input.lastIndexOf("@")
  if (lastAt === -1) return input
  let start = schemeLength(input)
  while (start < lastAt && (input[start] === "/" || input[start] === "\\")) start++
  return `${input.slice(0, start)}<redacted>${input.slice(lastAt)}`
}

/**
 * The length of a leading `scheme:` (RFC 3986: a letter, then letters, digits, `+`, `-`, `.`),
 * after any leading whitespace; 0 when the input does not start with one.
 */
const schemeLength = (input: string): number => {
  let index = 0
  while (index < input.length && input.charCodeAt(index) <= 0x20) index++
  if (!isLetter(input.charCodeAt(index))) return 0
  index++
  while (index < input.length && isSchemeCharacter(input.charCodeAt(index))) index++
  return input[index] === ":" ? index + 1 : 0
}

const isLetter = (code: number) => (code >= 0x41 && code <= 0x5a) || (code >= 0x61 && code <= 0x7a)
const isSchemeCharacter = (code: number) =>
  isLetter(code) || (code >= 0x30 && code <= 0x39) || code === 0x2b || code === 0x2d || code === 0x2e

/**
 * Parses a Faktory URL. Accepts the schemes `tcp` and `tcp+tls`; the host defaults to
 * `localhost` and the port to 7419; a password is read from the user-info part
 * (`tcp://:password@host`), percent-decoded.
 *
 * @example
 * ```ts
 * import { FaktoryUrl } from "@effect-faktory/core"
 *
 * FaktoryUrl.parse("tcp://localhost:7419") // Either.right(FaktoryUrl)
 * FaktoryUrl.parse("redis://localhost") // Either.left(InvalidUrlError)
 * ```
 *
 * @since 0.1.0
 * @category parsing
 */
export const parse = (input: string): Either.Either<FaktoryUrl, InvalidUrlError> => {
  const shown = redactInput(input)
  const invalid = (detail: string) => Either.left(new InvalidUrlError({ url: shown, detail }))
  const trimmed = input.trim()
  if (trimmed === "") return invalid("the URL is empty")
  // WHATWG URL needs a host before a port; `tcp://:7419` means localhost.
  const normalized = trimmed.replace(/^([a-z+]+:\/\/(?:[^@/]*@)?)(?=:\d)/i, "$1localhost")
  // A password with an unencoded / ? # or @ ends the authority early: the rest reads as a
  // path, query or fragment, or as a bad port.
  const encodingHint = input.includes("@") ? " (a password must percent-encode / ? # @ and %)" : ""
  let url: URL
  try {
    url = new URL(normalized)
  } catch {
    // WHATWG URL refuses a port above 65535 as it refuses any other malformed URL.
    const port = /:(\d+)\/?$/.exec(trimmed)
    if (port !== null && port[1] !== undefined && Number(port[1]) > 65535) return invalid("the port must be 1 to 65535")
    return invalid(`expected tcp://[:password@]host[:port] or tcp+tls://…${encodingHint}`)
  }
  const scheme = url.protocol.slice(0, -1)
  if (scheme !== "tcp" && scheme !== "tcp+tls") {
    return invalid(`unsupported scheme "${scheme}" (use tcp or tcp+tls)`)
  }
  if (url.pathname !== "" && url.pathname !== "/") return invalid(`a Faktory URL has no path${encodingHint}`)
  if (url.search !== "" || url.hash !== "") return invalid(`a Faktory URL has no query or fragment${encodingHint}`)
  const rawHost = url.hostname === "" ? "localhost" : url.hostname
  const host = rawHost.startsWith("[") && rawHost.endsWith("]") ? rawHost.slice(1, -1) : rawHost
  const port = url.port === "" ? DEFAULT_PORT : Number(url.port)
  if (!Number.isInteger(port) || port < 1 || port > 65535) return invalid("the port must be 1 to 65535")
  let password: Option.Option<Redacted.Redacted<string>> = Option.none()
  if (url.password !== "") {
    try {
      password = Option.some(Redacted.make(decodeURIComponent(url.password)))
    } catch {
      return invalid("the password is not valid percent-encoding")
    }
  }
  const userWithoutPassword = url.username !== "" && url.password === ""
  return Either.right(new FaktoryUrl(host, port, scheme === "tcp+tls", password, userWithoutPassword))
}

/**
 * Reads the server URL from the environment, the way every Faktory client does:
 * `FAKTORY_PROVIDER` names the variable that holds the URL (default `FAKTORY_URL`; set but
 * empty counts as unset). An unset `FAKTORY_URL` means `tcp://localhost:7419`; a provider
 * naming an unset variable is an `InvalidUrlError` (other clients fall back to localhost,
 * which hides the mistake), as is one that is no variable name, whose value is never shown.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { FaktoryUrl } from "@effect-faktory/core"
 *
 * const program = Effect.gen(function* () {
 *   const url = yield* FaktoryUrl.fromEnv
 *   yield* Effect.log(`using ${url}`)
 * })
 * ```
 *
 * @since 0.1.0
 * @category config
 */
export const fromEnv: Effect.Effect<FaktoryUrl, InvalidUrlError | ConfigError.ConfigError> = Effect.gen(
  function*() {
    // Set but empty is unset, as for the Ruby client: deployment tools often write every
    // variable they know of, empty when it has no value.
    const setProvider = yield* Config.string("FAKTORY_PROVIDER").pipe(Config.withDefault(""))
    const provider = setProvider === "" ? "FAKTORY_URL" : setProvider
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(provider)) {
      // Not shown: it is most often the URL itself, put where its variable's name belongs.
      return yield* new InvalidUrlError({
        url: "$FAKTORY_PROVIDER",
        detail: /[:@/]/.test(provider)
          ? "FAKTORY_PROVIDER holds a URL, but it must hold the name of the variable that holds the URL: " +
            "set FAKTORY_PROVIDER=MY_FAKTORY_URL and the URL in MY_FAKTORY_URL, or put the URL in FAKTORY_URL " +
            "and unset FAKTORY_PROVIDER"
          : "FAKTORY_PROVIDER must be the name of an environment variable (letters, digits and _, not " +
            "starting with a digit) that holds the URL, such as MY_FAKTORY_URL"
      })
    }
    const value = yield* Config.option(Config.redacted(provider))
    if (Option.isSome(value)) return yield* parse(Redacted.value(value.value))
    // FAKTORY_PROVIDER set on purpose names where the URL is: that variable missing is a
    // mistake in the deployment, not a wish for localhost.
    if (provider !== "FAKTORY_URL") {
      return yield* new InvalidUrlError({
        url: `$${provider}`,
        detail: `FAKTORY_PROVIDER names ${provider}, which is not set`
      })
    }
    return yield* parse(DEFAULT_URL)
  }
)

/**
 * A `Config` of a Faktory URL held in one variable, for `layerConfig` constructors.
 *
 * @example
 * ```ts
 * import { FaktoryUrl } from "@effect-faktory/core"
 *
 * const url = FaktoryUrl.config("MY_FAKTORY_URL")
 * ```
 *
 * @since 0.1.0
 * @category config
 */
export const config = (name = "FAKTORY_URL"): Config.Config<FaktoryUrl> =>
  Config.redacted(name).pipe(
    Config.withDefault(Redacted.make(DEFAULT_URL)),
    Config.mapOrFail((value) =>
      Either.mapLeft(parse(Redacted.value(value)), (e) => ConfigError.InvalidData([name], e.message))
    )
  )
