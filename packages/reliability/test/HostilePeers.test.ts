import { describe, expect, it } from "@effect/vitest"
import { Client } from "@effect-faktory/core"
import { NodeTransport } from "@effect-faktory/node"
import { Cause, Chunk, Effect, Exit, Option, Schedule } from "effect"
import type * as Net from "node:net"
import * as Memory from "./support/memory.js"
import * as Peer from "./support/peer.js"
import * as Random from "./support/random.js"

// Scenario 3: fake servers (node:net on 127.0.0.1) doing what a real Faktory never does, past
// the cases of packages/core/test/HostileServer.test.ts (absurd hash rounds, other protocol
// versions, silence, a non-Faktory banner, one reply announced beyond maxReplyBytes): garbage
// greetings, replies one byte at a time, endless lines, closes in the middle of a reply,
// replies nobody asked for, absurd bulk lengths. Every outcome must be the right result or a
// typed error (never a defect), within its deadline, with memory that does not keep what the
// peer sent.

const REPLY_TIMEOUT_MILLIS = 1000
const options = (url: string): Client.ClientOptions => ({
  url,
  connectRetry: Schedule.recurs(0),
  handshakeTimeout: "1 second",
  replyTimeout: `${REPLY_TIMEOUT_MILLIS} millis`,
  connectDeadline: "3 seconds",
  poolSize: 1,
  batchPushes: false
})
/** The longest any single command may take here: the connect deadline plus one reply timeout, and slack for a loaded machine. */
const BOUND_MILLIS = 3000 + REPLY_TIMEOUT_MILLIS + 1500

const typedTags = new Set(["ConnectionError", "ProtocolError", "ServerError", "AuthenticationError"])

interface Settled<A> {
  readonly millis: number
  readonly value: A | undefined
  readonly error: { readonly _tag: string; readonly reason?: string; readonly message: string } | undefined
}

/** Runs `effect` within BOUND_MILLIS; fails the test on a hang or a defect, else returns what happened. */
const settle = <A, E extends { readonly _tag: string; readonly message: string }, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.gen(function*() {
    const started = Date.now()
    const exit = yield* Effect.exit(effect.pipe(Effect.timeoutFail({ duration: BOUND_MILLIS, onTimeout: () => "hang" as const })))
    const millis = Date.now() - started
    if (Exit.isSuccess(exit)) return { millis, value: exit.value, error: undefined } satisfies Settled<A>
    expect(Chunk.toArray(Cause.defects(exit.cause)), "a defect, not a typed error").toEqual([])
    const failure = Option.getOrUndefined(Cause.failureOption(exit.cause))
    expect(failure, `no hang past ${BOUND_MILLIS} ms`).not.toBe("hang")
    if (failure === undefined || failure === "hang") return yield* Effect.die("unreachable: checked above")
    expect(typedTags.has(failure._tag), `typed error, got ${failure._tag}`).toBe(true)
    const reason = "reason" in failure && typeof failure.reason === "string" ? failure.reason : undefined
    return {
      millis,
      value: undefined,
      error: { _tag: failure._tag, message: failure.message, ...(reason === undefined ? {} : { reason }) }
    } satisfies Settled<A>
  })

const connect = (url: string) => Client.make(options(url)).pipe(Effect.provide(NodeTransport.layer))

/** One push against a peer; returns how it ended. */
const pushTo = (peer: Peer.Peer) =>
  Effect.gen(function*() {
    const client = yield* connect(peer.url)
    return yield* settle(client.push({ jobtype: "Hostile", args: [] }))
  }).pipe(Effect.scoped)

const expectError = (settled: Settled<unknown>, tag: string, reason?: string) => {
  expect(settled.value, `expected ${tag}, got a result`).toBeUndefined()
  expect(settled.error?._tag, settled.error?.message).toBe(tag)
  if (reason !== undefined) expect(settled.error?.reason, settled.error?.message).toBe(reason)
}

