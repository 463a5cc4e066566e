import path from 'node:path'
import {randomUUID} from 'node:crypto'

import {readFile} from 'node:fs/promises'

import {adminClient, pgAvailable, PG_URL, dropWorkspace} from './pg.js'

export interface StateBackend {
  name: 'file' | 'postgres'
  /** Skip the suite (with the reason printed once) when the backend is not reachable. */
  skip: boolean
  spec(projectDir: string): string
  workspace(): string | undefined
  cleanup?(workspace: string | undefined): Promise<void>
  /** Everything the backend stored for a project, as raw text (files, or table rows as JSON). */
  rawDump(projectDir: string, workspace: string | undefined): Promise<string>
}

async function readIfThere(file: string): Promise<string> {
  return readFile(file, 'utf8').catch(() => '')
}

/** The backends every state-dependent integration suite runs against. */
export const stateBackends: StateBackend[] = [
  {
    name: 'file',
    skip: false,
    spec: (dir) => path.join(dir, 'state.json'),
    workspace: () => undefined,
    rawDump: async (dir) => (await readIfThere(path.join(dir, 'state.json'))) + (await readIfThere(path.join(dir, 'state.json.journal'))),
  },
  {
    name: 'postgres',
    skip: !pgAvailable,
    spec: () => PG_URL,
    workspace: () => `test-${randomUUID().slice(0, 8)}`,
    cleanup: async (workspace) => {
      if (workspace) await dropWorkspace(workspace)
    },
    rawDump: async (_dir, workspace) => {
      const admin = await adminClient()
      try {
        const rows = []
        for (const table of ['mcsend_messages', 'mcsend_sends', 'mcsend_workspaces']) {
          rows.push(...(await admin.query(`SELECT row_to_json(t)::text AS row FROM ${table} t WHERE workspace = $1`, [workspace])).rows)
        }
        return rows.map((r: {row: string}) => r.row).join('\n')
      } finally {
        await admin.end()
      }
    },
  },
]
