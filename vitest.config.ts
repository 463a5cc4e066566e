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
    // Hang guards, not speed limits: a test that runs a dozen CLI processes on a busy 2-core machine may need them.
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // Vitest's default is one worker fewer than the cores: a single worker on a 2-core machine. Most files wait on
    // child processes, sockets and PostgreSQL rather than compute, so four files run side by side. Tests that
    // need an order between processes decide it (pause one, wait for an event), never leave it to timing.
    maxWorkers: 4,
    projects: SUITES.map((name) => ({extends: true, test: {name, include: [`test/${name}/**/*.test.ts`]}})),
  },
})
