import fc from 'fast-check';
import { createTask, type ScheduledTask } from 'node-cron';
import {
  businessIntervals,
  DEFAULT_BUSINESS_HOURS,
  previousFire,
  weekEndingAt,
} from '../../src/audit/period';

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

describe('previousFire', () => {
  const tasks: ScheduledTask[] = [];
  afterAll(async () => {
    for (const task of tasks) await task.destroy();
  });
  const fires = (schedule: string, timezone: string) => {
    const task = createTask(schedule, () => undefined, { timezone });
    tasks.push(task);
    return (at: string) =>
      iso(previousFire(schedule, timezone, Date.parse(at), (d) => task.match(d)));
  };

  it('finds the Monday 09:00 tick in the zone, across the end of summer time', () => {
    const monday = fires('0 9 * * 1', 'Europe/Berlin');
    expect(monday('2026-10-26T08:00:00Z')).toBe('2026-10-26T08:00:00.000Z'); // the tick itself
    expect(monday('2026-10-26T07:59:59.999Z')).toBe('2026-10-19T07:00:00.000Z'); // CEST
    expect(monday('2026-10-28T12:00:00Z')).toBe('2026-10-26T08:00:00.000Z'); // CET
    expect(monday('2026-03-30T07:00:00Z')).toBe('2026-03-30T07:00:00.000Z'); // back to CEST
  });

  it('understands names, nicknames, seconds, steps and node-cron tokens', () => {
    expect(fires('0 9 * * mon-fri', 'UTC')('2026-10-25T12:00:00Z')).toBe(
      '2026-10-23T09:00:00.000Z',
    );
    expect(fires('@weekly', 'UTC')('2026-10-28T00:00:00Z')).toBe('2026-10-25T00:00:00.000Z');
    expect(fires('*/30 * * * * *', 'UTC')('2026-10-28T00:00:45.500Z')).toBe(
      '2026-10-28T00:00:30.000Z',
    );
    expect(fires('0 18 L * *', 'America/New_York')('2026-11-15T00:00:00Z')).toBe(
      '2026-10-31T22:00:00.000Z',
    );
    expect(fires('0 9 * * 1#1', 'UTC')('2026-10-28T00:00:00Z')).toBe('2026-10-05T09:00:00.000Z');
  });

  it('looks back eight years at most', () => {
    expect(fires('0 0 29 2 *', 'UTC')('2026-10-28T00:00:00Z')).toBe('2024-02-29T00:00:00.000Z');
    // node-cron ANDs day of month and day of week: 29 Feb on a Monday was last in 2016.
    expect(fires('0 0 29 2 1', 'UTC')('2026-10-28T00:00:00Z')).toBeNull();
  });

  /**
   * Checks previousFire against a walk back from `at` in steps of `stepMs`, asking node-cron's
   * own matcher at each step, for times anywhere in 2026.
   */
  function agreesWithWalk(schedules: string[], zones: string[], stepMs: number, numRuns: number) {
    fc.assert(
      fc.property(
        fc.constantFrom(...schedules),
        fc.constantFrom(...zones),
        fc.integer({
          min: Date.parse('2026-01-01T00:00:00Z'),
          max: Date.parse('2027-01-01T00:00:00Z'),
        }),
        (schedule, zone, at) => {
          const task = createTask(schedule, () => undefined, { timezone: zone });
          try {
            let brute = Math.floor(at / stepMs) * stepMs;
            while (!task.match(new Date(brute))) brute -= stepMs;
            expect(previousFire(schedule, zone, at, (d) => task.match(d))).toBe(brute);
          } finally {
            void task.destroy();
          }
        },
      ),
      { numRuns },
    );
  }

  it('agrees with a minute-by-minute walk of node-cron’s own matcher', () => {
    agreesWithWalk(
      ['0 9 * * 1', '30 2 * * *', '15 8,17 * * 1-5'],
      ['Europe/Berlin', 'America/New_York', 'Australia/Lord_Howe'],
      60_000,
      40,
    );
  });

  it('agrees with a second-by-second walk for schedules with seconds, late in the day too', () => {
    agreesWithWalk(
      ['* * * * * *', '*/20 * * * * *', '5 */7 * * * *'],
      ['UTC', 'Europe/Berlin', 'Australia/Lord_Howe'],
      1000,
      60,
    );
  });
});

describe('weekEndingAt', () => {
  it('counts seven local days, so a week with a DST change has 169 or 167 hours', () => {
    const autumn = weekEndingAt(Date.parse('2026-10-26T08:00:00Z'), 'Europe/Berlin');
    expect(iso(autumn.start)).toBe('2026-10-19T07:00:00.000Z');
    expect((autumn.end - autumn.start) / 3_600_000).toBe(169);
    const spring = weekEndingAt(Date.parse('2026-03-30T07:00:00Z'), 'Europe/Berlin');
    expect((spring.end - spring.start) / 3_600_000).toBe(167);
    const utc = weekEndingAt(Date.parse('2026-10-26T08:00:00Z'), 'UTC');
    expect((utc.end - utc.start) / 3_600_000).toBe(168);
  });
});

describe('businessIntervals', () => {
  const period = {
    start: Date.parse('2026-10-19T07:00:00Z'),
    end: Date.parse('2026-10-26T08:00:00Z'),
  };
  const show = (intervals: { start: number; end: number }[]) =>
    intervals.map((i) => `${iso(i.start)} ${iso(i.end)}`);

  it('follows each day’s wall clock across DST and clips to the period', () => {
    expect(show(businessIntervals(period, DEFAULT_BUSINESS_HOURS, 'Europe/Berlin'))).toEqual([
      '2026-10-19T07:00:00.000Z 2026-10-19T16:00:00.000Z', // Mon, from the period start
      '2026-10-20T06:00:00.000Z 2026-10-20T16:00:00.000Z', // 08:00–18:00 CEST
      '2026-10-21T06:00:00.000Z 2026-10-21T16:00:00.000Z',
      '2026-10-22T06:00:00.000Z 2026-10-22T16:00:00.000Z',
      '2026-10-23T06:00:00.000Z 2026-10-23T16:00:00.000Z',
      '2026-10-26T07:00:00.000Z 2026-10-26T08:00:00.000Z', // 08:00 CET, to the period end
    ]);
  });

  it('lets a business day run past midnight when it ends before it starts', () => {
    const nights = { days: [5], start: '22:00', end: '06:00' };
    expect(show(businessIntervals(period, nights, 'UTC'))).toEqual([
      '2026-10-23T22:00:00.000Z 2026-10-24T06:00:00.000Z',
    ]);
  });
});
