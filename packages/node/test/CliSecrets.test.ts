import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { faktoryWorker, fixture, runToEnd } from "./support/binary.js"

const jobs = fixture("jobs.mjs")

describe("the faktory-worker binary and a URL it cannot use", () => {
  // The password is Zk9pW3QmRtZw; each case is a way a new user got a URL wrong or put it
  // where it does not go. What the output must say proves the reason is still given.
  const secret = "Zk9pW3QmRtZw"
  const cases: Array<[name: string, args: ReadonlyArray<string>, env: Record<string, string>, says: string]> = [
    // A base64 secret often holds "/"; some write one slash after the scheme.
    ["--url, a password with a slash", ["-r", jobs, "-u", "tcp://:Zk9pW3/QmRtZw==@localhost:7419"], {}, "invalid Faktory URL tcp://<redacted>@localhost:7419"],
    ["FAKTORY_URL, one slash after the scheme", ["-r", jobs], { FAKTORY_URL: `tcp:/:${secret}@localhost:7419` }, "invalid Faktory URL tcp:/<redacted>@"],
    ["--url, a password and no host", ["-r", jobs, "-u", `tcp://:${secret}`], {}, "invalid Faktory URL tcp://:<redacted>: the port must be a number"],
    ["--url=, the password where the port goes", ["-r", jobs, `--url=tcp://localhost:${secret}`], {}, "invalid Faktory URL tcp://localhost:<redacted>"],
    ["FAKTORY_URL, the @ percent-encoded with the password", ["-r", jobs], { FAKTORY_URL: `tcp://:${secret}%40127.0.0.1:17421` }, "invalid Faktory URL tcp://<redacted>%40<redacted>:17421"],
    ["FAKTORY_URL, a path after a password with no @", ["-r", jobs], { FAKTORY_URL: `tcp://:${secret}/x` }, "invalid Faktory URL tcp://:<redacted>/<redacted>"],
    ["FAKTORY_PROVIDER holding the URL itself", ["-r", jobs], { FAKTORY_PROVIDER: `tcp://:${secret}@127.0.0.1:17419` }, "FAKTORY_PROVIDER holds a URL"],
    ["the URL given without -u", ["-r", jobs, `tcp://:${secret}@localhost:7419`], {}, `unknown argument "tcp://<redacted>@localhost:7419"`],
    ["the URL glued to -u", ["-r", jobs, `-utcp://:${secret}@localhost`], {}, "unknown argument"],
    ["the URL after -u=", ["-r", jobs, `-u=tcp://:${secret}@localhost`], {}, "unknown argument"],
    ["the URL given to a mistyped flag", ["-r", jobs, "--uri", `tcp://:${secret}@localhost`], {}, "unknown argument"],
    ["the URL given to --queue", ["-r", jobs, "-q", `tcp://:${secret}@localhost`], {}, `--queue "tcp://<redacted>@localhost"`],
    ["the URL given to --concurrency", ["-r", jobs, "-c", `tcp://localhost:${secret}`], {}, `--concurrency "tcp://localhost:<redacted>"`],
    ["the URL given to --require", ["-r", `tcp://:${secret}@localhost:7419`], {}, "--require tcp://<redacted>@localhost:7419: "],
    ["a redis:// URL given to --require", ["-r", `redis://:${secret}@localhost:6379`], {}, "--require redis://<redacted>@localhost:6379: "],
    // A label goes to the server (the Web UI) and into the start line.
    ["the URL given to --label", ["-r", jobs, "-l", `tcp://:${secret}@localhost:7419`], {}, "-l tcp://<redacted>@localhost:7419: expected a label, not a URL"],
    ["a password given to --label", ["-r", jobs, "-l", `:${secret}@localhost`], {}, "expected a label, not a URL"],
    ["the URL given to --log-format", ["-r", jobs, "--log-format", `tcp://:${secret}@localhost`], {}, `--log-format "tcp://<redacted>@localhost"`],
    ["the URL put in FAKTORY_LOG_FORMAT", ["-r", jobs], { FAKTORY_LOG_FORMAT: `tcp://:${secret}@localhost` }, `FAKTORY_LOG_FORMAT "tcp://<redacted>@localhost"`]
  ]
  for (const [name, args, env, says] of cases) {
    it.live(`never prints the password (${name})`, () =>
      Effect.gen(function*() {
        // A bad URL ends it at once: one still running after 20 s is killed, and fails here.
        const { output, signal } = yield* runToEnd(faktoryWorker(args, env), 20)
        expect(signal).toBeNull()
        // One line, the reason in words (the binary reports a failed start so).
        expect(output.trim().split("\n")).toHaveLength(1)
        expect(output).toContain(`faktory-worker: `)
        expect(output).toContain(says)
        for (const part of ["Zk9pW3", "QmRtZw"]) expect(output).not.toContain(part)
      }))
  }
})