describe("garbage greetings", () => {
  const cases: ReadonlyArray<readonly [string, string, string, string]> = [
    ["HI with nothing after it", "+HI\r\n", "ProtocolError", "UnexpectedReply"],
    ["HI with cut-off JSON", "+HI {\r\n", "ProtocolError", "MalformedPayload"],
    ["HI null", "+HI null\r\n", "ProtocolError", "MalformedPayload"],
    ["HI []", "+HI []\r\n", "ProtocolError", "MalformedPayload"],
    ["a version as a string", "+HI {\"v\":\"2\"}\r\n", "ProtocolError", "MalformedPayload"],
    ["negative hash rounds", "+HI {\"v\":2,\"s\":\"ab\",\"i\":-1}\r\n", "ProtocolError", "MalformedPayload"],
    ["fractional hash rounds", "+HI {\"v\":2,\"s\":\"ab\",\"i\":1.5}\r\n", "ProtocolError", "MalformedPayload"],
    ["a salt that is a number", "+HI {\"v\":2,\"s\":42}\r\n", "ProtocolError", "MalformedPayload"],
    ["OK instead of HI", "+OK\r\n", "ProtocolError", "UnexpectedReply"],
    ["an error instead of HI", "-ERR go away\r\n", "ProtocolError", "UnexpectedReply"],
    ["a null bulk string", "$-1\r\n", "ProtocolError", "UnexpectedReply"],
    ["a bulk string", "$3\r\nabc\r\n", "ProtocolError", "UnexpectedReply"],
    ["a RESP array", "*1\r\n", "ProtocolError", "UnsupportedType"],
    ["a RESP integer", ":1\r\n", "ProtocolError", "UnsupportedType"],
    ["an empty line", "\r\n", "ProtocolError", "UnexpectedByte"],
    ["NUL bytes", "\u0000\u0000\u0000\r\n", "ProtocolError", "UnexpectedByte"],
    ["LF without CR", "+HI {\"v\":2}\n", "ProtocolError", "MissingTerminator"],
    ["two greetings", `${Peer.GREETING}${Peer.GREETING}`, "ProtocolError", "UnexpectedReply"]
  ]
  for (const [name, greeting, tag, reason] of cases) {
    it.live(`${name}: ${tag} (${reason})`, () =>
      Effect.gen(function*() {
        const peer = yield* Peer.speaking(greeting)
        expectError(yield* pushTo(peer), tag, reason)
      }).pipe(Effect.scoped))
  }

  it.live("a greeting cut off and the connection closed: ConnectionError (Closed)", () =>
    Effect.gen(function*() {
      const peer = yield* Peer.speaking((socket) => socket.end("+HI {\"v\""))
      expectError(yield* pushTo(peer), "ConnectionError", "Closed")
    }).pipe(Effect.scoped))

  it.live("an endless greeting (no CRLF, as fast as the client reads): LineTooLong, memory bounded", () =>
    Effect.gen(function*() {
      let flooded = { written: () => 0 }
      const peer = yield* Peer.speaking((socket) => {
        flooded = Peer.flood(socket, "+HI ", 0x61)
      })
      const before = Memory.settledBytes()
      const settled = yield* pushTo(peer)
      const grown = Memory.settledBytes() - before
      console.log(`[hostile] endless greeting: ${Memory.mib(flooded.written())} sent, ${settled.millis} ms, retained ${Memory.mib(grown)}`)
      expectError(settled, "ProtocolError", "LineTooLong")
      expect(grown).toBeLessThan(8 * 1024 * 1024)
    }).pipe(Effect.scoped))

  it.live("500 random greetings (seeded): each a typed error, none a defect or a hang", () =>
    Effect.gen(function*() {
      const random = Random.fromEnv("hostile greetings")
      const greetings = Array.from({ length: 500 }, () => {
        const bytes = Array.from({ length: random.int(0, 64) }, () => random.int(0, 255))
        // Some start like a greeting, some end like a line, so the decoder gets past the first byte.
        const head = random.chance(0.3) ? [...Buffer.from("+HI ")] : random.chance(0.2) ? [0x24] : []
        const tail = random.chance(0.7) ? [13, 10] : []
        return Uint8Array.from([...head, ...bytes, ...tail])
      })
      let next = 0
      const peer = yield* Peer.speaking((socket) => {
        const greeting = greetings[next++ % greetings.length]!
        socket.write(greeting)
        // Without a line end the client would wait out its handshake timeout: close instead.
        if (greeting.at(-1) !== 10) setTimeout(() => socket.end(), 20)
      })
      const tags = new Map<string, number>()
      let slowest = 0
      for (let i = 0; i < greetings.length; i++) {
        const settled = yield* pushTo(peer)
        expect(settled.value, `greeting ${i} was accepted`).toBeUndefined()
        const key = `${settled.error?._tag}/${settled.error?.reason}`
        tags.set(key, (tags.get(key) ?? 0) + 1)
        slowest = Math.max(slowest, settled.millis)
      }
      console.log(`[hostile] random greetings: ${JSON.stringify(Object.fromEntries(tags))}, slowest ${slowest} ms`)
      expect(peer.accepted()).toBe(greetings.length)
    }).pipe(Effect.scoped), 120_000)
})

