import path from 'node:path'
import {randomUUID} from 'node:crypto'

import {pgAvailable, PG_URL, dropWorkspace} from './pg.js'

export interface StateBackend {
  name: 'file' | 'postgres'
  /** Skip the suite (with the reason printed once) when the backend is not reachable. */
  skip: boolean
  spec(projectDir: string): string
  workspace(): string | undefined
  cleanup?(workspace: string | undefined): Promise<void>
}

/** The backends every state-dependent integration suite runs against. */
export const stateBackends: StateBackend[] = [
  {name: 'file', skip: false, spec: (dir) => path.join(dir, 'state.json'), workspace: () => undefined},
  {
    name: 'postgres',
    skip: !pgAvailable,
    spec: () => PG_URL,
    workspace: () => `test-${randomUUID().slice(0, 8)}`,
    cleanup: async (workspace) => {
      if (workspace) await dropWorkspace(workspace)
    },
  },
]
