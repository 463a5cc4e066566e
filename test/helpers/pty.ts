import {spawn} from 'node:child_process'

import {BIN} from './project.js'

/**
 * The built CLI on a pseudo-terminal, without a native module: util-linux `script` gives the child a pty (stdin
 * and stderr are terminals, so mcsend prompts) and relays our pipe into it. `answer` types a line once `prompt`
 * has appeared in the output; the outcome waits for that event, never for time.
 */
export interface PtyRun {
  /** Everything the terminal showed (stdout and stderr interleaved, CR LF line ends). */
  output(): string
  /** Types `text` + Enter as soon as the output contains `prompt`. */
  answer(prompt: string, text: string): void
  done: Promise<{code: number | null; output: string}>
}

export function runInPty(args: string[], options: {cwd: string; env?: NodeJS.ProcessEnv}): PtyRun {
  const quote = (s: string) => `'${s.replaceAll("'", "'\\''")}'`
  const command = [process.execPath, BIN, ...args].map(quote).join(' ')
  const env = {PATH: process.env.PATH, HOME: process.env.HOME, NO_COLOR: '1', TERM: 'dumb', ...options.env}
  // -q: no banner; -e: exit with the child's code; -c: the command; /dev/null: no typescript file.
  const child = spawn('script', ['-q', '-e', '-c', command, '/dev/null'], {cwd: options.cwd, env, stdio: ['pipe', 'pipe', 'pipe']})
  let output = ''
  const waiting: {prompt: string; text: string}[] = []
  const check = () => {
    for (const w of [...waiting]) {
      if (!output.includes(w.prompt)) continue
      waiting.splice(waiting.indexOf(w), 1)
      child.stdin!.write(`${w.text}\r`)
    }
  }
  child.stdout!.on('data', (d: Buffer) => {
    output += d.toString()
    check()
  })
  child.stderr!.on('data', (d: Buffer) => (output += d.toString()))
  const done = new Promise<{code: number | null; output: string}>((resolve) => child.on('close', (code) => resolve({code, output})))
  return {
    output: () => output,
    answer(prompt, text) {
      waiting.push({prompt, text})
      check()
    },
    done,
  }
}
