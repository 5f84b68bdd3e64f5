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
 * A text meant as a Faktory URL, cut where its author most likely meant the parts to be. A URL
 * that fails to parse has no trustworthy structure, so this follows no URL grammar: it decides
 * what may be shown of the text, and what to say is wrong with it.
 */
interface Typed {
  readonly trimmed: string
  /** As typed, without its colon; undefined unless the text starts with `scheme:` and a slash. */
  readonly scheme: string | undefined
  readonly slashes: string
  /** Everything before the last `@`: a password may hold unencoded `@`, `/`, `?` or `#`. */
  readonly userInfo: string | undefined
  /** The `@` as typed: `@`, or `%40` when it was percent-encoded along with the password. */
  readonly at: string
  readonly host: string
  /** After the colon that follows the host; undefined with no colon. */
  readonly port: string | undefined
  /** From the first `/`, `?`, `#` or `\` after the host. */
  readonly rest: string
}

/** A scheme (RFC 3986: a letter, then letters, digits, `+`, `-`, `.`) and the slashes after it. */
const SCHEME = /^([A-Za-z][A-Za-z0-9+.-]*):([/\\]+)/
const HOST_NAME = /^[A-Za-z0-9._-]*$/
const IPV6_LITERAL = /^\[[0-9A-Fa-f:.]+\]$/
const REDACTED = "<redacted>"

