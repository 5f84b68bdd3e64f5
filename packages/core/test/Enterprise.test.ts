import { describe, expect, it } from "@effect/vitest"
import { Client, Enterprise, Job, JobPayload, JobRunner, Protocol, Replies, Resp } from "@effect-faktory/core"
import { type Duration, Effect, Either, FiberRef, FiberRefs, Option, Schema } from "effect"

// The Enterprise wire without a socket: what each command writes, what is refused before
// anything is written, and how each reply shape reads (faktory-protocol.md §7).

const line = <A, E>(command: Either.Either<Protocol.Command<A, E>, unknown>) => Either.getOrThrow(command).line
const refusal = (command: Either.Either<unknown, { readonly message: string }>) => {
  if (Either.isRight(command)) throw new Error("expected a refusal")
  return command.left.message
}
const job = (input: JobPayload.JobInput) => Either.getOrThrow(JobPayload.prepare(input))
const read = <A, E>(command: Either.Either<Protocol.Command<A, E>, unknown>, reply: Resp.Reply) =>
  Either.getOrThrow(command).reply(reply)
const bid = Schema.decodeUnknownSync(Enterprise.Bid)("b-5pBPzTw5W0lyKA")

describe("Enterprise commands as the wire has them", () => {
  it("BATCH NEW writes its callbacks as jobs, a description and a parent, and no bid", () => {
    const success = job({ jobtype: "AlbumReady", args: [42], jid: "success-jid-1" })
    const written = line(Protocol.batchNew({ description: "album 42", parentBid: "b-parent", success }))
    expect(written.startsWith("BATCH NEW {")).toBe(true)
    expect(written.endsWith("}\r\n")).toBe(true)
    const json = JSON.parse(written.slice("BATCH NEW ".length))
    expect(json).toEqual({
      description: "album 42",
      parent_bid: "b-parent",
      success: { jobtype: "AlbumReady", args: [42], jid: "success-jid-1", retry: 25, created_at: success.created_at }
    })
    // A callback built by hand without retry states the default, as any pushed job does.
    const bare = { jid: "complete-jid", jobtype: "Done", args: [], created_at: "2026-07-01T00:00:00Z" }
    expect(JSON.parse(line(Protocol.batchNew({ complete: bare })).slice(10)).complete.retry).toBe(25)
  })

  it("BATCH OPEN/COMMIT/STATUS and TRACK GET put the id at the end of the line", () => {
    expect(line(Protocol.batchOpen(bid))).toBe("BATCH OPEN b-5pBPzTw5W0lyKA\r\n")
    expect(line(Protocol.batchCommit(bid))).toBe("BATCH COMMIT b-5pBPzTw5W0lyKA\r\n")
    expect(line(Protocol.batchStatus(bid))).toBe("BATCH STATUS b-5pBPzTw5W0lyKA\r\n")
    expect(line(Protocol.trackGet("f7APFzrS2RZi9eaA"))).toBe("TRACK GET f7APFzrS2RZi9eaA\r\n")
  })

  it("TRACK SET writes percent (cut to a whole number), desc and reserve_until as RFC 3339", () => {
    const now = new Date("2026-07-01T10:00:00Z")
    expect(line(Protocol.trackSet({ jid: "j1234567", percent: 33.4, description: "resizing" }, now))).toBe(
      "TRACK SET {\"jid\":\"j1234567\",\"percent\":33,\"desc\":\"resizing\"}\r\n"
    )
    // A job at 99.6% is still working: it does not read as done.
    expect(line(Protocol.trackSet({ jid: "j1234567", percent: 99.6 }, now))).toBe("TRACK SET {\"jid\":\"j1234567\",\"percent\":99}\r\n")
    expect(line(Protocol.trackSet({ jid: "j1234567", percent: 0 }, now))).toBe("TRACK SET {\"jid\":\"j1234567\",\"percent\":0}\r\n")
    expect(line(Protocol.trackSet({ jid: "j1234567", reserveUntil: new Date("2026-07-01T11:00:00Z") }, now))).toBe(
      "TRACK SET {\"jid\":\"j1234567\",\"reserve_until\":\"2026-07-01T11:00:00.000Z\"}\r\n"
    )
  })
})

