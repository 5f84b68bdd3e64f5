/**
 * A Faktory Enterprise workflow: an album's photos are resized as one batch, each resize
 * reporting its progress (job tracking), and once every photo is resized the batch's success
 * callback sends the album's owner one email. `enterprise.ts` runs it against `FakeFaktory`,
 * or against a real Enterprise server; `test/enterprise.test.ts` tests it.
 */
import { Batch, type Enterprise, Job, Tracking } from "@effect-faktory/core"
import { Console, Context, Effect, Layer, Option, Schema } from "effect"

/** How the application sends email: here it prints; a real one would call a mail service. */
export class Mailer extends Context.Tag("examples/Mailer")<
  Mailer,
  { readonly send: (to: string, subject: string) => Effect.Effect<void> }
>() {}

export const MailerLive = Layer.succeed(Mailer, {
  send: (to, subject) => Console.log(`mail to ${to}: ${subject}`)
})

/** One photo, resized to each width in turn; tracked, so anyone can read how far it is. */
export const ResizePhoto = Job.define("ResizePhoto", {
  args: Schema.Struct({
    album: Schema.Int,
    file: Schema.String,
    widths: Schema.Array(Schema.Int.pipe(Schema.between(16, 4096)))
  }),
  queue: "images",
  track: true
})

/** The batch's success callback: the album and its owner. */
export const AlbumReady = Job.define("AlbumReady", { args: Schema.Tuple(Schema.Int, Schema.String), queue: "mail" })

/** Stands for the image work. */
const resize = (file: string, width: number) => Effect.logDebug(`resizing ${file} to ${width}px`).pipe(Effect.delay("10 millis"))

/** The handlers, which need a `Mailer`. */
export const Handlers = Layer.mergeAll(
  ResizePhoto.handle(({ file, widths }) =>
    Effect.forEach(widths, (width, index) =>
      Effect.zipRight(
        resize(file, width),
        Tracking.progress(((index + 1) / widths.length) * 100, `${file}: ${width}px done`)
      ), { discard: true })
  ),
  AlbumReady.handle(([album, owner], job) =>
    Effect.gen(function*() {
      const mailer = yield* Mailer
      // A callback job knows the batch it is the callback of.
      const status = yield* Batch.status(Option.getOrThrow(job.callbackOf))
      yield* mailer.send(owner, `album ${album} is ready: ${status.total} photos resized`)
    })
  )
)

/** The widths every photo is resized to. */
export const WIDTHS: ReadonlyArray<number> = [320, 1024, 2048]

/**
 * The producer: one batch per album, every resize pushed inside it, the email as its success
 * callback. Returns the batch's id and the resizes' jids.
 */
export const uploadAlbum = (album: number, owner: string, files: ReadonlyArray<string>) =>
  Effect.map(
    Batch.run(
      Batch.make({ description: `album ${album} of ${owner}`, success: Batch.callback(AlbumReady, [album, owner]) }),
      ResizePhoto.pushBulk(files.map((file) => ({ album, file, widths: WIDTHS })))
    ),
    ({ bid, value }) => ({ bid, jids: value.pushed })
  )

/** What the workflow ended with: the batch's status and each photo's tracking. */
export interface Outcome {
  readonly batch: Enterprise.BatchStatus
  readonly photos: ReadonlyArray<Enterprise.JobStatus>
}

/** Reads the batch's status and the photos' tracking, and prints them. */
export const report = (bid: string, jids: ReadonlyArray<string>) =>
  Effect.gen(function*() {
    const photos = yield* Effect.forEach(jids, (jid) => Tracking.status(jid))
    for (const photo of photos) {
      yield* Console.log(
        `photo ${photo.jid}: ${photo.state}, ${Option.getOrElse(photo.percent, () => 0)}% ` +
          `(${Option.getOrElse(photo.description, () => "no report")})`
      )
    }
    const batch = yield* Batch.status(bid)
    yield* Console.log(
      `batch ${bid}: ${batch.total} jobs, ${batch.pending} pending, ${batch.failed} failed; success callback ${batch.success}`
    )
    return { batch, photos } satisfies Outcome
  })

/** The album the example uploads. */
export const PHOTOS: ReadonlyArray<string> = ["beach.jpg", "dunes.jpg", "sunset.jpg"]

/**
 * The whole workflow: upload the album, let `runJobs` see the jobs done (drain the fake, or
 * wait for a worker), then report.
 */
export const workflow = <E, R>(runJobs: (bid: string) => Effect.Effect<void, E, R>) =>
  Effect.gen(function*() {
    const { bid, jids } = yield* uploadAlbum(7, "ada@example.com", PHOTOS)
    yield* Console.log(`batch ${bid}: ${jids.length} resizes pushed and committed`)
    yield* runJobs(bid)
    return yield* report(bid, jids)
  })
