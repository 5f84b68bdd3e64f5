import { expect, layer } from "@effect/vitest"
import { Connection, type ConnectionError, FaktoryUrl, type ProtocolError, Protocol } from "@effect-faktory/core"
import { NodeTransport } from "@effect-faktory/node"
import { FaktoryServer } from "@effect-faktory/testing"
import { Effect, Either } from "effect"

// The reply timer must not drop a connection whose reply is already in the socket's buffer.
// Node runs timer callbacks before its poll phase reads sockets, so when the event loop was
// blocked (a handler's busy loop) past a command's deadline, the timer that fires at the end of
// the block cannot yet have seen the reply the server sent meanwhile. A block that ends less
// than 0.5 s after the deadline makes that timer fire "on time", so it does not count as a
// stall either.

const replyTimeoutMillis = 1_000

const blockFor = (millis: number) => {
  const end = Date.now() + millis
  while (Date.now() < end) {
    // the event loop is blocked, as by a CPU-bound handler
  }
}

/**
 * Sends `command` and blocks the event loop for `millis` right after its line is written
 * (the write is a microtask queued by the send, and the block one queued after it), so that the
 * server's reply arrives while nothing can read it. Both run from a `setImmediate`, after the
 * loop's poll phase, as a handler started by a reply does: the next thing the loop does is run
 * the timers that came due during the block, before it polls the socket again. (A block inside
 * the timers phase would not show it: Node runs the timers of that phase by the time the phase
 * began, so the poll phase comes first.)
 */
const sendThenBlock = <A, E>(connection: Connection.Connection, command: Protocol.Command<A, E>, millis: number) =>
  Effect.async<A, E | ConnectionError | ProtocolError>((resume) => {
    setImmediate(() => {
      connection.unsafeSend(command, resume)
      queueMicrotask(() => blockFor(millis))
    })
  })

layer(FaktoryServer.layer({ webUi: false }), { excludeTestServices: true, timeout: "90 seconds" })(
  "a connection whose event loop was blocked across its reply deadline",
  (it) => {
    it.scoped("keeps its connection and gets the reply the server sent during the block, wherever the block ends", () =>
      Effect.gen(function*() {
        const server = yield* FaktoryServer.FaktoryServer
        const url = Either.getOrThrow(FaktoryUrl.parse(server.url))
        // The greeting's wait arms the timer as the connection opens: it is let come due and
        // stop, so that each round's command arms it anew and its deadline is where intended.
        const open = Connection.make({ url, replyTimeout: `${replyTimeoutMillis} millis` }).pipe(
          Effect.provide(NodeTransport.layer),
          Effect.zipLeft(Effect.sleep(`${replyTimeoutMillis + 100} millis`))
        )
        let connection = yield* open
        const outcomes: Array<string> = []
        // The block ends from 300 ms before the command's deadline to 450 ms after it: the
        // timer fires either before the reply could be read or within its lateness tolerance.
        for (let x = -300; x <= 450; x += 50) {
          const result = yield* Effect.either(sendThenBlock(connection, Protocol.flush, replyTimeoutMillis + x))
          outcomes.push(
            `block ${replyTimeoutMillis + x} ms: ${Either.isRight(result) ? "reply" : result.left.message}`
          )
          // A dropped connection is replaced, so that every round is tried.
          if (!connection.isOpen()) connection = yield* open
          // Let the timer of this round come due and stop before the next round's command.
          yield* Effect.sleep(`${Math.max(0, -x) + 100} millis`)
        }
        expect(outcomes.filter((outcome) => !outcome.endsWith(": reply"))).toEqual([])
        expect(outcomes).toHaveLength(16)
        expect(connection.isOpen()).toBe(true)
      }))

    it.scoped("a reply that is really missing still times out, soon after its deadline", () =>
      Effect.gen(function*() {
        const server = yield* FaktoryServer.FaktoryServer
        const url = Either.getOrThrow(FaktoryUrl.parse(server.url))
        const connection = yield* Connection.make({ url, replyTimeout: `${replyTimeoutMillis} millis` }).pipe(
          Effect.provide(NodeTransport.layer)
        )
        // The server holds a FETCH on an empty queue for 2 s, past the 1 s timeout.
        const started = Date.now()
        const error = yield* Effect.flip(connection.send(Either.getOrThrow(Protocol.fetch(["stall-never-pushed"]))))
        expect(error).toMatchObject({ _tag: "ConnectionError", reason: "Timeout" })
        expect(Date.now() - started).toBeGreaterThanOrEqual(replyTimeoutMillis - 10)
        expect(Date.now() - started).toBeLessThan(1_900)
        expect(connection.isOpen()).toBe(false)
      }))
  }
)