describe("bad input is refused with a typed error naming what is wrong, before anything is written", () => {
  it("a batch with no callback", () => {
    expect(refusal(Protocol.batchNew({ description: "nothing to call" }))).toBe(
      "BATCH NEW: a batch needs a success or a complete callback job (or both); the server refuses one with neither"
    )
  })

  it("a bid that is no bid, wherever a bid goes", () => {
    const complete = job({ jobtype: "Done" })
    for (
      const [bad, says] of [
        ["", "not empty"],
        ["b-1 2", "with no space"],
        ["b-1\r\nFLUSH", "line break"],
        ["b-é", "printable ASCII"]
      ] as const
    ) {
      expect(refusal(Protocol.batchOpen(bad))).toContain("is not a batch id")
      expect(refusal(Protocol.batchOpen(bad))).toContain(says)
      expect(refusal(Protocol.batchCommit(bad))).toMatch(/^BATCH COMMIT: /)
      expect(refusal(Protocol.batchStatus(bad))).toMatch(/^BATCH STATUS: /)
      expect(refusal(Protocol.batchNew({ complete, parentBid: bad }))).toMatch(/^BATCH NEW: parent: /)
    }
    expect(refusal(Enterprise.parseBid("BATCH OPEN", 42))).toBe("BATCH OPEN: the batch id must be a string, not number")
  })

  it("a jid that cannot end a command line", () => {
    expect(refusal(Protocol.trackGet("a b"))).toContain("must be one word")
    expect(refusal(Protocol.trackGet("ab\r\nFLUSH"))).toContain("must be one word")
    expect(refusal(Protocol.trackSet({ jid: "" }))).toBe("TRACK SET: a jid is required: tracking is kept per job")
  })

  it("a percent outside 0–100", () => {
    for (const percent of [-1, 100.5, 140, Number.NaN, Number.POSITIVE_INFINITY]) {
      expect(refusal(Protocol.trackSet({ jid: "j1234567", percent }))).toBe(
        `TRACK SET: percent must be a number from 0 to 100, not ${percent}`
      )
    }
    // From untyped code: a string says it is one.
    expect(refusal(Protocol.trackSet({ jid: "j1234567", percent: "50" as unknown as number }))).toBe(
      `TRACK SET: percent must be a number from 0 to 100, not "50" (a string)`
    )
  })

  it("a reservation extension in the past, now, or more than 24 h ahead", () => {
    const now = new Date("2026-07-01T10:00:00Z")
    expect(refusal(Protocol.trackSet({ jid: "j1234567", reserveUntil: new Date("2026-07-01T09:59:59Z") }, now))).toBe(
      "TRACK SET: reserveUntil 2026-07-01T09:59:59.000Z is not in the future (now is 2026-07-01T10:00:00.000Z)"
    )
    expect(refusal(Protocol.trackSet({ jid: "j1234567", reserveUntil: now }, now))).toContain("is not in the future")
    expect(refusal(Protocol.trackSet({ jid: "j1234567", reserveUntil: new Date("2026-07-02T10:00:01Z") }, now))).toContain(
      "is more than 24 hours ahead"
    )
    expect(Either.isRight(Protocol.trackSet({ jid: "j1234567", reserveUntil: new Date("2026-07-02T10:00:00Z") }, now))).toBe(true)
    expect(refusal(Protocol.trackSet({ jid: "j1234567", reserveUntil: new Date(Number.NaN) }, now))).toContain("valid Date")
  })

  it("custom keys Enterprise reads, with values it cannot use, in a raw push", () => {
    const refused = (custom: Record<string, unknown>) => {
      const result = JobPayload.prepare({ jobtype: "Raw", custom })
      return Either.isLeft(result) ? result.left.message : "accepted"
    }
    expect(refused({ unique_for: "600" })).toBe(
      "job Raw is invalid: custom.unique_for must be a number of seconds, at least 1 (how long the job stays unique; the server takes less as no lock), not \"600\""
    )
    expect(refused({ unique_for: 0 })).toContain("custom.unique_for must be a number of seconds, at least 1")
    // As the typed option: under a second the server would take as no lock.
    expect(refused({ unique_for: 0.5 })).toContain("custom.unique_for must be a number of seconds, at least 1")
    expect(refused({ unique_for: 60, unique_until: "finish" })).toContain("custom.unique_until must be \"success\" or \"start\"")
    expect(refused({ expires_at: "tomorrow" })).toContain("custom.expires_at must be an RFC 3339 time")
    expect(refused({ expires_in: -5 })).toContain("custom.expires_in must be a number of seconds above 0")
    expect(refused({ bid: "b 1" })).toContain("custom.bid must be a batch id")
    expect(refused({ unique_for: 1.5, unique_until: "start", expires_at: "2026-07-01T10:00:00Z", expires_in: 60, bid: "b-1" }))
      .toBe("accepted")
  })
})

