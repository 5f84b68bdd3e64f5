import { defineWorkspace } from "vitest/config"

// One project per package. Test files run in separate processes (forks): each integration
// file starts its own Faktory server, so files never share queues, and a crashed file cannot
// leave a server behind in another.
const project = (name: string) => ({
  test: {
    name,
    include: [`packages/${name}/test/**/*.test.ts`],
    pool: "forks" as const,
    testTimeout: 60_000,
    hookTimeout: 60_000
  }
})

export default defineWorkspace([project("core"), project("node"), project("testing"), project("examples"), project("bench")])
