import type {Paint} from './paint.js'
import {escapeTerminal, maskAddresses} from '../privacy/index.js'

/** Text from the environment, the manifests or Marketing Cloud, for a terminal: addresses masked, control characters escaped. */
function safe(text: string | undefined): string {
  return escapeTerminal(maskAddresses(text ?? ''))
}

export interface DoctorView {
  ok: boolean
  target: {kind: 'sandbox' | 'marketing-cloud'; authHost?: string; tenant?: string}
  checks: {name: string; ok: boolean; detail: string; hint?: string}[]
}

/** `mcsend doctor`: one line per check, ✓ or ✗, with the hint under a failure (as `gh auth status` prints). */
export function renderDoctor(report: DoctorView, paint: Paint): string {
  const head =
    report.target.kind === 'sandbox'
      ? 'The built-in sandbox'
      : report.target.authHost === undefined
        ? 'Marketing Cloud'
        : `Marketing Cloud tenant ${safe(report.target.tenant)} (${safe(report.target.authHost)})`
  const lines = [head]
  for (const c of report.checks) {
    lines.push(`  ${c.ok ? paint.green('✓') : paint.red('✗')} ${safe(c.name)}: ${safe(c.detail)}`)
    if (!c.ok && c.hint) lines.push(`    ${paint.dim('hint')}: ${safe(c.hint)}`)
  }
  lines.push('', report.ok ? 'Everything checked is ready. Nothing was sent.' : 'Not ready: fix the ✗ above. Nothing was sent.')
  return `${lines.join('\n')}\n`
}
