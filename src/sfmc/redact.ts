/** Keeps secrets and personal data out of messages: errors, events and per-recipient outcomes end up in logs and state. */

const EMAIL = /[^\s@"'<>()[\]{},;:]+@[^\s@"'<>()[\]{},;:]+\.[a-z]{2,}/gi

/** Replaces every email address in the text with `<email>`. */
export function maskEmails(text: string): string {
  return text.replace(EMAIL, '<email>')
}

/** Replaces each secret (client secret, access tokens) with `[redacted]`, then masks email addresses. */
export function redact(text: string, secrets: Iterable<string>): string {
  let out = text
  for (const secret of secrets) {
    // Very short values would blank out ordinary words; real secrets and tokens are long.
    if (secret.length >= 6) out = out.split(secret).join('[redacted]')
  }
  return maskEmails(out)
}
