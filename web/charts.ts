import Decimal from 'decimal.js';

/**
 * The geometry of the console's server-drawn charts: scales, ticks and bar positions, as plain
 * numbers for SVG coordinates. Amounts arrive as the API's decimal strings and are turned into
 * numbers here only to place shapes; the figures a page prints come from the strings themselves.
 */

/** An SVG coordinate for an amount (a decimal string): precision beyond a pixel does not matter here. */
export const coordinate = (amount: string | Decimal): number => new Decimal(amount).toNumber();

/** Maps [d0, d1] onto [r0, r1]; a domain of one point maps to the middle of the range. */
export function linearScale(d0: number, d1: number, r0: number, r1: number): (value: number) => number {
  if (d1 === d0) return () => (r0 + r1) / 2;
  const k = (r1 - r0) / (d1 - d0);
  return (value) => r0 + (value - d0) * k;
}

/** The round step (1, 2 or 5 times a power of ten) closest above `rough`. */
export function niceStep(rough: number): number {
  if (!(rough > 0) || !Number.isFinite(rough)) return 1;
  const power = 10 ** Math.floor(Math.log10(rough));
  const fraction = rough / power;
  const nice = fraction <= 1 ? 1 : fraction <= 2 ? 2 : fraction <= 5 ? 5 : 10;
  return nice * power;
}

/**
 * Round ticks covering [min, max] and zero, about `count` intervals: the axis of a chart whose bars
 * grow from zero. An empty range (all zeros) still gets the axis 0..1.
 */
export function niceTicks(min: number, max: number, count = 5): number[] {
  const low = Math.min(0, min);
  let high = Math.max(0, max);
  if (high === low) high = low + 1;
  const step = niceStep((high - low) / Math.max(1, count));
  const first = Math.floor(low / step);
  const last = Math.ceil(high / step);
  const ticks: number[] = [];
  // Multiplying the step (rather than adding it) keeps 0.1 + 0.2 drift out of the labels.
  for (let i = first; i <= last; i++) ticks.push(Number((i * step).toPrecision(12)));
  return ticks;
}

/** Equal bands for `count` categories across [start, end]; `padding` is the share of a band left empty. */
export function bands(count: number, start: number, end: number, padding = 0.25): Array<{ x: number; width: number; center: number }> {
  if (count <= 0) return [];
  const band = (end - start) / count;
  const width = band * (1 - padding);
  return Array.from({ length: count }, (_, i) => {
    const x = start + i * band + (band - width) / 2;
    return { x, width, center: start + i * band + band / 2 };
  });
}

export interface Box {
  width: number;
  height: number;
  /** Room kept for the axes' labels. */
  margin: { top: number; right: number; bottom: number; left: number };
}

/** One month of MRR and its movements, as the reports API states them (decimal strings). */
export interface MrrMonthInput {
  month: string;
  mrr: string;
  new: string;
  expansion: string;
  reactivation: string;
  contraction: string;
  churn: string;
}

export const MOVEMENTS = ['new', 'expansion', 'reactivation', 'contraction', 'churn'] as const;
export type Movement = (typeof MOVEMENTS)[number];
/** Movements that add MRR are stacked above zero, those that take it away below. */
const SIGN: Record<Movement, 1 | -1> = { new: 1, expansion: 1, reactivation: 1, contraction: -1, churn: -1 };

export interface Rect {
  x: number;
  y: number;
  width: number;
  height: number;
}

export interface FlowChartGeometry<K extends string> {
  box: Box;
  /** The y of each tick, with its value. */
  yTicks: Array<{ value: number; y: number }>;
  /** The y of zero, where the bars start. */
  zeroY: number;
  months: Array<{ month: string; center: number; bars: Array<{ movement: K; rect: Rect }>; point: { x: number; y: number } }>;
}

export type MrrChartGeometry = FlowChartGeometry<Movement>;

