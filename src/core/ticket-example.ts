import type { Resource } from '../config/schema';

/** Characters an example takes from a character class, in the order a person would expect. */
const SAMPLES: [test: RegExp, sample: string][] = [
  [/[A-Z]/, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ'],
  [/[a-z]/, 'abcdefghijklmnopqrstuvwxyz'],
  [/[0-9]/, '1234567890'],
];

/** A string of `count` characters that `accepts`, taken from the samples people read easily. */
function fromClass(accepts: (ch: string) => boolean, count: number): string | undefined {
  for (const [, sample] of SAMPLES) {
    const chars = [...sample].filter(accepts);
    if (chars.length > 0)
      return Array.from({ length: count }, (_, i) => chars[i % chars.length]).join('');
  }
  return undefined;
}

/** How many times a quantified piece is written out in an example; -1 when `q` is not one. */
function repeats(q: string): number {
  if (q === '+') return 3;
  if (q === '*' || q === '?') return 1;
  const range = /^\{(\d+)(?:,(\d*))?\}$/.exec(q);
  if (!range) return -1;
  const min = Number(range[1]);
  const max = range[2] ? Number(range[2]) : undefined;
  return Math.max(min, Math.min(max ?? 3, 3));
}

const QUANTIFIER = /^(\+|\*|\?|\{\d+(?:,\d*)?\})\??/;

/**
 * Writes one string a simple pattern accepts (`^[A-Z]+-[0-9]+$` gives `ABC-123`): literals,
 * escapes, classes, groups, the first branch of an alternation and the usual quantifiers.
 * Undefined for what it cannot read; the caller checks the result against the pattern anyway.
 */
function sample(pattern: string): string | undefined {
  let i = 0;
  const pieces: string[] = [];
  while (i < pattern.length) {
    const ch = pattern[i]!;
    let piece: ((n: number) => string | undefined) | undefined;
    let length = 1;
    if (ch === '^' || ch === '$') {
      i++;
      continue;
    } else if (ch === '|') {
      break; // the first branch is example enough
    } else if (ch === '\\') {
      const next = pattern[i + 1] ?? '';
      length = 2;
      const klass = next === 'd' ? /[0-9]/ : next === 'w' ? /\w/ : next === 's' ? /\s/ : undefined;
      if (klass)
        piece = (n) => fromClass((c) => klass.test(c), n) ?? (next === 's' ? ' ' : undefined);
      else if (/[A-Za-z]/.test(next)) return undefined;
      else piece = (n) => next.repeat(n);
    } else if (ch === '[') {
      const end = pattern.indexOf(']', i + 2);
      if (end < 0 || pattern[i + 1] === '^') return undefined;
      const klass = new RegExp(pattern.slice(i, end + 1));
      length = end + 1 - i;
      piece = (n) => fromClass((c) => klass.test(c), n);
    } else if (ch === '(') {
      let depth = 0;
      let end = i;
      for (; end < pattern.length; end++) {
        if (pattern[end] === '\\') end++;
        else if (pattern[end] === '(') depth++;
        else if (pattern[end] === ')' && --depth === 0) break;
      }
      if (end >= pattern.length) return undefined;
      const inner = sample(pattern.slice(i + 1, end).replace(/^\?(?::|<[^>]+>)/, ''));
      if (inner === undefined) return undefined;
      length = end + 1 - i;
      piece = (n) => inner.repeat(n);
    } else if (ch === '.') {
      piece = (n) => 'x'.repeat(n);
    } else if (/[*+?{}\])]/.test(ch)) {
      return undefined;
    } else {
      piece = (n) => ch.repeat(n);
    }
    i += length;
    const quantifier = QUANTIFIER.exec(pattern.slice(i));
    let times = 1;
    if (quantifier) {
      times = repeats(quantifier[1]!);
      // A literal letter repeated reads oddly (`OPSSS`); once is enough where one is accepted.
      if (ch !== '[' && ch !== '\\' && ch !== '(' && ch !== '.' && quantifier[1] === '+') times = 1;
      i += quantifier[0].length;
    }
    const text = piece(times);
    if (text === undefined) return undefined;
    pieces.push(text);
  }
  return pieces.join('');
}

/**
 * A ticket reference a resource accepts, to show people instead of its raw pattern: the
 * configured `ticketExample`, else one written from a simple `ticketPattern`, else undefined.
 */
export function ticketExample(
  resource: Pick<Resource, 'ticketPattern' | 'ticketExample'>,
): string | undefined {
  if (resource.ticketExample) return resource.ticketExample;
  if (!resource.ticketPattern) return 'OPS-7';
  const example = sample(resource.ticketPattern);
  return example && new RegExp(resource.ticketPattern).test(example) ? example : undefined;
}
