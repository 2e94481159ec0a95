import { bands, flowChart, horizontalBars, linearScale, monthLabel, mrrChart, niceStep, niceTicks, shortNumber } from '../../web/charts';

/** The geometry behind the console's SVG charts: where ticks, bars and points land. */
describe('chart geometry', () => {
  it('maps a domain onto a range, upside down for a y axis', () => {
    const y = linearScale(0, 100, 200, 0);
    expect([y(0), y(50), y(100), y(-50)]).toEqual([200, 100, 0, 300]);
    expect(linearScale(5, 5, 0, 10)(5)).toBe(5);
  });

  it('chooses round steps and ticks that cover the data and zero', () => {
    expect([niceStep(0.7), niceStep(1.3), niceStep(3), niceStep(7), niceStep(240), niceStep(0)]).toEqual([1, 2, 5, 10, 500, 1]);
    expect(niceTicks(0, 940)).toEqual([0, 200, 400, 600, 800, 1000]);
    expect(niceTicks(-120, 480)).toEqual([-200, 0, 200, 400, 600]);
    expect(niceTicks(0, 0)).toEqual([0, 0.2, 0.4, 0.6, 0.8, 1]);
    expect(niceTicks(0, 0.3, 3)).toEqual([0, 0.1, 0.2, 0.3]);
  });

  it('splits a width into centred bands', () => {
    expect(bands(2, 0, 100, 0.5)).toEqual([
      { x: 12.5, width: 25, center: 25 },
      { x: 62.5, width: 25, center: 75 },
    ]);
    expect(bands(0, 0, 100)).toEqual([]);
  });

  it('stacks additions above zero and losses below it, with the MRR point on the same axis', () => {
    const box = { width: 240, height: 220, margin: { top: 10, right: 20, bottom: 10, left: 20 } };
    const zero = { new: '0', expansion: '0', reactivation: '0', contraction: '0', churn: '0' };
    const chart = mrrChart(
      [
        { month: '2026-01', mrr: '300.00', ...zero, new: '300.00' },
        { month: '2026-02', mrr: '350.00', ...zero, new: '100.00', expansion: '50.00', churn: '100.00' },
      ],
      box,
    );
    // Ticks 0..400 by 100 over y 210..10: 50 px per 100.
    expect(chart.yTicks.map((t) => [t.value, t.y])).toEqual([
      [-100, 210],
      [0, 170],
      [100, 130],
      [200, 90],
      [300, 50],
      [400, 10],
    ]);
    expect(chart.zeroY).toBe(170);
    const [jan, feb] = chart.months;
    expect(jan.bars).toEqual([{ movement: 'new', rect: { x: 20 + 100 * 0.175, y: 50, width: 65, height: 120 } }]);
    expect(jan.point).toEqual({ x: 70, y: 50 });
    expect(feb.bars.map((b) => [b.movement, b.rect.y, b.rect.height])).toEqual([
      ['new', 130, 40],
      ['expansion', 110, 20],
      ['churn', 170, 40],
    ]);
    expect(feb.point).toEqual({ x: 170, y: 30 });
  });

  it('draws horizontal bars against the largest amount, and none when all are zero', () => {
    expect(horizontalBars(['50.00', '200.00', '0.00', '100'], 400)).toEqual([100, 400, 0, 200]);
    expect(horizontalBars(['0.00', '0'], 400)).toEqual([0, 0]);
  });

  it('labels axes and months compactly', () => {
    expect([shortNumber(250), shortNumber(1500), shortNumber(-2000), shortNumber(2_000_000), shortNumber(0.5)]).toEqual(['250', '1.5k', '-2k', '2M', '0.5']);
    expect([monthLabel('2026-01'), monthLabel('2025-12')]).toEqual(['Jan 26', 'Dec 25']);
  });
});

describe('flow chart', () => {
  it('keeps a level below zero on the axis and stacks outflows downwards', () => {
    const box = { width: 120, height: 160, margin: { top: 5, right: 10, bottom: 5, left: 10 } };
    const chart = flowChart([{ month: '2026-03', level: '-40', up: [['billed', '80']], down: [['recognized', '20'], ['other', '20.00']] }], box);
    // Ticks -50..100 over y 155..5: one pixel per unit.
    expect(chart.yTicks.map((t) => [t.value, t.y])).toEqual([
      [-50, 155],
      [0, 105],
      [50, 55],
      [100, 5],
    ]);
    expect(chart.months[0].bars.map((b) => [b.movement, b.rect.y, b.rect.height])).toEqual([
      ['billed', 25, 80],
      ['recognized', 105, 20],
      ['other', 125, 20],
    ]);
    expect(chart.months[0].point).toEqual({ x: 60, y: 145 });
  });
});
