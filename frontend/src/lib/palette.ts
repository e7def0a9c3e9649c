const COLORS = ['#0ea5e9', '#f97316', '#22c55e', '#a855f7', '#ef4444', '#eab308', '#14b8a6', '#ec4899', '#6366f1', '#84cc16']

export function colorFor(index: number): string {
  return COLORS[index % COLORS.length]
}
