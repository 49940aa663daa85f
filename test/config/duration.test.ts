import { formatDuration, parseDuration } from '../../src/config/duration';

describe('parseDuration', () => {
  it.each([
    ['90s', 90_000],
    ['30m', 1_800_000],
    ['4h', 14_400_000],
    ['1d', 86_400_000],
    ['1h30m', 5_400_000],
    ['1d2h3m4s', 93_784_000],
    [' 2H ', 7_200_000],
  ])('reads %s', (text, ms) => expect(parseDuration(text)).toBe(ms));

  it.each(['', '0m', '5', 'h', '1.5h', '30m1h', '-1h', '1w', '1h 30m', 'abc'])(
    'refuses %p',
    (text) => expect(parseDuration(text)).toBeNull(),
  );
});

describe('formatDuration', () => {
  it.each([
    [5_400_000, '1h30m'],
    [45_000, '45s'],
    [172_800_000, '2d'],
    [0, '0s'],
  ])('writes %d as %s', (ms, text) => expect(formatDuration(ms)).toBe(text));

  it('round-trips what it writes', () => {
    for (const ms of [1000, 61_000, 3_600_000, 93_784_000])
      expect(parseDuration(formatDuration(ms))).toBe(ms);
  });
});
