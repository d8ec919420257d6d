// The consent activity chart's geometry: one stacked bar per day (grants, withdrawals, approval
// requests), a y axis with round ticks, and a date under every seventh day. Plain numbers for
// views/admin/consent-chart.eta, which draws them as an inline SVG on the server (no script).
import type { ConsentActivityDay } from '../../services/audit-log.js';

export const CHART_SERIES = ['grants', 'withdrawals', 'requests'] as const;
export type ChartSeries = (typeof CHART_SERIES)[number];

const WIDTH = 720;
const HEIGHT = 240;
// The right margin leaves room for the last date, centred under the last bar.
const PLOT = { left: 40, right: 40, top: 12, bottom: 28 };

export interface ConsentChart {
  width: number;
  height: number;
  plot: { left: number; right: number; top: number; bottom: number };
  bars: Array<{ day: string; series: ChartSeries; value: number; x: number; y: number; width: number; height: number }>;
  yTicks: Array<{ value: number; y: number }>;
  /** Days labelled under the axis (every seventh, ending today), with the centre of their bar. */
  xLabels: Array<{ day: string; x: number }>;
  totals: Record<ChartSeries, number>;
  days: ConsentActivityDay[];
}

/** The smallest of 1, 2, 5, 10, 20, 50, … at or above `value` (at least 1): the y axis's top. */
export function roundCeiling(value: number): number {
  let step = 1;
  for (;;) {
    for (const factor of [1, 2, 5]) if (step * factor >= value) return step * factor;
    step *= 10;
  }
}

export function consentChart(days: ConsentActivityDay[]): ConsentChart {
  const plotWidth = WIDTH - PLOT.left - PLOT.right;
  const plotBottom = HEIGHT - PLOT.bottom;
  const plotHeight = plotBottom - PLOT.top;
  const top = roundCeiling(Math.max(1, ...days.map((day) => day.grants + day.withdrawals + day.requests)));
  const slot = plotWidth / Math.max(1, days.length);
  const barWidth = Math.max(2, slot * 0.7);
  const scale = (value: number) => (value / top) * plotHeight;
  const round = (value: number) => Math.round(value * 10) / 10;

  const bars: ConsentChart['bars'] = [];
  days.forEach((day, index) => {
    let stacked = 0;
    for (const series of CHART_SERIES) {
      const value = day[series];
      if (value === 0) continue;
      const height = scale(value);
      bars.push({
        day: day.day,
        series,
        value,
        x: round(PLOT.left + index * slot + (slot - barWidth) / 2),
        y: round(plotBottom - scale(stacked) - height),
        width: round(barWidth),
        height: round(height),
      });
      stacked += value;
    }
  });
  // Whole numbers only: events are counted, so 5 has no middle tick.
  const yTicks = [0, top / 2, top]
    .filter((value) => Number.isInteger(value))
    .map((value) => ({
      value,
      y: round(plotBottom - scale(value)),
    }));
  const xLabels = days
    .map((day, index) => ({ day: day.day, x: round(PLOT.left + index * slot + slot / 2), index }))
    .filter(({ index }) => (days.length - 1 - index) % 7 === 0)
    .map(({ day, x }) => ({ day, x }));
  const totals = Object.fromEntries(
    CHART_SERIES.map((series) => [series, days.reduce((sum, day) => sum + day[series], 0)]),
  ) as Record<ChartSeries, number>;
  return { width: WIDTH, height: HEIGHT, plot: PLOT, bars, yTicks, xLabels, totals, days };
}
