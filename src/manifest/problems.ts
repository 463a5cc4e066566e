import type {Problem} from '../errors.js'

/**
 * Collects problems up to a cap and counts the rest, so a file with a million bad rows costs a counter, not a
 * million messages.
 */
export class ProblemSink {
  readonly problems: Problem[] = []
  omitted = 0
  private readonly max: number

  constructor(max: number) {
    this.max = Math.max(0, max)
  }

  add(problem: Problem): void {
    if (this.problems.length < this.max) this.problems.push(problem)
    else this.omitted++
  }

  get total(): number {
    return this.problems.length + this.omitted
  }
}

/** Problems of one unit (a send, a file) that also feed the shared sink; `count` tells whether the unit is clean. */
export class ScopedProblems {
  count = 0
  private readonly sink: ProblemSink

  constructor(sink: ProblemSink) {
    this.sink = sink
  }

  add(problem: Problem): void {
    this.count++
    this.sink.add(problem)
  }
}
