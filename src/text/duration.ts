/** 42 -> "42s", 65 -> "1m 05s", 3720 -> "1h 02m" (seconds rounded up, so an ETA never reads 0s too early). */
export function formatDuration(seconds: number): string {
  const s = Math.ceil(Math.max(0, seconds))
  if (s < 60) return `${s}s`
  if (s < 3600) return `${Math.floor(s / 60)}m ${String(s % 60).padStart(2, '0')}s`
  return `${Math.floor(s / 3600)}h ${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`
}

/** `10m`, `30s`, `1h 30m`: a time limit as written in a manifest (a canary's timeout in the plan and while waiting). */
export function formatTimeout(ms: number): string {
  if (ms < 1000) return `${ms}ms`
  if (ms % 3_600_000 === 0) return `${ms / 3_600_000}h`
  if (ms % 60_000 === 0) return `${ms / 60_000}m`
  if (ms < 60_000 && ms % 1000 === 0) return `${ms / 1000}s`
  return formatDuration(ms / 1000)
}

const UNIT_MS: Record<string, number> = {ms: 1, s: 1000, m: 60_000, h: 3_600_000}

/**
 * A duration as terraform and kubectl write them, in milliseconds: `30s`, `5m`, `1m30s`, `1.5h`, `250ms`; a bare
 * number means seconds. undefined when the text is not one.
 */
export function parseDuration(text: string): number | undefined {
  const value = text.trim()
  if (/^\d+(\.\d+)?$/.test(value)) return Math.round(Number(value) * 1000)
  if (!/^(\d+(\.\d+)?(ms|s|m|h))+$/.test(value)) return undefined
  let total = 0
  for (const [, amount, unit] of value.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h)/g)) total += Number(amount) * UNIT_MS[unit!]!
  return Math.round(total)
}

/**
 * Waits `ms` milliseconds, or less when `signal` aborts (Ctrl-C): it resolves either way, never rejects, and
 * resolves at once when the signal has already aborted. The caller looks at the signal afterwards.
 */
export function abortableSleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve()
    const timer = setTimeout(done, ms)
    function done() {
      clearTimeout(timer)
      signal?.removeEventListener('abort', done)
      resolve()
    }
    signal?.addEventListener('abort', done, {once: true})
  })
}
