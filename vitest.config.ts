import { availableParallelism } from "node:os"
import { defineConfig } from "vitest/config"

export default defineConfig({
  resolve: { conditions: ["source"] },
  test: {
    include: ["packages/*/test/**/*.test.ts", "apps/*/test/**/*.test.ts"],
    testTimeout: 20_000,
    hookTimeout: 30_000,
    // Most test time is spent waiting on Postgres, sockets, child processes and Chromium, not on a CPU: two
    // files at once even on 2 vCPUs (where the default would be one) take the suite from about 11 to 7 minutes.
    maxWorkers: Math.max(2, availableParallelism() - 1),
  },
})