describe("replies cut, stretched and stalled", () => {
  it.live("a greeting and replies sent one byte at a time decode as if whole", () =>
    Effect.gen(function*() {
      const job = "{\"jid\":\"0123456789abcdef\",\"jobtype\":\"Split\",\"args\":[\"é\",1],\"queue\":\"q\"}"
      const peer = yield* Peer.speaking(
        (socket) => Peer.trickle(socket, Peer.GREETING),
        Peer.helloThen((line, socket) =>
          Peer.trickle(socket, line.startsWith("FETCH") ? `$${Buffer.byteLength(job)}\r\n${job}\r\n` : "+OK\r\n")
        )
      )
      const client = yield* connect(peer.url)
      const pushed = yield* settle(client.push({ jobtype: "Split", args: [] }))
      expect(pushed.error).toBeUndefined()
      const fetched = yield* settle(client.fetch(["q"]))
      expect(fetched.error).toBeUndefined()
      expect(fetched.value).toEqual(Option.some(expect.objectContaining({ jid: "0123456789abcdef", args: ["é", 1] })))
    }).pipe(Effect.scoped))

  it.live("a reply that trickles for ever (a byte every 100 ms, no CRLF) times out at replyTimeout", () =>
    Effect.gen(function*() {
      const peer = yield* Peer.speaking(Peer.GREETING, Peer.helloThen((_, socket) => Peer.trickle(socket, `+${"O".repeat(10_000)}`, 100)))
      const settled = yield* pushTo(peer)
      expectError(settled, "ConnectionError", "Timeout")
      expect(settled.millis).toBeLessThan(REPLY_TIMEOUT_MILLIS + 1500)
    }).pipe(Effect.scoped))

  const endless: ReadonlyArray<readonly [string, string, string]> = [
    ["a simple string", "+", "LineTooLong"],
    ["an error line", "-ERR ", "LineTooLong"],
    ["a bulk string longer than it said (1,000 bytes)", "$1000\r\n", "MissingTerminator"]
  ]
  for (const [name, prefix, reason] of endless) {
    it.live(`${name} that never ends: ProtocolError (${reason}), memory bounded`, () =>
      Effect.gen(function*() {
        let flooded = { written: () => 0 }
        const peer = yield* Peer.speaking(Peer.GREETING, Peer.helloThen((_, socket) => {
          flooded = Peer.flood(socket, prefix, 0x61)
        }))
        const before = Memory.settledBytes()
        const settled = yield* pushTo(peer)
        const grown = Memory.settledBytes() - before
        console.log(`[hostile] endless ${name}: ${Memory.mib(flooded.written())} sent, ${settled.millis} ms, retained ${Memory.mib(grown)}`)
        expectError(settled, "ProtocolError", reason)
        expect(grown).toBeLessThan(8 * 1024 * 1024)
      }).pipe(Effect.scoped))
  }

  const closes: ReadonlyArray<readonly [string, string]> = [
    ["in the middle of a line", "+O"],
    ["between CR and LF", "+OK\r"],
    ["in the middle of a bulk string", "$100\r\nabc"],
    ["after a bulk length", "$100\r\n"]
  ]
  for (const [name, partial] of closes) {
    it.live(`the server closes ${name}: ConnectionError (Closed)`, () =>
      Effect.gen(function*() {
        const peer = yield* Peer.speaking(Peer.GREETING, Peer.helloThen((_, socket) => socket.end(partial)))
        expectError(yield* pushTo(peer), "ConnectionError", "Closed")
      }).pipe(Effect.scoped))
  }

  it.live("the server resets the connection (RST) in the middle of a reply: ConnectionError", () =>
    Effect.gen(function*() {
      const peer = yield* Peer.speaking(Peer.GREETING, Peer.helloThen((_, socket) => {
        socket.write("$100\r\nabc", () => socket.resetAndDestroy())
      }))
      const settled = yield* pushTo(peer)
      expect(settled.error?._tag).toBe("ConnectionError")
    }).pipe(Effect.scoped))
})

