import { describe, expect, it } from "@effect/vitest"
import { FaktoryUrl } from "@effect-faktory/core"
import { Cause, ConfigProvider, Effect, Either, Exit, FastCheck as fc, Option, Redacted } from "effect"
import * as Util from "node:util"

const parsed = (input: string) => Either.getOrThrow(FaktoryUrl.parse(input))

/** Every way an error may be printed. */
const renderings = (error: unknown): Array<string> => [
  error instanceof Error ? error.message : "",
  String(error),
  JSON.stringify(error),
  Util.inspect(error, { depth: 10 }),
  Cause.pretty(Cause.fail(error)),
  error instanceof Error ? error.stack ?? "" : ""
]

describe("FaktoryUrl.parse", () => {
  it("reads host, port, scheme and password", () => {
    const url = parsed("tcp+tls://:s3cr%40t@faktory.example:7000")
    expect([url.host, url.port, url.tls]).toEqual(["faktory.example", 7000, true])
    expect(Option.map(url.password, Redacted.value)).toEqual(Option.some("s3cr@t"))
  })

  it("defaults the port and host", () => {
    expect(parsed("tcp://localhost").port).toBe(7419)
    expect(parsed("tcp://:7420").host).toBe("localhost")
    expect(parsed("tcp://localhost:7419").password).toEqual(Option.none())
  })

  it("accepts IPv6 literals", () => {
    const url = parsed("tcp://[::1]:7419")
    expect(url.host).toBe("::1")
    expect(url.address).toBe("[::1]:7419")
  })

  it("remembers, without keeping it, a user part given where the password belongs", () => {
    const url = parsed("tcp://hunter2@localhost:7419")
    expect(url.userWithoutPassword).toBe(true)
    expect(Option.isNone(url.password)).toBe(true)
    expect(JSON.stringify(url) + String(url) + Object.values(url).join()).not.toContain("hunter2")
    expect(parsed("tcp://user:pw@localhost").userWithoutPassword).toBe(false)
    expect(parsed("tcp://localhost").userWithoutPassword).toBe(false)
  })

  it("never prints the password", () => {
    const url = parsed("tcp://:hunter2@localhost:7419")
    expect(String(url)).toBe("tcp://:<redacted>@localhost:7419")
    expect(JSON.stringify({ url })).not.toContain("hunter2")
    const failure = FaktoryUrl.parse("http://:hunter2@localhost:7419")
    expect(Either.isLeft(failure) && failure.left.message).not.toContain("hunter2")
  })

  const invalid: Array<[string, string]> = [
    ["", "empty"],
    ["localhost:7419", "scheme"],
    ["http://localhost:7419", "scheme"],
    ["redis://localhost", "scheme"],
    ["tcp://localhost:99999", "the port must be 1 to 65535"],
    ["tcp+tls://:pw@[::1]:70000/", "the port must be 1 to 65535"],
    ["tcp://localhost:7419/path", "path"],
    ["tcp://localhost:7419?x=1", "query"],
    ["not a url", "tcp://"]
  ]
  for (const [input, mention] of invalid) {
    it(`rejects ${JSON.stringify(input)} with a clear InvalidUrlError`, () => {
      const result = FaktoryUrl.parse(input)
      expect(Either.isLeft(result)).toBe(true)
      if (Either.isLeft(result)) {
        expect(result.left._tag).toBe("InvalidUrlError")
        expect(result.left.message).toContain(mention)
      }
    })
  }

  it("never shows a password holding a slash, nor one after a single slash", () => {
    for (const input of ["tcp://:abc/def@localhost:7419", "tcp:/:hunter2@localhost", "tcp+tls://:a/b/c@[::1]:99999"]) {
      const failure = FaktoryUrl.parse(input)
      expect(Either.isLeft(failure)).toBe(true)
      if (Either.isLeft(failure)) {
        for (const secret of ["abc/def", "hunter2", "a/b/c", "def", "b/c"]) expect(failure.left.message).not.toContain(secret)
        expect(failure.left.message).toContain("<redacted>")
      }
    }
  })

  // The password sits between two markers no error text contains by chance: a short password
  // such as "a" or "tcp" occurs naturally in messages, which would fail the test for nothing,
  // and a check of the whole password alone would miss a leak of a part of it. Either marker
  // appearing anywhere is a leak.
  const marker = (name: string) => fc.stringMatching(/^[A-Za-z0-9]{10}$/).map((random) => `${name}${random}`)
  const urlAround = fc.record({
    scheme: fc.constantFrom("tcp", "tcp+tls", "TCP", "http", "redis", "", "1tcp", "tcp "),
    slashes: fc.constantFrom("://", ":/", ":", ":///", "//", "", ":\\"),
    user: fc.constantFrom("", "user", "u:"),
    encode: fc.boolean(),
    host: fc.constantFrom("localhost", "", "[::1]", "bad host", "h", "%zz", "a@b"),
    port: fc.constantFrom("", ":7419", ":99999", ":x", ":"),
    tail: fc.constantFrom("", "/", "/path", "?q=1", "#frag", "/a@b", " "),
    pad: fc.constantFrom("", " ", "\t")
  })

  it.prop(
    "no rendering of an InvalidUrlError shows any part of the password, whatever the URL's shape",
    [marker("PWSTART"), fc.string({ unit: "binary" }), marker("PWEND"), urlAround],
    ([start, middle, end, shape]) => {
      const password = `${start}${middle}${end}`
      const secret = shape.encode ? encodeURIComponent(password) : password
      const input = `${shape.pad}${shape.scheme}${shape.slashes}${shape.user}:${secret}@${shape.host}${shape.port}${shape.tail}${shape.pad}`
      const result = FaktoryUrl.parse(input)
      const rendered = Either.isLeft(result) ? renderings(result.left) : [String(result.right), Util.inspect(result.right)]
      const viaConfig = Effect.runSyncExit(
        Effect.withConfigProvider(FaktoryUrl.config("URL"), ConfigProvider.fromMap(new Map([["URL", input]])))
      )
      if (Exit.isFailure(viaConfig)) rendered.push(Cause.pretty(viaConfig.cause))
      for (const text of rendered) {
        for (const part of [start, end, password, secret]) expect(text).not.toContain(part)
      }
    },
    { fastCheck: { numRuns: 2000 } }
  )

  // What a new user typed, each with the password somewhere the old cut (scheme to the last @)
  // missed: no @ at all, an @ percent-encoded, the password where the port goes, or after it.
  const misplaced: Array<[input: string, shown: string, mention: string]> = [
    ["tcp://:hunter2", "tcp://:<redacted>", "the port must be a number"],
    ["tcp://:hunter2%40127.0.0.1:17421", "tcp://<redacted>%40<redacted>:17421", "a %40 (an encoded @) and no @ after it"],
    ["tcp://%3Ahunter2%40127.0.0.1%3A17421", "tcp://<redacted>%40<redacted>", "a %40 (an encoded @) and no @ after it"],
    ["tcp://hunter2%40localhost", "tcp://<redacted>%40<redacted>", "a %40 (an encoded @) and no @ after it"],
    // The password's own encoded @, the @ and host forgotten: what follows %40 is password too.
    ["tcp://:a%40Zq9SECRETpw", "tcp://<redacted>%40<redacted>", "a %40 (an encoded @) and no @ after it"],
    ["tcp://:x%40Zq9SECRETpw:7419", "tcp://<redacted>%40<redacted>:7419", "a %40 (an encoded @) and no @ after it"],
    ["tcp://:hunter2/x", "tcp://:<redacted>/<redacted>", "the port must be a number"],
    ["tcp://localhost:hunter2", "tcp://localhost:<redacted>", "tcp://:PASSWORD@host:port"],
    ["tcp://localhost:7419:hunter2", "tcp://localhost:<redacted>", "the port must be a number"],
    ["tcp://localhost:72261", "tcp://localhost:<redacted>", "the port must be 1 to 65535"],
    ["  tcp://:hunter 2\t", "tcp://:<redacted>", "the port must be a number"],
    [":hunter2@localhost:7419", "<redacted>@localhost:7419", "must start with the scheme tcp:// or tcp+tls://"],
    ["hunter2@localhost", "<redacted>@localhost", "must start with the scheme"],
    ["user:hunter2@localhost", "<redacted>@localhost", "must start with the scheme"],
    ["hunter2:x@localhost", "<redacted>@localhost", "must start with the scheme"],
    ["tcp::hunter2@localhost", "<redacted>@localhost", "must start with the scheme"],
    ["redis://:hunter2@localhost:6379", "redis://<redacted>@localhost:6379", 'unsupported scheme "redis"'],
    ["tcp:/:hunter2@localhost", "tcp:/<redacted>@localhost", "two slashes"],
    ["tcp:///:hunter2@localhost", "tcp:///<redacted>@localhost", "two slashes"],
    ["tcp://user:hunter2@local host:7419", "tcp://<redacted>@<redacted>:7419", "host name or an IP address"],
    ["tcp://:hun/ter2@localhost", "tcp://<redacted>@localhost", "must percent-encode"],
    ["tcp://:hunter2%zz@localhost", "tcp://<redacted>@localhost", "not valid percent-encoding"],
    ["tcp://localhost:7419?password=hunter2", "tcp://localhost:7419?<redacted>", "no query or fragment"],
    ["tcp://localhost:7419/#hunter2", "tcp://localhost:7419/<redacted>", "no query or fragment"],
    ["tcp://localhost/hunter2", "tcp://localhost/<redacted>", "no path"],
    ["tcp://[::1:hunter2", "tcp://<redacted>", "host name or an IP address"],
    ["tcp://:hunter2@", "tcp://<redacted>@", "a host must follow the @"],
    // A %40 after the host (a path or query) is no encoded @ of the user-info.
    ["tcp://:hunter2%40x@localhost:7419/path?x=hunter2%40x", "tcp://<redacted>@localhost:7419/<redacted>", "no path"],
    ["tcp://:hunter2@localhost:7419?x=%40", "tcp://<redacted>@localhost:7419?<redacted>", "no query or fragment"]
  ]
  for (const [input, shown, mention] of misplaced) {
    it(`shows ${JSON.stringify(input)} as ${shown}, and says what is wrong`, () => {
      const result = FaktoryUrl.parse(input)
      if (Either.isRight(result)) throw new Error(`accepted as ${result.right}`)
      expect(result.left.url).toBe(shown)
      expect(result.left.message).toContain(mention)
      for (const text of renderings(result.left)) {
        expect(text).not.toContain("hunter")
        expect(text).not.toContain("ter2")
      }
    })
  }

  it("still shows what is not secret: scheme, host, port and the separators", () => {
    const shownUrl = (input: string) => Either.match(FaktoryUrl.parse(input), { onLeft: (e) => e.url, onRight: String })
    expect(shownUrl("tcp://localhost:7419/path")).toBe("tcp://localhost:7419/<redacted>")
    expect(shownUrl("http://[::1]:7419")).toBe("http://[::1]:7419")
    expect(shownUrl("localhost:7419")).toBe("localhost:7419")
    expect(shownUrl("not a url")).toBe("<redacted>")
  })

  it("redact shows any text as an InvalidUrlError would, valid URL or not", () => {
    expect(FaktoryUrl.redact("tcp://:s3cret@faktory.internal:7419")).toBe("tcp://<redacted>@faktory.internal:7419")
    expect(FaktoryUrl.redact(" tcp+tls://faktory.internal:s3cret ")).toBe("tcp+tls://faktory.internal:<redacted>")
    expect(FaktoryUrl.redact("tcp://faktory.internal:7419")).toBe("tcp://faktory.internal:7419")
    expect(FaktoryUrl.redact("critical")).toBe("critical")
  })

  // Where a password lands when a URL is typed by hand, well-formed or not. Each shape takes the
  // password as typed (raw or percent-encoded by the user).
  const shapes: ReadonlyArray<(password: string) => string> = [
    (pw) => `tcp://:${pw}@localhost:7419`,
    (pw) => `tcp+tls://:${pw}@[::1]`,
    (pw) => `tcp://user:${pw}@jobs.internal`,
    (pw) => `tcp://${pw}@localhost`,
    (pw) => `TCP://:${pw}@LOCALHOST:7419`,
    (pw) => `tcp://:${pw}@`,
    (pw) => `tcp://:${pw}`,
    (pw) => `tcp://:${pw}/x`,
    (pw) => `tcp://localhost:${pw}`,
    (pw) => `tcp://localhost:7419:${pw}`,
    (pw) => `tcp://:${pw}%40127.0.0.1:17421`,
    (pw) => `tcp://${encodeURIComponent(`:${pw}@127.0.0.1:17421`)}`,
    (pw) => encodeURIComponent(`tcp://:${pw}@127.0.0.1:17421`),
    (pw) => `:${pw}@localhost`,
    (pw) => `${pw}@localhost`,
    (pw) => `user:${pw}@localhost:7419`,
    (pw) => `redis://:${pw}@localhost:6379`,
    (pw) => `http://user:${pw}@localhost/`,
    (pw) => `tcp:/:${pw}@localhost`,
    (pw) => `tcp:${pw}@localhost`,
    (pw) => `tcp:///:${pw}@localhost`,
    (pw) => `tcp:\\:${pw}@localhost`,
    (pw) => ` tcp://:${pw}@localhost \n`,
    (pw) => `tcp://:${pw}@localhost/path`,
    (pw) => `tcp://:${pw}@localhost?x=1`,
    (pw) => `tcp://:${pw}@localhost:99999`,
    (pw) => `tcp://:${pw}@bad host`,
    (pw) => `tcp://:${pw}@[::1`,
    (pw) => `tcp://localhost?password=${pw}`,
    (pw) => `tcp://localhost/#${pw}`,
    (pw) => `tcp://localhost/${pw}`
  ]
  // Stack frames name code, never data, and differ with the caller (fast-check's frames name
  // "Property"): they are left out, and the message is checked whole apart from them.
  const withoutFrames = (text: string) => text.split("\n").filter((line) => !/^\s+at /.test(line)).join("\n")
  /** Every rendering of whatever reading `input` from the options, FAKTORY_URL or FAKTORY_PROVIDER produced. */
  const renderedEverywhere = (input: string): Array<string> => {
    const result = FaktoryUrl.parse(input)
    const rendered = Either.isLeft(result)
      ? [result.left.message, ...renderings(result.left).map(withoutFrames)]
      : [String(result.right), Util.inspect(result.right)]
    for (const [program, env] of [
      [FaktoryUrl.config("URL"), { URL: input }],
      [FaktoryUrl.fromEnv, { FAKTORY_URL: input }],
      [FaktoryUrl.fromEnv, { FAKTORY_PROVIDER: input, FAKTORY_URL: "tcp://localhost" }]
    ] as const) {
      const exit = Effect.runSyncExit(
        Effect.withConfigProvider(program, ConfigProvider.fromMap(new Map(Object.entries(env))))
      )
      rendered.push(Exit.isFailure(exit) ? withoutFrames(Cause.pretty(exit.cause)) : String(exit.value))
    }
    return rendered
  }
  // The text every error says whatever the password: a password that is part of it (" URL",
  // "tcp:", "<redacted>") shows without leaking. Found by placeholders that take each path.
  const fixedText = ["x", "x/y", "%zz", "a@b", "a b", "x:y", "x%40y", "12345", ""]
    .flatMap((placeholder) => shapes.flatMap((shape) => renderedEverywhere(shape(placeholder))))
    .join("\n")

  it.prop(
    "no rendering of any error shows a password, wherever in a URL it was typed",
    [
      fc.oneof(fc.string({ minLength: 4 }), fc.string({ minLength: 4, unit: "binary" }))
        // A number where the port goes is a port, whatever its author meant.
        .filter((password) => !/^[0-9]*$/.test(password) && !fixedText.includes(password)),
      fc.integer({ min: 0, max: shapes.length - 1 }),
      fc.boolean()
    ],
    ([password, shapeIndex, encode]) => {
      const typed = encode ? encodeURIComponent(password) : password
      // Two passwords every URL parser reads otherwise, whatever their author meant: one that
      // starts with an @ is an empty password and then the host (`tcp://:@host`), and one that
      // starts with `word:/` where the text starts is a scheme. (One starting with %40 was
      // left out too, until what follows an encoded @ with no @ after it was redacted.)
      fc.pre(!typed.startsWith("@") && !/^[A-Za-z][A-Za-z0-9+.-]*:[/\\]/.test(typed))
      const input = shapes[shapeIndex]!(typed)
      for (const text of renderedEverywhere(input)) {
        expect(text).not.toContain(password)
        expect(text).not.toContain(typed)
      }
    },
    { fastCheck: { numRuns: 3000 } }
  )

  it.prop(
    "round-trips any host, port, scheme and password",
    [
      fc.stringMatching(/^[a-z][a-z0-9-]{0,20}(\.[a-z][a-z0-9-]{0,10}){0,3}$/),
      fc.integer({ min: 1, max: 65535 }),
      fc.boolean(),
      fc.option(fc.string({ minLength: 1 }), { nil: undefined })
    ],
    ([host, port, tls, password]) => {
      const auth = password === undefined ? "" : `:${encodeURIComponent(password)}@`
      const url = parsed(`${tls ? "tcp+tls" : "tcp"}://${auth}${host}:${port}`)
      expect([url.host, url.port, url.tls]).toEqual([host, port, tls])
      expect(Option.getOrUndefined(Option.map(url.password, Redacted.value))).toBe(password)
    }
  )
})

