// core/grant-lifetime.ts, row by row: a grant's lifetime from the tenant's classes and the app's
// own, the end of a grant from what it rests on, and the lifetimes an operator may write.
import t from 'tap';
import { expiryAfter, grantEnd, grantLifetimeDays, parseGrantLifetime } from '../../src/core/grant-lifetime.js';

const DAY = 86_400_000;

t.test('the lifetime of a grant: the app’s own, else the shortest of its classes', async (t) => {
  const cases = [
    { policy: { classes: {} }, impacts: ['high'], days: null, why: 'no policy: no expiry' },
    { policy: { classes: { default: 30 } }, impacts: ['low'], days: 30, why: 'default for every class' },
    { policy: { classes: { high: 90 } }, impacts: ['low'], days: null, why: 'a class without a row: no expiry' },
    { policy: { classes: { default: 30, high: 7 } }, impacts: ['low', 'high'], days: 7, why: 'the shortest' },
    { policy: { classes: { default: 5, low: 60 } }, impacts: ['low', 'medium'], days: 5, why: 'medium takes default' },
    { policy: { classes: { high: 7 }, app: 365 }, impacts: ['high'], days: 365, why: 'the app’s own wins' },
    { policy: { classes: { high: 7 }, app: null }, impacts: ['high'], days: null, why: 'the app never expires' },
  ] as const;
  for (const row of cases)
    t.equal(grantLifetimeDays({ ...row.policy, classes: { ...row.policy.classes } }, row.impacts), row.days, row.why);
  t.equal(expiryAfter(new Date(0), null), null);
  t.equal(expiryAfter(new Date(0), 2)?.getTime(), 2 * DAY);
});

t.test('a grant ends with the earliest live source that grants something', async (t) => {
  const now = new Date(10 * DAY);
  const at = (days: number) => new Date(days * DAY);
  const end = (sources: Parameters<typeof grantEnd>[0]) => grantEnd(sources, now);
  const base = { userScopes: ['a'], userExpiresAt: null, adminScopes: [] as string[], adminReviewAt: null };
  t.equal(end({ ...base, userExpiresAt: at(12) }), (12 * DAY) / 1000, "the user's expiry");
  t.equal(
    end({ ...base, userExpiresAt: at(12), adminScopes: ['b'], adminReviewAt: at(11) }),
    (11 * DAY) / 1000,
    'the earlier review date',
  );
  t.equal(
    end({ ...base, userExpiresAt: at(12), adminScopes: [], adminReviewAt: at(11) }),
    (12 * DAY) / 1000,
    'an admin consent granting nothing does not count',
  );
  t.ok(end(base) > (10 * DAY) / 1000 + 364 * 86_400, 'nothing expires: a year from now');
});

t.test('lifetimes as written: whole days from 1, or none', async (t) => {
  t.equal(parseGrantLifetime('90'), 90);
  t.equal(parseGrantLifetime(1), 1);
  t.equal(parseGrantLifetime('none'), null);
  t.equal(parseGrantLifetime(null), null);
  for (const bad of ['0', '-3', '0.99', '2.5', '', 'x', '36501'])
    t.throws(() => parseGrantLifetime(bad), { code: 'invalid_request' }, JSON.stringify(bad));
});