describe("typed job options written as the server reads them", () => {
  const Sync = Job.define("Sync", { args: Schema.Tuple(Schema.Number), unique: { for: "10 minutes" }, track: true })

  it.effect("unique_for in seconds (a number), unique_until when given, track: 1, expires_at as RFC 3339", () =>
    Effect.gen(function*() {
      const plain = yield* Sync.payload([1])
      expect(plain.custom).toEqual({ unique_for: 600, track: 1 })
      const started = Date.now()
      const expiring = yield* Sync.with({ unique: { for: "1500 millis", until: "start" }, expiresIn: "1 hour" }).payload([1])
      // Whole seconds, a fraction rounded up: the lock is never shorter than asked.
      expect(expiring.custom).toMatchObject({ unique_for: 2, unique_until: "start", track: 1 })
      const expiresAt = Date.parse(String(expiring.custom?.expires_at))
      expect(expiresAt - started).toBeGreaterThanOrEqual(3_600_000)
      expect(expiresAt - Date.now()).toBeLessThanOrEqual(3_600_000)
      expect(String(expiring.custom?.expires_at)).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/)
      const at = new Date(Date.now() + 86_400_000)
      expect((yield* Sync.with({ expiresAt: at }).payload([1])).custom?.expires_at).toBe(at.toISOString())
      // Per push, a definition's options turned off.
      expect((yield* Sync.with({ unique: false, track: false }).payload([1])).custom).toBeUndefined()
    }))

  it.effect("an expiry given later replaces the earlier one, in either form", () =>
    Effect.gen(function*() {
      const at = new Date(Date.now() + 86_400_000)
      const Expiring = Job.define("Expiring", { args: Schema.Tuple(), expiresAt: at })
      const replaced = yield* Expiring.with({ expiresIn: "1 minute" }).payload([])
      expect(Date.parse(String(replaced.custom?.expires_at))).toBeLessThan(at.getTime())
      const back = yield* Expiring.with({ expiresIn: "1 minute" }).with({ expiresAt: at }).payload([])
      expect(back.custom?.expires_at).toBe(at.toISOString())
    }))

  it.effect("bad options are refused with JobValidationError naming them", () =>
    Effect.gen(function*() {
      const refused = (options: Parameters<typeof Sync.with>[0]) =>
        Effect.map(Effect.flip(Sync.with(options).payload([1])), (error) => error.message)
      expect(yield* refused({ unique: { for: "0 seconds" } })).toBe(
        "job Sync is invalid: unique.for \"0 seconds\" is not a duration of at least 1 second (write it as \"10 seconds\", " +
          "\"500 millis\" or a number of milliseconds; a number is milliseconds): a unique job needs a time limit, which the server counts in whole seconds"
      )
      expect(yield* refused({ unique: { for: -5 } })).toContain("unique.for -5 is not a duration of at least 1 second")
      // Under a second, which the server's whole seconds would take as no lock at all: the same message.
      expect(yield* refused({ unique: { for: "500 millis" } })).toContain("unique.for \"500 millis\" is not a duration of at least 1 second")
      expect(yield* refused({ unique: { for: 600 } })).toContain("a number is milliseconds")
      expect(yield* refused({ unique: { for: "soon" as Duration.DurationInput } })).toContain("unique.for \"soon\" is not a duration of at least 1 second")
      expect(yield* refused({ unique: { for: "1 minute", until: "finish" as "start" } })).toContain(
        "unique.until must be \"success\" or \"start\", not \"finish\""
      )
      expect(yield* refused({ expiresIn: Number.NaN })).toContain("expiresIn NaN is not a duration above 0")
      expect(yield* refused({ expiresAt: new Date(Date.now() - 1000) })).toContain("has passed: the server would drop the job unrun")
      expect(yield* refused({ expiresIn: "1 minute", at: new Date(Date.now() + 120_000) })).toContain(
        "before it is due at"
      )
    }))
})

