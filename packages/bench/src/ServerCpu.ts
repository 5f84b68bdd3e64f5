/**
 * The CPU time the Faktory server and its Redis (the server's child process) have used, read
 * from Linux's /proc. On this 2-core machine the server shares the CPU with the worker under
 * test, so what a client makes the server spend bounds its throughput as much as its own
 * CPU time does.
 */
import { execFileSync } from "node:child_process"
import * as Fs from "node:fs"

/** Clock ticks per second, the unit of /proc's CPU times (100 nearly everywhere). */
const ticksPerSecond = (() => {
  try {
    const ticks = Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim())
    return Number.isInteger(ticks) && ticks > 0 ? ticks : 100
  } catch {
    return 100
  }
})()

/** A process's parent pid and user + system CPU ticks, from /proc/<pid>/stat. */
const readStat = (pid: string): { readonly parent: number; readonly ticks: number } | undefined => {
  try {
    // The command name (field 2) is in parentheses and may hold spaces: fields count after it.
    const stat = Fs.readFileSync(`/proc/${pid}/stat`, "utf8")
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
    return { parent: Number(fields[1]), ticks: Number(fields[11]) + Number(fields[12]) }
  } catch {
    return undefined
  }
}

/** CPU seconds used so far by `pid` alone; undefined where /proc is not available. */
export const ownCpuSecondsOf = (pid: number): number | undefined => {
  const own = readStat(String(pid))
  return own === undefined ? undefined : own.ticks / ticksPerSecond
}

/**
 * CPU seconds used so far by `pid` and its direct children (Faktory starts its own Redis);
 * undefined where /proc is not available.
 */
export const cpuSecondsOf = (pid: number | undefined): number | undefined => {
  if (pid === undefined) return undefined
  const own = readStat(String(pid))
  if (own === undefined) return undefined
  let ticks = own.ticks
  for (const entry of Fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue
    const child = readStat(entry)
    if (child?.parent === pid) ticks += child.ticks
  }
  return ticks / ticksPerSecond
}
