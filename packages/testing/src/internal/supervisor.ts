/**
 * Runs one Faktory server for a parent process, and never lets it outlive that parent.
 *
 * A test process can die without running any finalizer or exit hook (SIGKILL, a worker pool
 * terminating a hung fork), and a server it started directly would keep running, with its
 * Redis, for good. The parent holds the write end of this process's stdin, and the kernel
 * closes it whatever way the parent dies, so end-of-input is a signal nothing can skip.
 *
 * `node supervisor.js <directory> <faktory binary> <faktory args…>`
 *
 * - stdin: `stop` then end-of-input means the parent stops the server and keeps its data
 *   directory (it may start it again); end-of-input alone means the parent is gone: stop the
 *   server and remove the directory.
 * - fd 3: `{"pid":…}` once the server is spawned, so the parent can signal the server itself.
 * - The server's output goes to this process's stdout and stderr; this process exits with
 *   the server's exit code when the server exits.
 *
 * @internal
 */
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"

const [directory, binary, ...args] = process.argv.slice(2)
if (directory === undefined || binary === undefined) {
  process.stderr.write("usage: supervisor <directory> <faktory binary> [args…]\n")
  process.exit(2)
}

const server = ChildProcess.spawn(binary, args, { stdio: ["ignore", "inherit", "inherit"] })
let parentGone = false
let stopping = false

const report = (message: object) => {
  try {
    Fs.writeSync(3, `${JSON.stringify(message)}\n`)
  } catch {
    // The parent did not open fd 3, or is gone; nothing to tell.
  }
}

/** Redis is Faktory's child: a server killed with SIGKILL leaves it running. */
const sweep = () => {
  try {
    ChildProcess.execFileSync("pkill", ["-KILL", "-f", `redis-server .*${directory}`], { stdio: "ignore" })
  } catch {
    // pkill exits 1 when nothing matched.
  }
  if (parentGone) Fs.rmSync(directory, { recursive: true, force: true })
}

const stop = () => {
  if (stopping) return
  stopping = true
  server.kill("SIGTERM")
  setTimeout(() => server.kill("SIGKILL"), 5000).unref()
}

server.once("spawn", () => report({ pid: server.pid }))
server.once("error", (cause) => {
  process.stderr.write(`spawn failed: ${cause.message}\n`)
  sweep()
  process.exit(127)
})
server.once("exit", (code, signal) => {
  sweep()
  process.exit(code ?? (signal === null ? 1 : 128))
})

let input = ""
process.stdin.on("data", (chunk: Buffer) => {
  input += chunk.toString("utf8")
})
process.stdin.once("end", () => {
  parentGone = !input.includes("stop")
  stop()
})
process.stdin.once("error", () => {
  parentGone = true
  stop()
})
// Terminal signals reach the whole process group, the server included; stop it in order.
process.on("SIGTERM", stop)
process.on("SIGINT", stop)