// A pool whose every slot held a connection that broke while idle (here poolSize 1 and an
// unprompted reply; with a real server, a restart while the client is idle:
// PoolAfterIdleBreak.test.ts) must not hang the next command: pruning the broken connections
// signals a change before anyone waits for it (ConnectionPool's awaitChange looks again).
describe("replies nobody asked for", () => {
  it.live("an extra reply right after HELLO's: ProtocolError (UnexpectedReply), not taken as the push's reply", () =>
    Effect.gen(function*() {
      const peer = yield* Peer.speaking(Peer.GREETING, (line, socket) => {
        if (line.startsWith("HELLO")) socket.write("+OK\r\n-ERR unprompted\r\n")
        else socket.write("+OK\r\n")
      })
      expectError(yield* pushTo(peer), "ProtocolError", "UnexpectedReply")
    }).pipe(Effect.scoped))

  for (const [name, extra] of [["a second OK to one PUSH", "+OK\r\n+OK\r\n"], ["an error after the OK", "+OK\r\n-ERR late\r\n"]] as const) {
    it.live(`${name}: the push succeeds, the connection is dropped, later pushes get a new one`, () =>
      Effect.gen(function*() {
        const peer = yield* Peer.speaking(Peer.GREETING, Peer.helloThen((_, socket) => socket.write(extra)))
        const client = yield* connect(peer.url)
        const first = yield* settle(client.push({ jobtype: "Twice", args: [] }))
        expect(first.error).toBeUndefined()
        // Give the extra reply time to arrive: the connection then fails with UnexpectedReply.
        yield* Effect.sleep("100 millis")
        const outcomes: Array<string> = []
        for (let i = 0; i < 5; i++) {
          const settled = yield* settle(client.push({ jobtype: "Twice", args: [] }))
          outcomes.push(settled.error === undefined ? "ok" : `${settled.error._tag}/${settled.error.reason}`)
        }
        console.log(`[hostile] after ${name}: ${outcomes.join(", ")}; ${peer.accepted()} connections`)
        // The pool may hand out the broken connection once (its error, typed); never again.
        expect(outcomes.slice(1)).toEqual(["ok", "ok", "ok", "ok"])
        expect(["ok", "ProtocolError/UnexpectedReply"]).toContain(outcomes[0])
      }).pipe(Effect.scoped))
  }

  it.live("an error sent unprompted to an idle connection: the next push gets a fresh connection or a typed error", () =>
    Effect.gen(function*() {
      const sockets: Array<Net.Socket> = []
      const peer = yield* Peer.speaking(Peer.GREETING, Peer.helloThen((_, socket) => {
        sockets.push(socket)
        socket.write("+OK\r\n")
      }))
      const client = yield* connect(peer.url)
      expect((yield* settle(client.push({ jobtype: "Idle", args: [] }))).error).toBeUndefined()
      for (const socket of sockets) socket.write("-ERR boom\r\n")
      yield* Effect.sleep("100 millis")
      const outcomes: Array<string> = []
      for (let i = 0; i < 3; i++) {
        const settled = yield* settle(client.push({ jobtype: "Idle", args: [] }))
        outcomes.push(settled.error === undefined ? "ok" : `${settled.error._tag}/${settled.error.reason}`)
      }
      console.log(`[hostile] after an unprompted error: ${outcomes.join(", ")}`)
      expect(outcomes.slice(1)).toEqual(["ok", "ok"])
    }).pipe(Effect.scoped))
})

describe("absurd bulk lengths", () => {
  const lengths: ReadonlyArray<readonly [string, string, string]> = [
    ["17 digits", "$99999999999999999\r\n", "InvalidLength"],
    ["beyond 2^53", "$9007199254740993\r\n", "BulkTooLarge"],
    ["one byte over the default limit", "$536870889\r\n", "BulkTooLarge"],
    ["negative, not -1", "$-5\r\n", "InvalidLength"],
    ["in exponent notation", "$1e9\r\n", "InvalidLength"],
    ["with a plus sign", "$+5\r\n", "InvalidLength"],
    ["with leading zeros", "$005\r\n", "InvalidLength"]
  ]
  for (const [name, line, reason] of lengths) {
    it.live(`a bulk length ${name}: ProtocolError (${reason}) at once`, () =>
      Effect.gen(function*() {
        const peer = yield* Peer.speaking(Peer.GREETING, Peer.helloThen((_, socket) => socket.write(line)))
        const settled = yield* pushTo(peer)
        expectError(settled, "ProtocolError", reason)
        expect(settled.millis).toBeLessThan(REPLY_TIMEOUT_MILLIS)
      }).pipe(Effect.scoped))
  }

  it.live("the largest length allowed announced, 1 KiB sent, then silence: Timeout, and nothing allocated ahead", () =>
    Effect.gen(function*() {
      const peer = yield* Peer.speaking(Peer.GREETING, Peer.helloThen((_, socket) => socket.write(`$536870888\r\n${"x".repeat(1024)}`)))
      const before = Memory.settledBytes()
      const settled = yield* pushTo(peer)
      const grown = Memory.settledBytes() - before
      console.log(`[hostile] 512 MiB announced, 1 KiB sent: ${settled.millis} ms, retained ${Memory.mib(grown)}`)
      expectError(settled, "ConnectionError", "Timeout")
      expect(grown).toBeLessThan(4 * 1024 * 1024)
    }).pipe(Effect.scoped))
})
