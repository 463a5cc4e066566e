import {escapeTerminal, maskAddresses} from '../privacy/index.js'
import {formatCount} from '../text/format.js'
import {renderTable} from './state-table.js'

export interface WorkspaceRow {
  workspace: string
  serial: number
  messages: number
  sends: number
  updatedAt: string
}

/** `state workspaces`: one row per workspace of a PostgreSQL state. */
export function renderWorkspaces(list: {state: string; workspaces: readonly WorkspaceRow[]}): string {
  if (list.workspaces.length === 0) return `No workspaces in ${list.state} yet (the first apply with --workspace NAME creates one).\n`
  const rows = list.workspaces.map((w) => [escapeTerminal(maskAddresses(w.workspace)), formatCount(w.messages), formatCount(w.sends), String(w.serial), w.updatedAt.replace(/\.\d+Z$/, 'Z')])
  return `${[`Workspaces in ${list.state}:`, ...renderTable(['WORKSPACE', 'RECORDS', 'SENDS', 'SERIAL', 'UPDATED'], rows, '  ')].join('\n')}\n`
}
