/**
 * At most 2,000 recipients per request, and Salesforce recommends at most 500 when recipients carry
 * attributes (docs/marketing-cloud-api.md, "Batch send").
 */
export const MAX_BATCH_SIZE = 2000
export const BATCH_SIZE_WITH_ATTRIBUTES = 500

/** The batch size of a send: the manifest's batchSize (capped at 2000), else 500 with attributes, else 2000. */
export function chooseBatchSize(explicit: number | undefined, anyRecipientAttributes: boolean): number {
  if (explicit !== undefined) return Math.max(1, Math.min(MAX_BATCH_SIZE, Math.floor(explicit)))
  return anyRecipientAttributes ? BATCH_SIZE_WITH_ATTRIBUTES : MAX_BATCH_SIZE
}

/** Splits items into consecutive chunks of `size`, keeping their order. */
export function chunk<T>(items: readonly T[], size: number): T[][] {
  if (size < 1) throw new RangeError('batch size must be at least 1')
  const out: T[][] = []
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size))
  return out
}
