import {createInterface} from 'node:readline'

import * as Flags from '@oclif/core/flags'

import {BaseCommand} from '../../cli/base-command.js'
import {hashSuppressionList} from '../../core/suppress-hash.js'
import type {ExitCodes} from '../../errors.js'

export default class SuppressHash extends BaseCommand<typeof SuppressHash> {
  static summary = 'Hash a suppression list, so it can be committed without the addresses or contactKeys in it.'
  static description = `Reads one value per line on stdin (an email address with --match to, a contactKey with --match contactKey) and prints a CSV with a header \`hash\` and one hash per value. Name the file in a send's (or mcsend.yaml's) \`suppress:\` with \`hashed: true\` and the same \`match\`.

Each hash is a prefix naming how it was made, a colon, and base64url of the first 16 bytes of SHA-256("suppress\\n" + match + "\\n" + value), where match is to or contactKey and an address is trimmed and in lower case. Without MCSEND_STATE_KEY the prefix is sha256. With MCSEND_STATE_KEY set it is HMAC-SHA-256 under that key instead, and the prefix is hmac- and the first 10 characters of the key's fingerprint (as the state records it). Hash the list with the key the plan runs with: a plan refuses (exit 3) a list hashed another way, since it would suppress nobody (keyed, nobody without the key can test an address against the list).`

  static exitCodes: ExitCodes = [0, 3, 64]

  static examples = [
    {description: 'Hash a file of addresses into a committable list', command: '<%= config.bin %> <%= command.id %> --match to < optouts.txt > suppress/optouts.csv'},
    {description: 'Hash contactKeys', command: "printf 'c17\\nc42\\n' | <%= config.bin %> <%= command.id %> --match contactKey"},
  ]

  static flags = {
    json: Flags.boolean({helpGroup: 'OUTPUT', description: 'Print the hashes as one JSON document instead of a CSV.'}),
    match: Flags.option({options: ['to', 'contactKey'] as const, required: true, description: 'What each line holds: an email address (to) or a contactKey.'})(),
  }

  async run(): Promise<{match: 'to' | 'contactKey'; keyed: boolean; hashes: string[]}> {
    const {flags} = await this.parse(SuppressHash)
    const lines = await hashSuppressionList(createInterface({input: process.stdin, crlfDelay: Infinity}), {match: flags.match, env: process.env, inputName: 'stdin'})
    if (!this.jsonEnabled()) process.stdout.write(`${lines.join('\n')}\n`)
    return {match: flags.match, keyed: Boolean(process.env.MCSEND_STATE_KEY), hashes: lines.slice(1)}
  }
}
