// Hooks the benchmarks read: a count of uPlot draws and a mark at the first chart drawn with data.

declare global {
  interface Window {
    __microdash: { chartsDrawn: number }
  }
}

export const FIRST_CHART_MARK = 'microdash:first-chart'

let firstChartMarked = false

export function installDrawStats(): void {
  if (typeof window !== 'undefined' && !window.__microdash) window.__microdash = { chartsDrawn: 0 }
}

export function recordDraw(pointsDrawn: number): void {
  installDrawStats()
  window.__microdash.chartsDrawn += 1
  if (!firstChartMarked && pointsDrawn > 0) {
    firstChartMarked = true
    performance.mark(FIRST_CHART_MARK)
  }
}
