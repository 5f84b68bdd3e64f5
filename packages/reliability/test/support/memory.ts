/**
 * Memory as the reliability scenarios measure it: the V8 heap in use plus the bytes held by
 * ArrayBuffers (socket chunks, Buffers), after full collections, so that growth means
 * retained, not merely not yet collected.
 */
import * as V8 from "node:v8"
import * as Vm from "node:vm"

// `gc` exists only with --expose-gc; the flag can be set at run time, and a fresh context
// then has the function (vitest's forks do not take the flag from a project's options).
V8.setFlagsFromString("--expose-gc")
const gc: unknown = Vm.runInNewContext("gc")

export const settledBytes = (): number => {
  if (typeof gc === "function") {
    gc()
    gc()
  }
  const usage = process.memoryUsage()
  return usage.heapUsed + usage.arrayBuffers
}

export const canCollect = (): boolean => typeof gc === "function"

export const mib = (bytes: number): string => `${(bytes / 1024 / 1024).toFixed(1)} MiB`
