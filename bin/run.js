#!/usr/bin/env node
import {readFileSync} from 'node:fs'
import {arch, release} from 'node:os'

const argv = process.argv.slice(2)

// `mcsend --version` / `-v` alone: print what oclif's version flag prints (name/version platform-arch node-version)
// without loading oclif, so the answer costs about a bare `node` start. Anything else, and platforms where oclif
// names the platform differently (WSL, Windows, 32-bit x86), goes through oclif.
if (argv.length === 1 && (argv[0] === '--version' || argv[0] === '-v') && (process.platform === 'darwin' || (process.platform === 'linux' && !/microsoft/i.test(release()))) && arch() !== 'ia32') {
  const pjson = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'))
  process.stdout.write(`${pjson.name}/${pjson.version} ${process.platform}-${arch()} node-${process.version}\n`)
} else {
  const {configureColour} = await import('../dist/cli/colour-env.js')
  configureColour(argv, process.env)
  const {execute} = await import('@oclif/core/execute')
  await execute({dir: import.meta.url})
}
