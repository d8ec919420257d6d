// A clock a test moves by hand (no sleeping): starts at the real time, then goes forward on request.
import type { Clock } from '../../src/core/clock.js';

export const DAY_MS = 24 * 60 * 60 * 1000;

export interface TestClock {
  now: Clock;
  /** Moves the clock forward by `days` (fractions allowed). */
  advanceDays(days: number): void;
}

export function testClock(): TestClock {
  let offsetMs = 0;
  return {
    now: () => new Date(Date.now() + offsetMs),
    advanceDays: (days) => {
      offsetMs += days * DAY_MS;
    },
  };
}
