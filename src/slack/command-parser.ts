/**
 * Splits `/jit` text into words. It only finds the parts; whether a resource, a duration or a
 * justification is acceptable is the core's call, so the person gets the core's explanation.
 */

export type Parsed<T> = { ok: true; value: T } | { ok: false; problem: string };

/** The subcommand name (lower-cased, empty when there is none) and the text after it. */
export function splitSubcommand(text: string): { name: string; rest: string } {
  const { words, rest } = takeWords(text, 1);
  return { name: (words[0] ?? '').toLowerCase(), rest };
}

/** Takes up to `count` leading words; the rest keeps its inner spacing and line breaks. */
export function takeWords(text: string, count: number): { words: string[]; rest: string } {
  const words: string[] = [];
  let rest = text.trim();
  while (words.length < count && rest.length > 0) {
    const match = /^(\S+)\s*/.exec(rest)!;
    words.push(match[1]!);
    rest = rest.slice(match[0].length);
  }
  return { words, rest };
}

const TICKET_RE = /(?<=^|\s)ticket:(\S+)\s*/i;

/** `ticket:ABC-123` anywhere in free text is the ticket reference; the rest is the text. */
export function extractTicket(text: string): { text: string; ticket?: string } {
  const match = TICKET_RE.exec(text);
  if (!match) return { text };
  const without = text.slice(0, match.index) + text.slice(match.index + match[0].length);
  return { text: without.trim(), ticket: match[1] };
}

export interface RequestArgs {
  resourceId: string;
  duration: string;
  justification: string;
  ticket?: string;
  /** `from 14:00` or `from 2026-11-03 14:00`: a later start, as written. */
  startAt?: string;
}

/** `from <time>` right after the duration: the time, and the text after it. */
function takeStart(text: string): { startAt?: string; rest: string; problem?: string } {
  const { words, rest } = takeWords(text, 2);
  if (words[0]?.toLowerCase() !== 'from') return { rest: text };
  if (!words[1]) return { rest, problem: 'Say when the access should start (`from 14:00`).' };
  if (!/^\d{4}-\d{2}-\d{2}$/.test(words[1])) return { startAt: words[1], rest };
  const time = takeWords(rest, 1);
  return { startAt: `${words[1]} ${time.words[0] ?? ''}`.trim(), rest: time.rest };
}

/** `<resource-id> <duration> [from <time>] <justification…> [ticket:REF]` */
export function parseRequestArgs(rest: string): Parsed<RequestArgs> {
  const { words, rest: after } = takeWords(rest, 2);
  const [resourceId, duration] = words;
  if (!resourceId) return { ok: false, problem: 'Say which resource you need.' };
  if (!duration) return { ok: false, problem: `Say for how long you need ${resourceId}.` };
  const start = takeStart(after);
  if (start.problem) return { ok: false, problem: start.problem };
  const { text, ticket } = extractTicket(start.rest);
  if (!text) return { ok: false, problem: 'Say why you need it (the justification).' };
  return {
    ok: true,
    value: {
      resourceId,
      duration,
      justification: text,
      ticket,
      ...(start.startAt ? { startAt: start.startAt } : {}),
    },
  };
}

export interface ExtendArgs {
  grantId: string;
  duration: string;
  reason: string;
}

/** `<grant-id> <duration> <reason…>` */
export function parseExtendArgs(rest: string): Parsed<ExtendArgs> {
  const { words, rest: reason } = takeWords(rest, 2);
  const [grantId, duration] = words;
  if (!grantId)
    return { ok: false, problem: 'Say which grant to extend (`/jit list` shows them).' };
  if (!duration) return { ok: false, problem: 'Say how much more time you need.' };
  if (!reason) return { ok: false, problem: 'Say why you need more time.' };
  return { ok: true, value: { grantId, duration, reason } };
}

/** `<id> [note…]`, for cancel and revoke. */
export function parseIdArgs(rest: string, what: string): Parsed<{ id: string; note: string }> {
  const { words, rest: note } = takeWords(rest, 1);
  const [id] = words;
  if (!id) return { ok: false, problem: `Say which ${what} (\`/jit list\` shows yours).` };
  return { ok: true, value: { id, note } };
}
