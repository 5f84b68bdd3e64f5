// Checks the links of the documentation: in README.md and docs/*.md every relative link must
// name a file of the repository and every #anchor a heading of its target (GitHub's slugs); the
// published packages' READMEs are their npm pages, where a relative link leads nowhere, so
// theirs must be absolute. A link to this repository's GitHub pages
// (https://github.com/effect-faktory/effect-faktory/blob/main/…) is checked as the file it names.
// Usage: node scripts/check-doc-links.mjs   (exits 1 on any broken link)
import * as Fs from "node:fs"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"
import { documents } from "./check-readme-code.mjs"

const root = Path.resolve(Path.dirname(fileURLToPath(import.meta.url)), "..")
export const repository = "https://github.com/effect-faktory/effect-faktory"
const packageReadmes = new Set(["packages/core/README.md", "packages/node/README.md", "packages/testing/README.md"])

/** Markdown without its fenced code blocks and inline code spans, where no link is a link. */
const prose = (markdown) =>
  markdown
    .replace(/^(```|~~~)[^\n]*\n[\s\S]*?^\1\s*$/gm, (block) => block.replace(/[^\n]/g, " "))
    .replace(/`[^`\n]*`/g, (span) => " ".repeat(span.length))

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens. */
export const slug = (heading) =>
  heading
    .trim()
    .toLowerCase()
    .replace(/<[^>]*>/g, "")
    .replace(/[^\p{L}\p{N}\p{M}\s_-]/gu, "")
    .replace(/\s/g, "-")

/** The anchors of a Markdown file, as GitHub makes them (a repeated heading gets -1, -2, …). */
export const anchors = (markdown) => {
  const seen = new Map()
  const result = new Set()
  for (const line of markdown.replace(/^(```|~~~)[^\n]*\n[\s\S]*?^\1\s*$/gm, "").split("\n")) {
    const match = /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(line)
    if (match === null) continue
    const base = slug(match[1])
    const count = seen.get(base) ?? 0
    seen.set(base, count + 1)
    result.add(count === 0 ? base : `${base}-${count}`)
  }
  return result
}

/** Every link target ([text](target), ![alt](target)) with its line. */
export const links = (markdown) => {
  const result = []
  prose(markdown).split("\n").forEach((line, index) => {
    for (const match of line.matchAll(/\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)) {
      result.push({ target: match[1], line: index + 1 })
    }
  })
  return result
}

export const check = () => {
  const problems = []
  let count = 0
  const read = (file) => Fs.readFileSync(Path.join(root, file), "utf8")
  for (const file of documents()) {
    for (const { target, line } of links(read(file))) {
      count++
      const where = `${file}:${line}: ${target}`
      let path
      let anchor
      if (target.startsWith(`${repository}/blob/main/`) || target.startsWith(`${repository}/tree/main/`)) {
        const rest = target.slice(`${repository}/blob/main/`.length)
        ;[path, anchor] = rest.split("#")
        path = decodeURIComponent(path).replace(/\/$/, "")
      } else if (/^[a-z][a-z0-9+.-]*:/i.test(target)) {
        continue // another site, or mailto:
      } else {
        if (packageReadmes.has(file) && !target.startsWith("#")) {
          problems.push(`${where}: a relative link on an npm page leads nowhere; use ${repository}/blob/main/…`)
          continue
        }
        const [relative, hash] = target.split("#")
        anchor = hash
        path = relative === "" ? file : Path.posix.join(Path.posix.dirname(file), decodeURIComponent(relative))
      }
      if (path === "" || path === undefined) path = "README.md"
      const absolute = Path.join(root, path)
      if (!absolute.startsWith(root) || !Fs.existsSync(absolute)) {
        problems.push(`${where}: no file ${path}`)
        continue
      }
      if (anchor !== undefined && anchor !== "") {
        if (!path.endsWith(".md")) {
          problems.push(`${where}: an anchor into ${path}, which is not Markdown`)
        } else if (!anchors(read(path)).has(anchor)) {
          problems.push(`${where}: ${path} has no heading #${anchor}`)
        }
      }
    }
  }
  return { count, problems }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { count, problems } = check()
  for (const problem of problems) console.log(problem)
  console.log(`doc links: ${count} links, ${problems.length} broken`)
  process.exit(problems.length === 0 ? 0 : 1)
}
