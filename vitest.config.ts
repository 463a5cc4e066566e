import {defineConfig} from 'vitest/config'

/**
 * `npm test` runs every project; one alone: `npx vitest run --project unit` (or integration, e2e, security).
 * Heavy cases (a million rows, timings) live in bench/, not here.
 */
const SUITES = ['unit', 'integration', 'e2e', 'security'] as const

export default defineConfig({
  test: {
    disableConsoleIntercept: true,
    env: {FORCE_COLOR: '0', NO_COLOR: '1'},
    restoreMocks: true,
    testTimeout: 30_000,
    hookTimeout: 30_000,
    pool: 'forks',
    projects: SUITES.map((name) => ({extends: true, test: {name, include: [`test/${name}/**/*.test.ts`]}})),
  },
})
