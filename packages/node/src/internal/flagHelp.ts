/**
 * The flags of the `faktory-worker` commands as their `--help` lists them: one row a flag, its
 * description wrapped beside the flag's column, within 100 columns.
 */

/** A flag as `--help` lists it. */
export interface Flag {
  readonly name: string
  readonly alias?: string
  readonly value?: string
  readonly description: string
  /** What applies when the flag is absent, as `--help` says it. */
  readonly fallback?: string
}

/** A flag's description, with its default when it has one. */
export const describe = (flag: Flag): string =>
  flag.fallback === undefined ? flag.description : `${flag.description} (default: ${flag.fallback})`

const wrap = (words: string, room: number): Array<string> => {
  const lines: Array<string> = []
  let line = ""
  for (const word of words.split(" ")) {
    if (line !== "" && line.length + 1 + word.length > room) {
      lines.push(line)
      line = word
    } else {
      line = line === "" ? word : `${line} ${word}`
    }
  }
  lines.push(line)
  return lines
}

/** The lines listing `flags`: `-r, --require <module>` in a column, the description beside it. */
export const rows = (flags: ReadonlyArray<Flag>): Array<string> => {
  const left = (flag: Flag) =>
    `${flag.alias === undefined ? "    " : `-${flag.alias}, `}--${flag.name}${flag.value === undefined ? "" : ` <${flag.value}>`}`
  const width = Math.max(...flags.map((flag) => left(flag).length)) + 2
  return flags.flatMap((flag) =>
    wrap(describe(flag), 98 - width).map((line, index) => `  ${(index === 0 ? left(flag) : "").padEnd(width)}${line}`)
  )
}
