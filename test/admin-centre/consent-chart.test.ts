// The consent activity chart's geometry and the audit log's day bounds, without a server.
import t from 'tap';
import { consentChart, roundCeiling } from '../../src/routes/admin-centre/consent-chart.js';
import { type ConsentActivityDay, utcDayBounds } from '../../src/services/audit-log.js';

const days = (counts: Array<[number, number, number]>): ConsentActivityDay[] =>
  counts.map(([grants, withdrawals, requests], index) => ({
    day: `2026-11-${String(index + 1).padStart(2, '0')}`,
    grants,
    withdrawals,
    requests,
  }));

t.test('the y axis tops at a round number, with whole-number ticks', async (t) => {
  t.same([0, 1, 2, 3, 4, 6, 11, 49, 51, 120].map(roundCeiling), [1, 1, 2, 5, 5, 10, 20, 50, 100, 200]);
  const quiet = consentChart(days(Array(30).fill([0, 0, 0])));
  t.same(
    quiet.yTicks.map((tick) => tick.value),
    [0, 1],
    'an empty month still has an axis',
  );
  t.same(quiet.bars, [], 'and no bars');
  const busy = consentChart(days([...Array(29).fill([0, 0, 0]), [2, 1, 1]]));
  t.same(
    busy.yTicks.map((tick) => tick.value),
    [0, 5],
    'no 2.5',
  );
});

t.test('one stacked bar a day: grants at the bottom, then withdrawals, then requests', async (t) => {
  const chart = consentChart(days([...Array(29).fill([0, 0, 0]), [6, 3, 1]]));
  t.same(
    chart.bars.map((bar) => [bar.series, bar.value]),
    [
      ['grants', 6],
      ['withdrawals', 3],
      ['requests', 1],
    ],
  );
  const [grants, withdrawals, requests] = chart.bars as [
    (typeof chart.bars)[0],
    (typeof chart.bars)[0],
    (typeof chart.bars)[0],
  ];
  const bottom = chart.height - chart.plot.bottom;
  t.equal(Math.round(grants.y + grants.height), bottom, 'grants stand on the axis');
  t.equal(Math.round(withdrawals.y + withdrawals.height), Math.round(grants.y), 'withdrawals on the grants');
  t.equal(Math.round(requests.y + requests.height), Math.round(withdrawals.y));
  t.equal(Math.round(requests.y), chart.plot.top, 'ten reaches the top of a 10 axis');
  t.ok(Math.abs(grants.height - 2 * withdrawals.height) < 0.2, 'heights in proportion');
  t.ok(grants.x + grants.width <= chart.width - chart.plot.right, 'inside the plot');
  t.same(chart.totals, { grants: 6, withdrawals: 3, requests: 1 });
  t.same(
    chart.xLabels.map((label) => label.day),
    ['2026-11-02', '2026-11-09', '2026-11-16', '2026-11-23', '2026-11-30'],
    'every seventh day, ending on the last',
  );
});

t.test('a day of the audit filter is a whole UTC day; a date that does not exist is none', async (t) => {
  t.same(utcDayBounds('2026-03-10'), {
    start: new Date('2026-03-10T00:00:00Z'),
    end: new Date('2026-03-11T00:00:00Z'),
  });
  for (const bad of ['2026-02-30', '2026-13-01', '10-03-2026', '2026-3-1', ''])
    t.equal(utcDayBounds(bad), undefined, JSON.stringify(bad));
});
