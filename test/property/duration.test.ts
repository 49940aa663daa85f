import fc from 'fast-check';
import { formatDuration, parseDuration } from '../../src/config/duration';

const UNITS = [
  ['d', 86_400_000],
  ['h', 3_600_000],
  ['m', 60_000],
  ['s', 1_000],
] as const;
const RUNS = { numRuns: 1000 };

/** Counts of days, hours, minutes and seconds, each present or not, at least one present. */
const parts = fc
  .tuple(...UNITS.map(() => fc.option(fc.integer({ min: 0, max: 100_000 }), { nil: undefined })))
  .filter((counts) => counts.some((n) => n !== undefined));

const written = (counts: (number | undefined)[]) =>
  counts.map((n, i) => (n === undefined ? '' : `${n}${UNITS[i]![0]}`)).join('');
const worth = (counts: (number | undefined)[]) =>
  counts.reduce<number>((sum, n, i) => sum + (n ?? 0) * UNITS[i]![1], 0);

describe('durations, for any input', () => {
  it('parseDuration never throws, and gives null or a positive safe count of whole seconds', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.string({ unit: 'binary' })), (text) => {
        const ms = parseDuration(text);
        if (ms === null) return;
        expect(Number.isSafeInteger(ms)).toBe(true);
        expect(ms).toBeGreaterThan(0);
        expect(ms % 1000).toBe(0);
      }),
      RUNS,
    );
  });

  it('reads what people write: units in order, any case, spaces around', () => {
    fc.assert(
      fc.property(
        parts,
        fc.constantFrom('', ' ', '\t', '\n'),
        fc.boolean(),
        (counts, pad, upper) => {
          const text = written(counts);
          const ms = parseDuration(`${pad}${upper ? text.toUpperCase() : text}${pad}`);
          expect(ms).toBe(worth(counts) > 0 ? worth(counts) : null);
        },
      ),
      RUNS,
    );
  });

  it('formatDuration never throws, and what it writes reads back as the same duration', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: Math.floor(Number.MAX_SAFE_INTEGER / 1000) }), (s) => {
        const text = formatDuration(s * 1000);
        expect(text).toMatch(/^(\d+d)?(\d+h)?(\d+m)?(\d+s)?$/);
        expect(parseDuration(text)).toBe(s * 1000);
      }),
      RUNS,
    );
    fc.assert(
      fc.property(fc.double(), (ms) => {
        expect(typeof formatDuration(ms)).toBe('string');
      }),
      RUNS,
    );
  });

  it('writes the normal form: hours under 24, minutes and seconds under 60, idempotent', () => {
    fc.assert(
      fc.property(parts, (counts) => {
        const ms = parseDuration(written(counts));
        if (ms === null) return;
        const text = formatDuration(ms);
        const [, , h, m, s] = /^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$/.exec(text)!;
        expect(Number(h ?? 0)).toBeLessThan(24);
        expect(Number(m ?? 0)).toBeLessThan(60);
        expect(Number(s ?? 0)).toBeLessThan(60);
        expect(formatDuration(parseDuration(text)!)).toBe(text);
      }),
      RUNS,
    );
  });
});

describe('durations never accept garbage', () => {
  /** A duration that reads, to spoil. */
  const valid = parts.map(written).filter((text) => parseDuration(text) !== null);

  it.each<[string, fc.Arbitrary<string>]>([
    [
      'a character that is not a digit, a unit or surrounding space',
      fc
        .tuple(valid, fc.nat(), fc.string({ minLength: 1, maxLength: 1, unit: 'binary' }))
        .filter(([, , c]) => !/[0-9dhmsDHMS]/.test(c) && c.trim() !== '')
        .map(([text, at, c]) => {
          const i = at % (text.length + 1);
          return text.slice(0, i) + c + text.slice(i);
        }),
    ],
    [
      'units out of order or repeated',
      fc
        .tuple(
          fc.constantFrom(...UNITS.map(([u]) => u)),
          fc.constantFrom(...UNITS.map(([u]) => u)),
          fc.integer({ min: 1, max: 99 }),
          fc.integer({ min: 1, max: 99 }),
        )
        .filter(([a, b]) => UNITS.findIndex(([u]) => u === a) >= UNITS.findIndex(([u]) => u === b))
        .map(([a, b, x, y]) => `${x}${a}${y}${b}`),
    ],
    [
      'a number without a unit, or a unit without a number',
      fc.oneof(
        fc.nat().map(String),
        fc.constantFrom(...UNITS.map(([u]) => u)),
        valid.map((t) => `${t}5`),
      ),
    ],
    [
      'a sign, a fraction or an exponent',
      fc
        .tuple(valid, fc.constantFrom('-', '+', '.5', 'e3', ','))
        .map(([text, bad]) =>
          bad === '-' || bad === '+' ? bad + text : text.replace(/\d+/, (n) => n + bad),
        ),
    ],
    ['zero', parts.map((counts) => written(counts.map((n) => (n === undefined ? n : 0))))],
    [
      'more milliseconds than a safe integer holds',
      fc.bigInt({ min: 10n ** 14n, max: 10n ** 30n }).map((n) => `${n}d`),
    ],
  ])('refuses %s', (_, garbage) => {
    fc.assert(
      fc.property(garbage, (text) => {
        expect(parseDuration(text)).toBeNull();
      }),
      RUNS,
    );
  });
});