/** One column of a flow chart: a level (drawn as a point of the line) and the flows in and out of it. */
export interface FlowInput<K extends string> {
  month: string;
  level: string;
  /** Stacked up from zero, in this order. */
  up: Array<[K, string]>;
  /** Stacked down from zero, in this order (amounts given as positive). */
  down: Array<[K, string]>;
}

const MONTH_NAMES = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** "Jan 26" for "2026-01". */
export const monthLabel = (month: string): string => `${MONTH_NAMES[Number(month.slice(5, 7)) - 1]} ${month.slice(2, 4)}`;

/**
 * A level as a line and what moved it as bars, on one axis: inflows stacked up from zero, outflows
 * stacked down (MRR and its movements; deferred revenue, billed and recognised).
 */
export function flowChart<K extends string>(columns: Array<FlowInput<K>>, box: Box): FlowChartGeometry<K> {
  const { margin } = box;
  const total = (flows: Array<[K, string]>) => flows.reduce((s, [, a]) => s + Math.abs(coordinate(a)), 0);
  const highs = columns.map((c) => Math.max(coordinate(c.level), total(c.up)));
  const lows = columns.map((c) => Math.min(coordinate(c.level), -total(c.down)));
  const ticks = niceTicks(Math.min(0, ...lows), Math.max(0, ...highs));
  const y = linearScale(ticks[0], ticks[ticks.length - 1], box.height - margin.bottom, margin.top);
  const slots = bands(columns.length, margin.left, box.width - margin.right, 0.35);
  const stack = (flows: Array<[K, string]>, sign: 1 | -1, x: number, width: number) => {
    let at = 0;
    return flows.flatMap(([movement, amount]) => {
      const size = Math.abs(coordinate(amount));
      if (size === 0) return [];
      const [y1, y2] = [y(at), y(at + sign * size)];
      at += sign * size;
      return [{ movement, rect: { x, y: Math.min(y1, y2), width, height: Math.abs(y2 - y1) } }];
    });
  };
  return {
    box,
    zeroY: y(0),
    yTicks: ticks.map((value) => ({ value, y: y(value) })),
    months: columns.map((c, i) => {
      const slot = slots[i];
      return { month: c.month, center: slot.center, bars: [...stack(c.up, 1, slot.x, slot.width), ...stack(c.down, -1, slot.x, slot.width)], point: { x: slot.center, y: y(coordinate(c.level)) } };
    }),
  };
}

/**
 * MRR as a line and its movements as bars: new, expansion and reactivation stacked up from zero,
 * contraction and churn (positive amounts in the report) stacked down.
 */
export function mrrChart(months: MrrMonthInput[], box: Box): MrrChartGeometry {
  return flowChart(
    months.map((m) => ({
      month: m.month,
      level: m.mrr,
      up: MOVEMENTS.filter((k) => SIGN[k] > 0).map((k): [Movement, string] => [k, m[k]]),
      down: MOVEMENTS.filter((k) => SIGN[k] < 0).map((k): [Movement, string] => [k, m[k]]),
    })),
    box,
  );
}

/** Horizontal bars of amounts against the largest, as widths out of `width` (a zero amount has none). */
export function horizontalBars(amounts: string[], width: number): number[] {
  const values = amounts.map((a) => Math.max(0, coordinate(a)));
  const max = Math.max(0, ...values);
  if (max === 0) return values.map(() => 0);
  return values.map((v) => (v / max) * width);
}

/** A compact axis label: 1500 → "1.5k", 2000000 → "2M", 250 → "250". */
export function shortNumber(value: number): string {
  const abs = Math.abs(value);
  const trim = (n: number) => Number(n.toPrecision(3)).toString();
  if (abs >= 1e9) return `${trim(value / 1e9)}B`;
  if (abs >= 1e6) return `${trim(value / 1e6)}M`;
  if (abs >= 1e3) return `${trim(value / 1e3)}k`;
  return trim(value);
}
