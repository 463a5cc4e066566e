/**
 * The privacy layer: finding and masking addresses, escaping untrusted text for terminals and Markdown, safe
 * excerpts for error messages, and the rule of what may be stored in clear. A leaf: it imports nothing of ours,
 * so every layer (renderers, the state, the error paths) can use it.
 */
export {containsAddress, findAddresses, isWholeAddress, type AddressSpan, type ScanCounter} from './address.js'
export {escapeJsonText, escapeMarkdown, escapeMarkdownMasked, escapeTerminal, escapeTerminalLines, jsonLine} from './escape.js'
export {EXCERPT_LENGTH, excerpt, excerptList} from './excerpt.js'
export {maskAddresses, maskAttributes, maskValue, mayStoreInClear, redactAddresses, type MaskOptions} from './mask.js'
