import { expect, layer } from "@effect/vitest"
import { Client, Job, JobPayload, Protocol, push, Replies } from "@effect-faktory/core"
import { NodeTransport } from "@effect-faktory/node"
import { FaktoryServer } from "@effect-faktory/testing"
import { Effect, Either, Option, Schema } from "effect"
import { env, queueSize } from "./support.js"

const Env = env({}, { poolSize: 4 })

const sets = Effect.map(Effect.flatMap(Client.Client, (client) => client.info), (info) => info.faktory.sets ?? {})

/** A pushBulk's outcome in a few fields: the error's, or how many jobs were pushed. */
const summary = (outcome: Either.Either<Client.PushBulkResult, { readonly _tag: string; readonly jid?: string | undefined; readonly jobtype?: string | undefined }>) =>
  Either.isLeft(outcome)
    ? { _tag: outcome.left._tag, jid: outcome.left.jid, jobtype: outcome.left.jobtype }
    : { pushed: outcome.right.pushed.length, rejected: outcome.right.rejected.length }

const fetchOne = (queue: string) =>
  Effect.flatMap(Client.Client, (client) => client.fetch([queue])).pipe(Effect.map(Option.getOrThrow))

layer(Env, { excludeTestServices: true, timeout: "60 seconds" })("Client against a real Faktory server", (it) => {
  it.effect("pushes a job and fetches it back with every field intact", () =>
    Effect.gen(function*() {
      const client = yield* Client.Client
      const jid = yield* client.push({
        jobtype: "SendEmail",
        args: ["a@example.com", { template: "welcome", n: 3 }, [1, 2]],
        queue: "push-fetch",
        retry: 3,
        reserve_for: 120,
        custom: { locale: "fr", trace: { id: "t1" } }
      })
      expect(yield* queueSize("push-fetch")).toBe(1)
      const job = yield* fetchOne("push-fetch")
      expect(job).toMatchObject({
        jid,
        jobtype: "SendEmail",
        args: ["a@example.com", { n: 3, template: "welcome" }, [1, 2]],
        queue: "push-fetch",
        retry: 3,
        reserve_for: 120,
        custom: { locale: "fr", trace: { id: "t1" } }
      })
      expect(job.enqueued_at).toBeDefined()
      yield* client.ack(jid)
      expect(yield* queueSize("push-fetch")).toBe(0)
    }))

  // Faktory 1.10 decodes each pushed job over one shared default retry policy: a job pushed
  // with "retry": N leaves N behind for every later job that does not say, until the server
  // restarts. Sending retry every time is the only defence a client has.
  it.effect("a job pushed without retry gets 25, even right after one pushed with retry 0", () =>
    Effect.gen(function*() {
      const client = yield* Client.Client
      yield* client.push({ jobtype: "NoRetry", queue: "retry-leak", retry: 0 })
      const plain = yield* client.push({ jobtype: "Plain", queue: "retry-leak" })
      yield* client.pushBulk([{ jobtype: "NoRetryBulk", queue: "retry-leak", retry: 0 }])
      const [bulk] = (yield* client.pushBulk([{ jobtype: "PlainBulk", queue: "retry-leak" }])).pushed
      yield* client.push({ jobtype: "NoRetry", queue: "retry-leak", retry: 0 })
      const Typed = Job.define("TypedPlain", { args: Schema.Tuple(Schema.Number), queue: "retry-leak" })
      const typed = yield* Typed.push([1])
      const jobs: Array<JobPayload.Job> = []
      for (let i = 0; i < 6; i++) jobs.push(yield* fetchOne("retry-leak"))
      const retryOf = (jid: string | undefined) => jobs.find((job) => job.jid === jid)?.retry
      expect([retryOf(plain), retryOf(bulk), retryOf(typed)]).toEqual([25, 25, 25])
      yield* Effect.forEach(jobs, (job) => client.ack(job.jid))
    }))

  it.effect("fetch returns None from empty queues after the server's 2 s wait", () =>
    Effect.gen(function*() {
      const client = yield* Client.Client
      const started = Date.now()
      expect(yield* client.fetch(["empty-a", "empty-b"])).toEqual(Option.none())
      expect(Date.now() - started).toBeGreaterThanOrEqual(1500)
    }))

  it.effect("fetch serves queues in strict priority order", () =>
    Effect.gen(function*() {
      const client = yield* Client.Client
      const low = yield* client.push({ jobtype: "P", queue: "prio-low" })
      const high = yield* client.push({ jobtype: "P", queue: "prio-high" })
      const first = Option.getOrThrow(yield* client.fetch(["prio-high", "prio-low"]))
      const second = Option.getOrThrow(yield* client.fetch(["prio-high", "prio-low"]))
      expect([first.jid, second.jid]).toEqual([high, low])
      yield* client.ack(first.jid)
      yield* client.ack(second.jid)
    }))

  it.effect("a failed job goes to retries carrying our errtype, message and backtrace", () =>
    Effect.gen(function*() {
      const client = yield* Client.Client
      const before = (yield* sets).retries ?? 0
      const jid = yield* client.push({ jobtype: "Flaky", queue: "fail-q", retry: 2 })
      yield* fetchOne("fail-q")
      yield* client.fail({ jid, errtype: "MailerError", message: "smtp said 550", backtrace: ["at send (mail.ts:10)"] })
      expect((yield* sets).retries).toBe(before + 1)
      // Bring it back from retries to read what the server recorded.
      yield* client.mutate({ cmd: "requeue", target: "retries", filter: { jids: [jid] } })
      const job = yield* fetchOne("fail-q")
      expect(job.failure).toMatchObject({
        retry_count: 0,
        errtype: "MailerError",
        message: "smtp said 550",
        backtrace: ["at send (mail.ts:10)"]
      })
      yield* client.ack(jid)
    }))

  it.effect("FAIL of a job that is not reserved is a ServerError", () =>
    Effect.gen(function*() {
      const client = yield* Client.Client
      const error = yield* Effect.flip(client.fail({ jid: "never-fetched-jid", errtype: "X", message: "y" }))
      expect(error._tag).toBe("ServerError")
      expect(error._tag === "ServerError" && error.detail).toContain("Job not found")
    }))

  it.effect("beats for a worker and follows its state forward", () =>
    Effect.gen(function*() {
      const server = yield* FaktoryServer.FaktoryServer
      const wid = `wid-${Date.now()}`
      const worker = yield* Client.make({
        ...server.clientOptions,
        poolSize: 1,
        worker: { wid, hostname: "test-host", pid: process.pid, labels: ["test"] }
      })
      expect(yield* worker.beat({ wid, rssKb: 1234 })).toBe("running")
      expect(yield* worker.beat({ wid, currentState: "quiet" })).toBe("quiet")
      expect(yield* worker.beat({ wid })).toBe("quiet")
      expect(yield* worker.beat({ wid, currentState: "terminate" })).toBe("terminate")
      const client = yield* Client.Client
      const error = yield* Effect.flip(client.beat({ wid: "nobody-knows-me" }))
      expect(error._tag === "ServerError" && error.detail).toContain("unknown worker")
    }).pipe(Effect.scoped, Effect.provide(NodeTransport.layer)))

  it.effect("mutates the scheduled, retries and dead sets", () =>
    Effect.gen(function*() {
      const client = yield* Client.Client
      const later = new Date(Date.now() + 3_600_000)
      const a = yield* client.push({ jobtype: "Later", queue: "mutate-q", at: later })
      const b = yield* client.push({ jobtype: "Later", queue: "mutate-q", at: later, args: ["keep me"] })
      yield* client.push({ jobtype: "Other", queue: "mutate-q", at: later })
      expect((yield* sets).scheduled).toBe(3)
      // kill by jid, then by pattern (with a space), leaving the other jobtype.
      yield* client.mutate({ cmd: "kill", target: "scheduled", filter: { jids: [a] } })
      yield* client.mutate({ cmd: "kill", target: "scheduled", filter: { jobtype: "Later", pattern: "*keep me*" } })
      expect(yield* sets).toMatchObject({ scheduled: 1, dead: 2 })
      yield* client.mutate({ cmd: "requeue", target: "dead", filter: { jobtype: "Later" } })
      expect(yield* queueSize("mutate-q")).toBe(2)
      const requeued = [yield* fetchOne("mutate-q"), yield* fetchOne("mutate-q")].map((job) => job.jid).sort()
      expect(requeued).toEqual([a, b].sort())
      yield* client.mutate({ cmd: "discard", target: "scheduled", filter: { jobtype: "Other" } })
      expect((yield* sets).scheduled).toBe(0)
      yield* client.push({ jobtype: "Later", queue: "mutate-q", at: later })
      yield* client.mutate({ cmd: "clear", target: "scheduled" })
      expect((yield* sets).scheduled).toBe(0)
    }))

  // The server splits MUTATE's line on spaces; JSON carries a space inside a string as \u0020,
  // which the split does not see and the JSON decoder turns back into a space.
  it.effect("MUTATE finds jobs by a jobtype, a jid or a pattern with a space in it, exactly", () =>
    Effect.gen(function*() {
      const client = yield* Client.Client
      const queue = "mutate-spaced-q"
      const later = new Date(Date.now() + 3_600_000)
      /** Every job now in the queue, fetched and ACKed: their jids. */
      const drained = Effect.gen(function*() {
        const jids: Array<string> = []
        for (let n = yield* queueSize(queue); n > 0; n--) {
          const job = yield* fetchOne(queue)
          jids.push(job.jid)
          yield* client.ack(job.jid)
        }
        return jids.sort()
      })
      /** A mutation's outcome: the jobs it brought back to the queue, or its error. */
      const requeued = (mutation: Protocol.Mutation) =>
        Effect.matchEffect(client.mutate(mutation), {
          onFailure: (error): Effect.Effect<string | Array<string>> => Effect.succeed(error.message),
          onSuccess: () => drained
        })
      // In retries: a job whose jobtype has a space, and one whose jobtype differs only there.
      const spacedType = yield* client.push({ jobtype: "Send Email", queue, retry: 5 })
      const lookalikeType = yield* client.push({ jobtype: "Send_Email", queue, retry: 5 })
      for (let i = 0; i < 2; i++) {
        const job = yield* fetchOne(queue)
        yield* client.fail({ jid: job.jid, errtype: "Flaky", message: "try again" })
      }
      // Scheduled: a jid with spaces, and jobs whose argument has a space or something else there.
      const spacedJid = yield* client.push({ jid: "spaced jid 0001", jobtype: "Later", queue, at: later })
      const spacedArg = yield* client.push({ jobtype: "Later", queue, at: later, args: ["no such user"] })
      const lookalikeArg = yield* client.push({ jobtype: "Later", queue, at: later, args: ["no_such_user"] })
      const outcomes = {
        jobtype: yield* requeued({ cmd: "requeue", target: "retries", filter: { jobtype: "Send Email" } }),
        jids: yield* requeued({ cmd: "requeue", target: "scheduled", filter: { jids: ["spaced jid 0001"] } }),
        pattern: yield* requeued({ cmd: "requeue", target: "scheduled", filter: { pattern: "*\"no such user\"*" } })
      }
      expect(outcomes).toEqual({ jobtype: [spacedType], jids: [spacedJid], pattern: [spacedArg] })
      // The lookalikes stayed where they were.
      yield* client.mutate({ cmd: "requeue", target: "retries", filter: { jids: [lookalikeType] } })
      yield* client.mutate({ cmd: "requeue", target: "scheduled", filter: { jids: [lookalikeArg] } })
      expect(yield* drained).toEqual([lookalikeType, lookalikeArg].sort())
    }))

  it.effect("MUTATE matches a jobtype exactly, whatever characters it holds, and refuses filters that would select every job", () =>
    Effect.gen(function*() {
      const client = yield* Client.Client
      const queue = "mutate-exact-q"
      const later = new Date(Date.now() + 3_600_000)
      // Jobtypes with glob characters, quotes and backslashes, and jobtypes those would match as globs.
      const jobtypes = ["Send Email", "SendXEmail", "Send?Email", "Send*", "Send Email Later", "Quote\"d", "Back\\slash", "Brack[et]"]
      const jids = new Map<string, string>()
      for (const jobtype of jobtypes) jids.set(jobtype, yield* client.push({ jobtype, queue, at: later }))
      const scheduled = Effect.map(client.info, (info) => info.faktory.sets?.["scheduled"] ?? 0)
      const before = yield* scheduled
      for (const jobtype of jobtypes) {
        yield* client.mutate({ cmd: "requeue", target: "scheduled", filter: { jobtype } })
        const job = yield* fetchOne(queue)
        expect(job.jobtype, jobtype).toBe(jobtype)
        yield* client.ack(job.jid)
        expect(yield* queueSize(queue), jobtype).toBe(0)
      }
      expect(yield* scheduled).toBe(before - jobtypes.length)
      // Nothing is sent for a filter the server would read as every job: the set keeps its jobs.
      const kept = yield* client.push({ jobtype: "Kept", queue, at: later })
      for (const filter of [{ jids: [] }, { jobtype: "" }, { pattern: "" }, {}, { jids: [kept], jobtype: "Other" }]) {
        const refused = yield* Effect.flip(client.mutate({ cmd: "discard", target: "scheduled", filter }))
        expect(refused._tag).toBe("InvalidArgumentError")
      }
      yield* client.mutate({ cmd: "requeue", target: "scheduled", filter: { jids: [kept] } })
      expect((yield* fetchOne(queue)).jid).toBe(kept)
    }))

  it.effect("pauses, resumes, measures and removes queues", () =>
    Effect.gen(function*() {
      const client = yield* Client.Client
      const jid = yield* client.push({ jobtype: "Q", queue: "paused-q" })
      yield* client.pauseQueues(["paused-q"])
      expect(yield* client.fetch(["paused-q"])).toEqual(Option.none())
      const latency = yield* client.queueLatency(["paused-q", "no-such-queue"])
      expect(latency["paused-q"]).toBeGreaterThan(0)
      expect(latency["no-such-queue"]).toBe(0)
      yield* client.resumeQueues(["paused-q"])
      expect((yield* fetchOne("paused-q")).jid).toBe(jid)
      yield* client.ack(jid)
      yield* client.push({ jobtype: "Q", queue: "removed-q" })
      yield* client.removeQueues(["removed-q"])
      expect(yield* queueSize("removed-q")).toBe(0)
      expect(yield* client.queueLatency([])).toEqual({})
      const bad = yield* Effect.flip(client.pauseQueues(["bad name"]))
      expect(bad._tag).toBe("InvalidArgumentError")
    }))

  it.effect("Enterprise commands fail with EnterpriseRequiredError", () =>
    Effect.gen(function*() {
      const client = yield* Client.Client
      const batch = yield* Effect.flip(client.batch({ _tag: "New", batch: { description: "x", success: {} } }))
      expect(batch._tag).toBe("EnterpriseRequiredError")
      const track = yield* Effect.flip(client.track({ _tag: "Get", jid: "0123456789ab" }))
      expect(track._tag).toBe("EnterpriseRequiredError")
      expect(track.message).toContain("Enterprise")
    }))

  it.effect("pushBulk sends 2,500 jobs in batches of at most 1,000", () =>
    Effect.gen(function*() {
      const client = yield* Client.Client
      const jobs = Array.from({ length: 2500 }, (_, i) => ({ jobtype: "Bulk", queue: "bulk-q", args: [i] }))
      const result = yield* client.pushBulk(jobs)
      expect(result.pushed).toHaveLength(2500)
      expect(result.rejected).toEqual([])
      expect(yield* queueSize("bulk-q")).toBe(2500)
      yield* client.removeQueues(["bulk-q"])
    }))

  it.effect("pushBulk sends nothing when one job is invalid", () =>
    Effect.gen(function*() {
      const client = yield* Client.Client
      const error = yield* Effect.flip(
        client.pushBulk([{ jobtype: "Bulk", queue: "bulk-bad" }, { jobtype: "Bulk", queue: "bulk bad" }])
      )
      expect(error._tag).toBe("JobValidationError")
      expect(error.message).toContain("jobs[1]")
      expect(yield* queueSize("bulk-bad")).toBe(0)
    }))

  // The server stores both jobs of a jid given twice, and they share one reservation: one
  // ACK ends both, so one job is lost.
  it.effect("pushBulk refuses two jobs with the same jid, naming it, before anything is sent", () =>
    Effect.gen(function*() {
      const client = yield* Client.Client
      const jobs = Array.from({ length: 1500 }, (_, i) => ({ jobtype: "Twice", queue: "bulk-twice", args: [i] }))
      // Far apart, in different batches of 1,000.
      const twice = [
        { ...jobs[0]!, jid: "twice-000001" },
        ...jobs.slice(1, 1200),
        { ...jobs[1200]!, jid: "twice-000001" },
        ...jobs.slice(1201)
      ]
      const outcome = yield* Effect.either(client.pushBulk(twice))
      // Compact: on failure the test shows what happened, not 1,500 jids.
      expect({ refused: summary(outcome), queued: yield* queueSize("bulk-twice") }).toEqual({
        refused: { _tag: "JobValidationError", jid: "twice-000001", jobtype: "Twice" },
        queued: 0
      })
      const error = Either.flip(outcome).pipe(Either.getOrThrow)
      expect(error.message).toContain("twice-000001")
      expect(error.message).toContain("jobs[1200]")
      expect(error.message).toContain("jobs[0]")

      // Middleware that gives jobs one jid: refused as well, after it ran.
      const server = yield* FaktoryServer.FaktoryServer
      const sameJid = yield* Client.make({
        ...server.clientOptions,
        middleware: [(job, next) => next({ ...job, jid: "same-jid-0001" })]
      }).pipe(Effect.provide(NodeTransport.layer))
      const viaMiddleware = yield* Effect.either(
        sameJid.pushBulk([{ jobtype: "Twice", queue: "bulk-twice" }, { jobtype: "Twice", queue: "bulk-twice" }])
      )
      expect({ refused: summary(viaMiddleware), queued: yield* queueSize("bulk-twice") }).toEqual({
        refused: { _tag: "JobValidationError", jid: "same-jid-0001", jobtype: "Twice" },
        queued: 0
      })
      // Distinct jids still go.
      expect((yield* client.pushBulk(jobs.slice(0, 2))).pushed).toHaveLength(2)
      expect(yield* queueSize("bulk-twice")).toBe(2)
      yield* client.removeQueues(["bulk-twice"])
    }).pipe(Effect.scoped))

  it.effect("every at our check accepts, the server accepts: leap days, offsets, nanoseconds", () =>
    Effect.gen(function*() {
      const client = yield* Client.Client
      const times = ["2028-02-29T23:59:59.999999999+05:30", "2400-02-29T00:00:00Z", "2031-12-31T00:00:00-23:59"]
      for (const at of times) {
        const jid = yield* client.push({ jobtype: "Later", queue: "at-q", at })
        expect(jid.length).toBeGreaterThanOrEqual(8)
      }
      yield* client.mutate({ cmd: "clear", target: "scheduled", filter: { jobtype: "Later" } })
    }))

  it.effect("a job rejected by validation is never sent", () =>
    Effect.gen(function*() {
      const client = yield* Client.Client
      const before = (yield* client.info).server.command_count
      const error = yield* Effect.flip(client.push({ jobtype: "Bad", queue: "valid-q", reserve_for: 10 }))
      expect(error._tag).toBe("JobValidationError")
      // INFO itself is the only command the server saw in between.
      expect((yield* client.info).server.command_count).toBe(before + 1)
      expect(yield* queueSize("valid-q")).toBe(0)
    }))

  it.effect("input a type checker would refuse fails with JobValidationError, and nothing is sent", () =>
    Effect.gen(function*() {
      const client = yield* Client.Client
      // What untyped callers (plain JavaScript, JSON from elsewhere) can hand over.
      const untyped = <A>(value: unknown): A => value as A
      let deep: unknown = []
      for (let i = 0; i < 100_000; i++) deep = [deep]
      const throwing = { get secret(): string { throw new Error("getter exploded") } }
      const pushes: Array<[string, JobPayload.JobInput]> = [
        ["null", untyped(null)],
        ["undefined", untyped(undefined)],
        ["a string", untyped("SendEmail")],
        ["an array", untyped([{ jobtype: "X" }])],
        ["args null", untyped({ jobtype: "X", args: null })],
        ["an argument whose getter throws", { jobtype: "X", args: [throwing] }],
        ["a job whose getter throws", untyped(Object.defineProperty({ jobtype: "X" }, "queue", { enumerable: true, get: () => { throw new Error("no queue") } }))],
        ["args nested 100,000 deep", { jobtype: "X", args: [deep] }],
        ["custom as a Map", untyped({ jobtype: "X", custom: new Map([["tenant", "acme"]]) })],
        ["custom as a Date", untyped({ jobtype: "X", custom: new Date() })],
        ["custom as an array", untyped({ jobtype: "X", custom: ["a"] })]
      ]
      const before = (yield* client.info).server.command_count
      for (const [name, input] of pushes) {
        const error = yield* Effect.flip(client.push(input))
        expect([name, error._tag]).toEqual([name, "JobValidationError"])
        const error2 = yield* Effect.flip(client.pushBulk([{ jobtype: "Fine" }, input]))
        expect([name, error2._tag, error2.message]).toEqual([name, "JobValidationError", expect.stringContaining("jobs[1]")])
      }
      for (const bulk of [null, undefined, "jobs", [null], [undefined], { length: 1, 0: { jobtype: "X" } }]) {
        const error = yield* Effect.flip(client.pushBulk(untyped(bulk)))
        expect([bulk, error._tag]).toEqual([bulk, "JobValidationError"])
      }
      // INFO itself is the only command the server saw in between.
      expect((yield* client.info).server.command_count).toBe(before + 1)
    }))

  it.effect("an argument that changes between its check and its writing fails that push alone, typed", () =>
    Effect.gen(function*() {
      const client = yield* Client.Client
      // Valid when checked, a bigint (which JSON.stringify refuses) when written.
      const shifty = () => {
        let reads = 0
        return { get n(): unknown { return ++reads > 1 ? 1n : 1 } }
      }
      const alone = yield* Effect.flip(client.push({ jobtype: "Shifty", queue: "shifty-q", args: [shifty()] }))
      expect(alone._tag).toBe("JobValidationError")
      // Concurrent pushes travel together as PUSHB: the others still go.
      const results = yield* Effect.forEach(
        Array.from({ length: 20 }, (_, i) => i === 7 ? [shifty()] : [i]),
        (args) => Effect.either(client.push({ jobtype: "Shifty", queue: "shifty-q", args })),
        { concurrency: "unbounded" }
      )
      expect(results.filter(Either.isLeft).map((result) => result.left._tag)).toEqual(["JobValidationError"])
      expect(yield* queueSize("shifty-q")).toBe(19)
      const bulk = yield* Effect.flip(client.pushBulk([{ jobtype: "Shifty", queue: "shifty-q" }, { jobtype: "Shifty", queue: "shifty-q", args: [shifty()] }]))
      expect(bulk._tag).toBe("JobValidationError")
      expect(yield* queueSize("shifty-q")).toBe(19)
      yield* client.removeQueues(["shifty-q"])
    }))

  it.effect("1,000 pipelined pushes and 1,000 pipelined fetches on one connection match every reply", () =>
    Effect.gen(function*() {
      const client = yield* Client.Client
      const queue = "pipelined"
      yield* client.withConnection((connection) =>
        Effect.gen(function*() {
          // Each command's wire position is recorded in the same synchronous step as its send.
          let sent = 0
          const pushed = yield* Effect.forEach(
            Array.from({ length: 1000 }, (_, i) => i),
            (i) =>
              Effect.suspend(() => {
                const position = sent++
                const job = { jid: `pipelined-${String(i).padStart(4, "0")}`, jobtype: "Pipe", queue, args: [i], created_at: new Date().toISOString() }
                return Effect.map(connection.send(Protocol.push(job)), () => ({ position, jid: job.jid }))
              }),
            { concurrency: "unbounded" }
          )
          const byPosition = pushed.slice().sort((a, b) => a.position - b.position).map((entry) => entry.jid)

          let fetchedAt = 0
          const fetched = yield* Effect.forEach(
            Array.from({ length: 1000 }),
            () =>
              Effect.suspend(() => {
                const position = fetchedAt++
                return Effect.map(connection.send(Either.getOrThrow(Protocol.fetch([queue]))), (job) => ({ position, job }))
              }),
            { concurrency: "unbounded" }
          )
          expect(connection.inFlight()).toBe(0)
          for (const { job, position } of fetched) {
            // The queue is FIFO: the k-th FETCH on the wire must get the k-th job pushed.
            expect(Option.map(job, (fetched) => fetched.jid)).toEqual(Option.some(byPosition[position]))
          }
          yield* Effect.forEach(byPosition, (jid) => connection.send(Protocol.ack(jid)), { concurrency: "unbounded" })
        })
      )
      expect(yield* queueSize(queue)).toBe(0)
    }))

  it.effect("the module-level push uses the provided client", () =>
    Effect.gen(function*() {
      const jid = yield* push({ jobtype: "ViaAccessor", queue: "accessor-q" })
      expect((yield* fetchOne("accessor-q")).jid).toBe(jid)
      yield* Effect.flatMap(Client.Client, (client) => client.ack(jid))
    }))

  it.effect("a command whose reader takes the raw reply gets the server's errors as replies", () =>
    Effect.gen(function*() {
      const client = yield* Client.Client
      const raw = Protocol.make("NOPE", undefined, (reply) => Either.right(reply))
      const reply = yield* client.withConnection((connection) => connection.send(raw))
      expect(reply).toEqual({ _tag: "ErrorReply", code: "ERR", message: "unknown command NOPE" })
    }))

  it.effect("send takes any command and reads its reply as the command says, errors included", () =>
    Effect.gen(function*() {
      const client = yield* Client.Client
      expect((yield* client.send(Protocol.info)).server.faktory_version).toBe("1.10.0")
      const unknown = yield* Effect.flip(client.send(Protocol.make("NOPE", undefined, Replies.ok("NOPE"))))
      expect(unknown).toMatchObject({ _tag: "ServerError", command: "NOPE", code: "ERR", detail: "unknown command NOPE" })
    }))

  it.effect("a typed job is checked once: the job it prepares is passed on as it is", () =>
    Effect.gen(function*() {
      const Once = Job.define("Once", { args: Schema.Tuple(Schema.String), queue: "once-q" })
      const job = yield* Once.payload(["a"])
      // The client's check hands back the very object, rather than building and checking it anew;
      // a changed copy (as middleware makes) is checked again, into a new job.
      expect(Either.getOrThrow(JobPayload.prepare(job))).toBe(job)
      const copy = { ...job }
      expect(Either.getOrThrow(JobPayload.prepare(copy))).not.toBe(copy)
      expect(Either.isLeft(JobPayload.prepare({ ...job, queue: "no spaces" }))).toBe(true)
      const jid = yield* Effect.flatMap(Client.Client, (client) => client.push(job))
      expect(jid).toBe(job.jid)
      expect((yield* fetchOne("once-q")).args).toEqual(["a"])
    }))

  it.effect("flush empties every queue", () =>
    Effect.gen(function*() {
      const client = yield* Client.Client
      yield* client.push({ jobtype: "F", queue: "flush-q" })
      yield* client.flush
      expect(yield* queueSize("flush-q")).toBe(0)
    }))
})