const cut = (input: string): Typed => {
  const trimmed = input.trim()
  // Without a slash, `word:` is as likely a user name (`user:password@host`) as a scheme.
  const scheme = SCHEME.exec(trimmed)
  const afterScheme = scheme === null ? trimmed : trimmed.slice(scheme[0].length)
  // A `%40` ends the user-info as an `@` does: a password and its `@` encoded together. One
  // after the host (in a path or query) is not the user-info's.
  const plainAt = afterScheme.lastIndexOf("@")
  const hostEnd = afterScheme.slice(plainAt + 1).search(/[/?#\\]/)
  const authority = hostEnd === -1 ? afterScheme : afterScheme.slice(0, plainAt + 1 + hostEnd)
  const encodedAt = authority.toLowerCase().lastIndexOf("%40")
  const atIndex = Math.max(encodedAt, plainAt)
  const at = atIndex === -1 ? "" : atIndex === plainAt ? "@" : afterScheme.slice(atIndex, atIndex + 3)
  const afterAt = afterScheme.slice(atIndex === -1 ? 0 : atIndex + at.length)
  const restIndex = afterAt.search(/[/?#\\]/)
  const hostPort = restIndex === -1 ? afterAt : afterAt.slice(0, restIndex)
  // An IPv6 literal holds colons of its own: its port comes after the bracket.
  const bracketed = hostPort.startsWith("[")
  const colon = bracketed && !hostPort.includes("]") ? -1 : hostPort.indexOf(":", bracketed ? hostPort.indexOf("]") : 0)
  return {
    trimmed,
    scheme: scheme?.[1],
    slashes: scheme?.[2] ?? "",
    userInfo: atIndex === -1 ? undefined : afterScheme.slice(0, atIndex),
    at,
    host: colon === -1 ? hostPort : hostPort.slice(0, colon),
    port: colon === -1 ? undefined : hostPort.slice(colon + 1),
    rest: restIndex === -1 ? "" : afterAt.slice(restIndex)
  }
}

const isHost = (host: string) => HOST_NAME.test(host) || IPV6_LITERAL.test(host)
const isPort = (port: string) => /^[0-9]+$/.test(port) && Number(port) >= 1 && Number(port) <= 65535

/**
 * What may be shown of the text: the scheme, a host that is a host name or an IP address, a
 * port that is a port, and the separators. Everything else is where a password may be (the
 * user-info, a password typed where the port goes, or after it) and shows as `<redacted>`.
 */
const shown = (typed: Typed): string => {
  const userInfo = typed.userInfo === undefined ? "" : `${REDACTED}${typed.at}`
  // After an encoded @ (%40) with no @ following, the "host" is as likely the rest of the
  // password (`:pa%40ssword`, the host forgotten) as a host: it is not shown either.
  const host = isHost(typed.host) && typed.at !== "" && typed.at !== "@" ? REDACTED : isHost(typed.host) ? typed.host : REDACTED
  const port = typed.port === undefined ? "" : `:${typed.port === "" || isPort(typed.port) ? typed.port : REDACTED}`
  const rest = typed.rest.length <= 1 ? typed.rest : `${typed.rest[0]}${REDACTED}`
  return `${typed.scheme === undefined ? "" : `${typed.scheme}:`}${typed.slashes}${userInfo}${host}${port}${rest}`
}

/** Why the text is no Faktory URL, in words that name no part of it but the scheme. */
const mistake = (typed: Typed): string | undefined => {
  if (typed.trimmed === "") return "the URL is empty"
  if (typed.scheme === undefined) return "it must start with the scheme tcp:// or tcp+tls://"
  const scheme = typed.scheme.toLowerCase()
  if (scheme !== "tcp" && scheme !== "tcp+tls") return `unsupported scheme "${scheme}" (use tcp or tcp+tls)`
  if (typed.slashes !== "//") return `the scheme must be followed by two slashes: ${scheme}://`
  if (typed.userInfo !== undefined) {
    if (typed.at !== "@") {
      return "it has a %40 (an encoded @) and no @ after it: a password with an @ in it needs the @ and the host after it " +
        "(tcp://:PASSWORD@host:port), and the @ before the host must not be encoded"
    }
    if (/[/?#@]/.test(typed.userInfo)) return "a password must percent-encode / ? # @ and % (encodeURIComponent does it)"
  }
  if (!isHost(typed.host)) return "the host must be a host name or an IP address"
  // `tcp://` alone means localhost, but an @ promises a host after it.
  if (typed.userInfo !== undefined && typed.host === "" && typed.port === undefined) return "a host must follow the @"
  if (typed.port !== undefined && typed.port !== "" && !isPort(typed.port)) {
    if (!/^[0-9]+$/.test(typed.port)) {
      return typed.userInfo === undefined
        ? "the port must be a number (a password goes before the host: tcp://:PASSWORD@host:port)"
        : "the port must be a number"
    }
    return "the port must be 1 to 65535"
  }
  if (typed.rest.length > 1) {
    const afterSlash = typed.rest.startsWith("/") ? typed.rest.slice(1) : typed.rest
    return afterSlash.startsWith("?") || afterSlash.startsWith("#")
      ? "a Faktory URL has no query or fragment"
      : "a Faktory URL has no path"
  }
  return undefined
}

/**
 * What may be shown of a text meant as a Faktory URL, valid or not: its scheme, host and port,
 * with `<redacted>` wherever a password may be (the user-info, a port that is no port, a host
 * that is no host, any path, query or fragment). `InvalidUrlError` shows URLs so; use it to
 * echo anything a user typed that may be a URL.
 *
 * @example
 * ```ts
 * import { FaktoryUrl } from "@effect-faktory/core"
 *
 * FaktoryUrl.redact("tcp://:s3cret@faktory.internal:7419") // "tcp://<redacted>@faktory.internal:7419"
 * FaktoryUrl.redact("tcp://faktory.internal:s3cret") // "tcp://faktory.internal:<redacted>"
 * ```
 *
 * @since 0.2.0
 * @category parsing
 */
export const redact = (input: string): string => shown(cut(input))

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
  const typed = cut(input)
  const invalid = (detail: string) => Either.left(new InvalidUrlError({ url: shown(typed), detail }))
  const problem = mistake(typed)
  if (problem !== undefined) return invalid(problem)
  // WHATWG URL needs a host before a port; `tcp://:7419` means localhost.
  const normalized = typed.trimmed.replace(/^([a-z+]+:\/\/(?:[^@/]*@)?)(?=:\d)/i, "$1localhost")
  let url: URL
  try {
    url = new URL(normalized)
  } catch {
    return invalid("expected tcp://[:password@]host[:port] or tcp+tls://…")
  }
  // The cut has refused every path, query and fragment; WHATWG URL reading one where the cut
  // saw none would mean they split the text apart differently, and nothing read is trusted.
  if ((url.pathname !== "" && url.pathname !== "/") || url.search !== "" || url.hash !== "") {
    return invalid("expected tcp://[:password@]host[:port] or tcp+tls://…")
  }
  const rawHost = url.hostname === "" ? "localhost" : url.hostname
  const host = rawHost.startsWith("[") && rawHost.endsWith("]") ? rawHost.slice(1, -1) : rawHost
  const port = url.port === "" ? DEFAULT_PORT : Number(url.port)
  let password: Option.Option<Redacted.Redacted<string>> = Option.none()
  if (url.password !== "") {
    try {
      password = Option.some(Redacted.make(decodeURIComponent(url.password)))
    } catch {
      return invalid("the password is not valid percent-encoding")
    }
  }
  const userWithoutPassword = url.username !== "" && url.password === ""
  return Either.right(new FaktoryUrl(host, port, url.protocol === "tcp+tls:", password, userWithoutPassword))
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
