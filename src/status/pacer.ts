/**
 * Request pacing for the rate-limited status endpoint (docs/marketing-cloud-api.md, "Status of one message": use it only for occasional checks):
 * one request every 1/rate seconds, never bursting. A 429 halves the rate and pauses for the Retry-After; each run
 * of successes earns a little of the rate back, up to the configured ceiling (additive increase, multiplicative
 * decrease). Time and sleeping are injected so the arithmetic is testable without waiting.
 */
export interface PacerDeps {
  now: () => number
  sleep: (ms: number) => Promise<void>
}

export const DEFAULT_STATUS_RATE = 5
/** Never slower than one request every 5 s, so a run always finishes. */
export const MIN_STATUS_RATE = 0.2

const realDeps: PacerDeps = {
  now: () => performance.now(),
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
}

export class Pacer {
  private next = 0
  private current: number
  private streak = 0
  /** How many times a 429 slowed this run down. */
  backoffs = 0

  constructor(
    private readonly ceiling: number,
    private readonly deps: PacerDeps = realDeps,
  ) {
    if (!(ceiling > 0) || !Number.isFinite(ceiling)) throw new RangeError(`rate must be a positive number of requests per second, got ${ceiling}`)
    this.current = ceiling
  }

  /** Requests per second allowed now. */
  get rate(): number {
    return this.current
  }

  /** Waits for the next request slot and claims it. */
  async take(signal?: AbortSignal): Promise<void> {
    const now = this.deps.now()
    const slot = Math.max(now, this.next)
    this.next = slot + 1000 / this.current
    if (slot > now && !signal?.aborted) await this.deps.sleep(slot - now)
  }

  /** Marketing Cloud answered 429: slow down and wait at least `retryAfterMs` before the next slot. */
  backOff(retryAfterMs: number): void {
    this.backoffs++
    this.streak = 0
    this.current = Math.max(MIN_STATUS_RATE, this.current / 2)
    this.next = Math.max(this.next, this.deps.now() + Math.max(0, retryAfterMs))
  }

  /** An answer without throttling: every 10 in a row give back 10% of the ceiling. */
  succeeded(): void {
    this.streak++
    if (this.streak >= 10 && this.current < this.ceiling) {
      this.streak = 0
      this.current = Math.min(this.ceiling, this.current + this.ceiling / 10)
    }
  }
}
