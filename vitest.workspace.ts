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

// The reliability suite takes minutes (servers killed and restarted, tens of thousands of
// jobs), so `npm test` leaves it out and `npm run test:reliability` sets this variable.
const reliability = process.env.EFFECT_FAKTORY_RELIABILITY === "1"
  ? [{
    test: {
      ...project("reliability").test,
      testTimeout: 240_000,
      hookTimeout: 60_000
    }
  }]
  : []

export default defineWorkspace([project("core"), project("node"), project("testing"), project("examples"), project("bench"), ...reliability])