describe("Enterprise replies read into values or typed errors", () => {
  const opened = Protocol.batchOpen(bid)

  it("BATCH NEW: the bid, as a bulk or simple string; anything else is no bid", () => {
    const created = Replies.batchCreated(undefined)
    expect(created(Resp.bulkString("b-new"))).toEqual(Either.right("b-new"))
    expect(created(Resp.simpleString("b-new"))).toEqual(Either.right("b-new"))
    expect(Either.getLeft(created(Resp.bulkString("")))).toMatchObject(Option.some({ _tag: "ProtocolError" }))
    expect(Either.getLeft(created(Resp.nullBulk))).toMatchObject(Option.some({ _tag: "ProtocolError" }))
    expect(Either.getLeft(created(Resp.simpleString("OK")))).toMatchObject(Option.some({ _tag: "ProtocolError" }))
    expect(Either.getLeft(Replies.batchCreated("b-gone")(Resp.errorReply("ERR", "No such batch b-gone")))).toMatchObject(
      Option.some({ _tag: "BatchNotFoundError", bid: "b-gone", command: "BATCH NEW" })
    )
  })

  it("BATCH OPEN: the bid as a bulk string, or +OK", () => {
    expect(read(opened, Resp.bulkString(bid))).toEqual(Either.right(bid))
    expect(read(opened, Resp.simpleString("OK"))).toEqual(Either.right(bid))
  })

  it("no such batch, in either case (and a null reply), is BatchNotFoundError; other refusals are not", () => {
    for (const message of [`No such batch ${bid}`, `no such batch ${bid}`, "NO SUCH BATCH"]) {
      const commands: ReadonlyArray<Either.Either<Protocol.Command<unknown, unknown>, unknown>> = [
        opened,
        Protocol.batchCommit(bid),
        Protocol.batchStatus(bid)
      ]
      for (const command of commands) {
        const error = Either.getLeft(read(command, Resp.errorReply("ERR", message)))
        expect(error).toMatchObject(Option.some({ _tag: "BatchNotFoundError", bid, detail: message }))
      }
    }
    expect(Either.getLeft(read(opened, Resp.nullBulk))).toMatchObject(Option.some({ _tag: "BatchNotFoundError" }))
    expect(Either.getLeft(read(Protocol.batchStatus(bid), Resp.nullBulk))).toMatchObject(Option.some({ _tag: "BatchNotFoundError" }))
    expect(Either.getLeft(read(opened, Resp.errorReply("ERR", "no such batchery")))).toMatchObject(Option.some({ _tag: "ServerError" }))
    const message = Either.getLeft(read(opened, Resp.errorReply("ERR", `no such batch ${bid}`))).pipe(Option.getOrThrow).message
    expect(message).toBe(`BATCH OPEN: no batch ${bid} on the server (no such batch ${bid}); an uncommitted batch expires after 30 minutes`)
  })

  it("the open-source refusal is EnterpriseRequiredError, naming the command", () => {
    const refused = (text: string) => Resp.errorReply("ERR", text)
    const batches = refused("batch subsystem is only available in Faktory Enterprise")
    const tracking = refused("tracking subsystem is only available in Faktory Enterprise")
    expect(Either.getLeft(Replies.batchCreated(undefined)(batches))).toMatchObject(
      Option.some({ _tag: "EnterpriseRequiredError", feature: "batches (BATCH NEW)" })
    )
    expect(Either.getLeft(read(Protocol.batchStatus(bid), batches))).toMatchObject(
      Option.some({ _tag: "EnterpriseRequiredError", feature: "batches (BATCH STATUS)" })
    )
    expect(Either.getLeft(read(Protocol.trackGet("j1234567"), tracking))).toMatchObject(
      Option.some({ _tag: "EnterpriseRequiredError", feature: "job tracking (TRACK GET)" })
    )
    expect(Either.getLeft(Replies.trackSet(tracking)).pipe(Option.getOrThrow).message).toBe(
      "job tracking (TRACK SET) needs Faktory Enterprise: tracking subsystem is only available in Faktory Enterprise"
    )
  })

  it("BATCH STATUS as Go and Rust read it, and with its odd shapes", () => {
    const status = Either.getOrThrow(read(
      Protocol.batchStatus(bid),
      Resp.bulkString(JSON.stringify({
        bid,
        parent_bid: "b-parent",
        description: "album 42",
        created_at: "2026-07-01T10:00:00.123456Z",
        total: 3,
        pending: 1,
        failed: 1,
        complete_st: "1",
        success_st: ""
      }))
    ))
    expect(status).toEqual({
      bid,
      parentBid: Option.some("b-parent"),
      description: Option.some("album 42"),
      createdAt: Option.some(new Date("2026-07-01T10:00:00.123Z")),
      total: 3,
      pending: 1,
      failed: 1,
      success: "notEnqueued",
      complete: "enqueued"
    })
    // Empty, null and missing fields; counts as strings; states as numbers; "2" is succeeded.
    const odd = Either.getOrThrow(read(
      Protocol.batchStatus(bid),
      Resp.bulkString(`{"bid":"${bid}","parent_bid":"","description":null,"total":"2","pending":"0","failed":"0","complete_st":2,"success_st":"2"}`)
    ))
    expect(odd).toMatchObject({
      parentBid: Option.none(),
      description: Option.none(),
      createdAt: Option.none(),
      total: 2,
      success: "succeeded",
      complete: "succeeded"
    })
    const missingStates = Either.getOrThrow(read(
      Protocol.batchStatus(bid),
      Resp.bulkString(`{"bid":"${bid}","total":0,"pending":0,"failed":0}`)
    ))
    expect([missingStates.success, missingStates.complete]).toEqual(["notEnqueued", "notEnqueued"])
    for (const broken of ['{"bid":"b-1"}', `{"bid":"${bid}","total":-1,"pending":0,"failed":0}`, `{"bid":"${bid}","total":1,"pending":0,"failed":0,"created_at":"yesterday"}`]) {
      expect(Either.getLeft(read(Protocol.batchStatus(bid), Resp.bulkString(broken)))).toMatchObject(
        Option.some({ _tag: "ProtocolError", reason: "MalformedPayload" })
      )
    }
  })

  it("TRACK GET: the observed untracked reply (an empty updated_at), a tracked one, and a null reply", () => {
    const get = Protocol.trackGet("f7APFzrS2RZi9eaA")
    expect(Either.getOrThrow(read(get, Resp.bulkString("{\"jid\":\"f7APFzrS2RZi9eaA\",\"state\":\"unknown\",\"updated_at\":\"\"}"))))
      .toEqual({
        jid: "f7APFzrS2RZi9eaA",
        state: "unknown",
        percent: Option.none(),
        description: Option.none(),
        updatedAt: Option.none()
      })
    expect(Either.getOrThrow(read(
      get,
      Resp.bulkString("{\"jid\":\"f7APFzrS2RZi9eaA\",\"percent\":12,\"desc\":\"Calculating...\",\"state\":\"working\",\"updated_at\":\"2020-01-27T21:10:45Z\"}")
    ))).toEqual({
      jid: "f7APFzrS2RZi9eaA",
      state: "working",
      percent: Option.some(12),
      description: Option.some("Calculating..."),
      updatedAt: Option.some(new Date("2020-01-27T21:10:45Z"))
    })
    expect(Either.getOrThrow(read(get, Resp.nullBulk)).state).toBe("unknown")
    expect(Either.getLeft(read(get, Resp.bulkString("{\"jid\":\"x\",\"state\":\"paused\",\"updated_at\":\"\"}")))).toMatchObject(
      Option.some({ _tag: "ProtocolError", reason: "MalformedPayload" })
    )
  })

  it("PUSH: -NOTUNIQUE is NotUniqueError naming the job; -ERR stays a ServerError", () => {
    const pushed = job({ jobtype: "Sync", jid: "sync-jid-001" })
    const command = Protocol.push(pushed)
    expect(Either.getLeft(command.reply(Resp.errorReply("NOTUNIQUE", "Job not unique")))).toMatchObject(
      Option.some({ _tag: "NotUniqueError", jid: "sync-jid-001", jobtype: "Sync", detail: "Job not unique" })
    )
    expect(Either.getLeft(command.reply(Resp.errorReply("NOTUNIQUE", ""))).pipe(Option.getOrThrow).message).toBe(
      "job Sync (sync-jid-001) is not unique: a job with its jobtype, arguments and queue holds the unique lock, so it was not enqueued (NOTUNIQUE)"
    )
    expect(Either.getLeft(command.reply(Resp.errorReply("ERR", "jobs must have a jobtype parameter")))).toMatchObject(
      Option.some({ _tag: "ServerError", code: "ERR" })
    )
  })

  it("the Schemas encode back to the wire", () => {
    const wire = { bid, total: 1, pending: 0, failed: 0, created_at: "2026-07-01T10:00:00.000Z", complete_st: "2", success_st: "1" }
    const decoded = Schema.decodeUnknownSync(Enterprise.BatchStatus)(wire)
    expect(Schema.encodeSync(Enterprise.BatchStatus)(decoded)).toEqual(wire)
  })
})

