const NUMBER = new Intl.NumberFormat('en-US')

/** 4500 -> "4,500" */
export function formatCount(n: number): string {
  return NUMBER.format(n)
}

/** "1 request" / "3 requests" */
export function plural(n: number, singular: string, pluralForm = `${singular}s`): string {
  return `${formatCount(n)} ${n === 1 ? singular : pluralForm}`
}

export function formatAttributeValue(value: string | number | boolean): string {
  return typeof value === 'string' ? JSON.stringify(value) : String(value)
}
