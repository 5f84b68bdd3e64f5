/**
 * The process's log output losing its reader. When the far end of a stdout or stderr pipe
 * closes (`| head`, a log collector that died), every later write fails with EPIPE, which Node
 * emits as an `error` event on the stream. Unheard, that event is an uncaught exception, and
 * logging the exception writes to the same pipe: a loop that kept a worker at full CPU and
 * deaf to SIGTERM (seen in a new user's trial). Heard here, it is one event for the worker.
 *
 * The listeners stay for the life of the process once installed: writes after the worker has
 * gone (its last lines, the runtime's report) fail the same way.
 *
 * @internal
 */

/** Which of the two streams closed first. */
export type ClosedStream = "stdout" | "stderr"

let closed: ClosedStream | undefined = undefined
let installed = false
const listeners = new Set<(stream: ClosedStream) => void>()

const onError = (stream: ClosedStream) => (): void => {
  if (closed !== undefined) return
  closed = stream
  for (const listener of listeners) listener(stream)
}

/**
 * Calls `listener` once when stdout or stderr can no longer be written (at once if that has
 * happened already), with the stream that closed; returns the way to stop listening.
 */
export const onClosed = (listener: (stream: ClosedStream) => void): () => void => {
  if (!installed) {
    installed = true
    process.stdout.on("error", onError("stdout"))
    process.stderr.on("error", onError("stderr"))
  }
  if (closed !== undefined) {
    listener(closed)
    return () => undefined
  }
  listeners.add(listener)
  return () => {
    listeners.delete(listener)
  }
}