describe("a job's batch", () => {
  it("JobPayload.inBatch sets custom.bid, replacing one, and keeps the rest", () => {
    const traced = job({ jobtype: "Resize", custom: { traceparent: "00-x", bid: "b-other" } })
    expect(JobPayload.inBatch(traced, bid).custom).toEqual({ traceparent: "00-x", bid })
    expect(JobPayload.inBatch(job({ jobtype: "Resize" }), bid).custom).toEqual({ bid })
    // Still a checked job: prepare passes it on as it is.
    const joined = JobPayload.inBatch(traced, bid)
    expect(Either.getOrThrow(JobPayload.prepare(joined))).toBe(joined)
  })
})

describe("a job's runtime", () => {
  it.effect("joins no batch of its caller's: a loop that runs jobs inside Batch.run does not put their pushes in it", () =>
    Effect.gen(function*() {
      const bid = Either.getOrThrow(Enterprise.parseBid("test", "b-caller"))
      const runtime = yield* JobRunner.currentRuntime.pipe(Effect.locally(Client.currentBatch, Option.some(bid)))
      expect(FiberRefs.getOrDefault(runtime.fiberRefs, Client.currentBatch)).toEqual(Option.none())
      // The caller's own pushes still join it.
      expect(yield* FiberRef.get(Client.currentBatch).pipe(Effect.locally(Client.currentBatch, Option.some(bid)))).toEqual(Option.some(bid))
    }))
})
