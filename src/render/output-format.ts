import {UsageError} from '../errors.js'

/** The review formats of `plan` and `show`: --format text|json|markdown (--json is the short form of json). */
export const OUTPUT_FORMATS = ['text', 'json', 'markdown'] as const
export type OutputFormat = (typeof OUTPUT_FORMATS)[number]

export function resolveFormat(flags: {json?: boolean; format?: OutputFormat}): OutputFormat {
  if (flags.json && flags.format !== undefined && flags.format !== 'json') {
    throw new UsageError(`--json and --format ${flags.format} ask for different outputs`, 'pass one of them (--json is short for --format json)')
  }
  return flags.json ? 'json' : (flags.format ?? 'text')
}
