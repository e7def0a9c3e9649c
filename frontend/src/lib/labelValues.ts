/** label name → its distinct values, sorted, over a list of series. */
export function labelValuesOf(series: { labels: Record<string, string> }[]): Record<string, string[]> {
  const values: Record<string, Set<string>> = {}
  for (const one of series) {
    for (const [name, value] of Object.entries(one.labels)) (values[name] ??= new Set()).add(value)
  }
  return Object.fromEntries(Object.entries(values).map(([name, set]) => [name, [...set].sort()]))
}
