import { BUSINESS_HOURS, windowSchema } from '../../src/config/rules';
import { describeWindow, inWindow, resolveStart } from '../../src/core/windows';
import { DomainError } from '../../src/core/errors';

const berlin = 'Europe/Berlin';
/** A wall-clock moment in Berlin, as epoch ms (CET, UTC+1, in November). */
const cet = (day: number, h: number, m = 0) => Date.UTC(2026, 10, day, h - 1, m);

describe('time windows', () => {
  it('business hours are Monday to Friday 08:00–18:00 on the configured wall clock', () => {
    // 2 Nov 2026 is a Monday.
    expect(inWindow(BUSINESS_HOURS, cet(2, 8), berlin)).toBe(true);
    expect(inWindow(BUSINESS_HOURS, cet(2, 7, 59), berlin)).toBe(false);
    expect(inWindow(BUSINESS_HOURS, cet(2, 17, 59), berlin)).toBe(true);
    expect(inWindow(BUSINESS_HOURS, cet(2, 18), berlin)).toBe(false);
    expect(inWindow(BUSINESS_HOURS, cet(7, 12), berlin)).toBe(false); // Saturday
    // The same instant is 08:30 in Berlin but 07:30 in UTC.
    expect(inWindow(BUSINESS_HOURS, cet(2, 8, 30), 'UTC')).toBe(false);
  });

  it('a span past midnight covers the evening of a listed day and the early hours after it', () => {
    const nights = windowSchema.parse({ days: [5], start: '22:00', end: '02:00' });
    expect(inWindow(nights, cet(6, 23), berlin)).toBe(true); // Friday 23:00
    expect(inWindow(nights, cet(7, 1, 59), berlin)).toBe(true); // Saturday 01:59
    expect(inWindow(nights, cet(7, 2), berlin)).toBe(false);
    expect(inWindow(nights, cet(5, 23), berlin)).toBe(false); // Thursday
    expect(inWindow(nights, cet(6, 1), berlin)).toBe(false); // Friday early: Thursday is not listed
  });

  it('several spans are open together, and are described as people read them', () => {
    const oncallHours = windowSchema.parse([
      { days: [1, 2, 3, 4, 5], start: '18:00', end: '22:00' },
      { days: [0, 6], start: '10:00', end: '16:00' },
    ]);
    expect(inWindow(oncallHours, cet(2, 19), berlin)).toBe(true);
    expect(inWindow(oncallHours, cet(8, 11), berlin)).toBe(true); // Sunday
    expect(inWindow(oncallHours, cet(2, 11), berlin)).toBe(false);
    expect(describeWindow(oncallHours, berlin)).toBe(
      'Mon–Fri 18:00–22:00; Sun, Sat 10:00–16:00 (Europe/Berlin)',
    );
  });

  it('follows the wall clock across a daylight-saving change', () => {
    // 29 Mar 2027 is a Monday after the spring change: 08:00 in Berlin is 06:00 UTC.
    expect(inWindow(BUSINESS_HOURS, Date.UTC(2027, 2, 29, 6, 0), berlin)).toBe(true);
    expect(inWindow(BUSINESS_HOURS, Date.UTC(2027, 2, 29, 5, 59), berlin)).toBe(false);
  });
});

describe('a later start', () => {
  const now = cet(2, 10); // Monday 10:00 in Berlin

  it('HH:MM is the next such time on the configured wall clock: today while ahead, else tomorrow', () => {
    expect(resolveStart('14:00', now, berlin)).toBe(cet(2, 14));
    expect(resolveStart('9:30', now, berlin)).toBe(cet(3, 9, 30));
    expect(resolveStart('10:00', now, berlin)).toBe(cet(3, 10));
  });

  it('a date and time is that moment in the configured zone', () => {
    expect(resolveStart('2026-11-04 08:15', now, berlin)).toBe(cet(4, 8, 15));
    expect(resolveStart('2026-11-04T08:15', now, 'UTC')).toBe(Date.UTC(2026, 10, 4, 8, 15));
  });

  it.each(['25:00', 'tomorrow', '2026-02-30 10:00', '14h'])(
    'refuses %p, saying what works',
    (text) => {
      expect(() => resolveStart(text, now, berlin)).toThrow(DomainError);
      expect(() => resolveStart(text, now, berlin)).toThrow(/Use HH:MM/);
    },
  );
});

describe('a window that ends at the end of the day', () => {
  it('is open until midnight', () => {
    const weekends = windowSchema.parse({ days: [0, 6], start: '00:00', end: '24:00' });
    expect(inWindow(weekends, cet(7, 23, 59), berlin)).toBe(true);
    expect(inWindow(weekends, cet(7, 0, 0), berlin)).toBe(true);
    expect(inWindow(weekends, cet(9, 0, 0), berlin)).toBe(false); // Monday
    expect(windowSchema.safeParse({ start: '24:00', end: '08:00' }).success).toBe(false);
  });
});
