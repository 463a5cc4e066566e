import {Command} from '@oclif/core/command'
import {CommandHelp, Help} from '@oclif/core/help'

import {EXIT_CODE_MEANINGS, type ExitCodes} from '../errors.js'

/**
 * mcsend's help: an EXIT CODES section listing only the codes a command declares (`static exitCodes`), and
 * descriptions whose indented or bulleted lines keep their indentation when they wrap (oclif's own wrapping
 * starts every continuation line at the margin).
 */
class McsendCommandHelp extends CommandHelp {
  protected sections(): ReturnType<CommandHelp['sections']> {
    const sections = super.sections().map((section) => {
      if (section.header !== 'FLAGS') return section
      // The command's own flags first, then its groups (OUTPUT, STATE, …), the flags every command has last.
      const generate: typeof section.generate = (data, header) => {
        const body = section.generate(data, header)
        if (!Array.isArray(body)) return body
        const isGlobal = (s: (typeof body)[number]) => s?.header === `GLOBAL ${header}`
        return [...body.filter((s) => !isGlobal(s)), ...body.filter((s) => isGlobal(s))]
      }
      return {...section, generate}
    })
    const at = sections.findIndex((s) => s.header === 'EXAMPLES')
    const exitCodes = {header: 'EXIT CODES', generate: () => this.exitCodes()}
    sections.splice(at === -1 ? sections.length : at, 0, exitCodes)
    return sections
  }

  protected description(): string | undefined {
    const cmd = this.command
    if (!cmd.description) return undefined
    const text = cmd.summary ? `${cmd.summary}\n\n${cmd.description}` : cmd.description
    return this.render(text)
      .split('\n')
      .map((line) => this.hangingWrap(line))
      .join('\n')
  }

  private exitCodes(): string | undefined {
    const codes = (this.command as Command.Loadable & {exitCodes?: ExitCodes}).exitCodes
    if (!codes || codes.length === 0) return undefined
    return this.renderList(
      codes.map((entry) => (Array.isArray(entry) ? [String(entry[0]), entry[1]] : [String(entry), EXIT_CODE_MEANINGS[entry]])),
      {indentation: 2, multiline: false, stripAnsi: this.opts.stripAnsi},
    )
  }

  /** Wraps one line to the help width; continuation lines start under the text, past any indent or "- " bullet. */
  private hangingWrap(line: string): string {
    const lead = /^(\s*(?:[-*] )?)/.exec(line)?.[1] ?? ''
    const width = this.opts.maxWidth - this.indentSpacing
    if (line.length <= width || lead.length >= width / 2) return this.wrap(line)
    const wrapped = this.wrap(line.slice(lead.length), this.indentSpacing + lead.length).split('\n')
    const pad = ' '.repeat(lead.length)
    return wrapped.map((l, i) => (i === 0 ? lead : pad) + l).join('\n')
  }
}

export default class McsendHelp extends Help {
  protected CommandHelpClass = McsendCommandHelp
}