describe("FaktoryUrl.fromEnv", () => {
  const withEnv = (env: Record<string, string>) =>
    Effect.withConfigProvider(FaktoryUrl.fromEnv, ConfigProvider.fromMap(new Map(Object.entries(env))))

  it.effect("defaults to tcp://localhost:7419", () =>
    Effect.gen(function*() {
      expect(String(yield* withEnv({}))).toBe("tcp://localhost:7419")
    }))

  it.effect("reads FAKTORY_URL", () =>
    Effect.gen(function*() {
      expect(String(yield* withEnv({ FAKTORY_URL: "tcp://:pw@jobs:7000" }))).toBe("tcp://:<redacted>@jobs:7000")
    }))

  it.effect("follows FAKTORY_PROVIDER to another variable", () =>
    Effect.gen(function*() {
      const url = yield* withEnv({ FAKTORY_PROVIDER: "JOBS_URL", JOBS_URL: "tcp+tls://jobs:7001", FAKTORY_URL: "tcp://x" })
      expect(String(url)).toBe("tcp+tls://jobs:7001")
    }))

  it.effect("fails with InvalidUrlError on a bad FAKTORY_URL", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(withEnv({ FAKTORY_URL: "http://:pw@x" }))
      expect(error._tag).toBe("InvalidUrlError")
      expect(error.message).not.toContain("pw")
    }))

  it.effect("fails, naming it, when FAKTORY_PROVIDER names a variable that is not set (it fell back to localhost)", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(withEnv({ FAKTORY_PROVIDER: "JOBS_URL", FAKTORY_URL: "tcp://elsewhere" }))
      expect(error._tag).toBe("InvalidUrlError")
      expect(error.message).toContain("FAKTORY_PROVIDER names JOBS_URL, which is not set")
    }))

  it.effect("fails when FAKTORY_PROVIDER is not a variable name, and never shows what it holds", () =>
    Effect.gen(function*() {
      for (const provider of ["JOBS-URL", "$JOBS_URL", "JOBS_URL ", "1URL", "hunter2!"]) {
        const error = yield* Effect.flip(withEnv({ FAKTORY_PROVIDER: provider }))
        expect(error._tag).toBe("InvalidUrlError")
        expect(error.message).toContain("FAKTORY_PROVIDER must be the name of an environment variable")
        expect(renderings(error).join("\n")).not.toContain(provider)
      }
    }))

  it.effect("says so, never showing it, when FAKTORY_PROVIDER holds the URL itself", () =>
    Effect.gen(function*() {
      for (const provider of ["tcp://:hunter2@127.0.0.1:17419", "tcp://localhost:7419", ":hunter2@jobs", "jobs:7419"]) {
        const error = yield* Effect.flip(withEnv({ FAKTORY_PROVIDER: provider, FAKTORY_URL: "tcp://localhost" }))
        expect(error._tag).toBe("InvalidUrlError")
        expect(error.message).toContain("FAKTORY_PROVIDER holds a URL")
        expect(error.message).toContain("FAKTORY_PROVIDER=MY_FAKTORY_URL")
        expect(error.message).toContain("or put the URL in FAKTORY_URL")
        const rendered = renderings(error).join("\n")
        for (const part of [provider, "hunter2", "17419", "jobs"]) expect(rendered).not.toContain(part)
      }
    }))

  it.effect("takes FAKTORY_PROVIDER set but empty as unset, as the Ruby client does", () =>
    Effect.gen(function*() {
      expect(String(yield* withEnv({ FAKTORY_PROVIDER: "", FAKTORY_URL: "tcp://jobs:7000" }))).toBe("tcp://jobs:7000")
      expect(String(yield* withEnv({ FAKTORY_PROVIDER: "" }))).toBe("tcp://localhost:7419")
    }))
})
