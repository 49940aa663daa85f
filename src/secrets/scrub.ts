/**
 * Secrets must never leave through error text: a provider's message, a webhook body excerpt, a
 * command's stderr or a Slack error can carry a token (curl prints the URL it failed on). Every
 * such text goes through `scrub` before it reaches the audit log, the database, Slack or the
 * logs. Known secret values (the environment's, every `${VAR}` interpolated into the config,
 * provider settings that are secrets, credentials just issued) are replaced wherever they
 * appear; common token shapes are replaced even when nobody registered them.
 */

const MIN_LENGTH = 6;
const known = new Set<string>();
/** Longest first, so a secret that contains another is replaced whole. */
let ordered: string[] = [];

export const REDACTED = '[redacted]';

/** Remembers a value that must never appear in text leaving Hallpass. Short values are ignored. */
export function registerSecret(value: string | undefined): void {
  if (!value || value.length < MIN_LENGTH || known.has(value)) return;
  known.add(value);
  ordered = [...known].sort((a, b) => b.length - a.length);
}

/** Forgets a value registered only for a while (credentials, once their DM is sent). */
export function forgetSecret(value: string | undefined): void {
  if (value && known.delete(value)) ordered = [...known].sort((a, b) => b.length - a.length);
}

/** The shapes of secrets nobody registered: tokens and keys as people paste them into URLs. */
const SHAPES: [RegExp, string][] = [
  [/xox[abposr]-[A-Za-z0-9-]+/g, `xox?-${REDACTED}`],
  [/xapp-[A-Za-z0-9-]+/g, `xapp-${REDACTED}`],
  // Hallpass's own API tokens: the token id stays readable, the secret part goes.
  [/\b(hpt_tok_[0-9a-z]{10}_)[A-Za-z0-9_-]{20,}/g, `$1${REDACTED}`],
  [/\b(Bearer|Basic|SSWS|token)\s+[A-Za-z0-9._~+/=-]{8,}/gi, `$1 ${REDACTED}`],
  [
    /\b(password|passwd|pwd|secret|access_token|refresh_token|id_token|api_key|apikey|token|client_secret|sig|signature|key)=([^&\s"'<>]+)/gi,
    `$1=${REDACTED}`,
  ],
  [
    /("(?:password|secret|token|access_token|api_key|apikey|client_secret)"\s*:\s*)"[^"]*"/gi,
    `$1"${REDACTED}"`,
  ],
  [/\b(AKIA|ASIA)[A-Z0-9]{16}\b/g, REDACTED],
  [/\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}/g, REDACTED],
  [
    /(-----BEGIN [A-Z ]*PRIVATE KEY-----)[\s\S]*?(-----END [A-Z ]*PRIVATE KEY-----)/g,
    `$1${REDACTED}$2`,
  ],
  [/(\b[a-z][a-z0-9+.-]*:\/\/[^:/@\s]*:)[^@\s]+@/gi, `$1${REDACTED}@`],
];

/**
 * Whether a text may hold any of SHAPES: their union, matched regardless of case, finds whatever
 * one of them would. Most texts scrubbed (an audit event's reason, a status, a name) hold none,
 * and one pass over them then stands for a replace per shape.
 */
const ANY_SHAPE = unionOf(SHAPES.map(([shape]) => shape));

/**
 * One pattern that matches wherever one of `shapes` would. Only shapes that mean the same inside
 * it may join: another flag (dotAll, multiline) or a backreference, whose group number shifts in
 * the union, would let a text through unscrubbed, so such a shape stops the process at start.
 */
export function unionOf(shapes: RegExp[]): RegExp {
  const odd = shapes.find((s) => /[^gi]/.test(s.flags) || /\\[1-9]|\\k</.test(s.source));
  if (odd) throw new Error(`scrub: ${String(odd)} cannot join the shapes' union; adapt unionOf`);
  return new RegExp(shapes.map((shape) => `(?:${shape.source})`).join('|'), 'i');
}

/** `text` with every registered secret and every known token shape replaced. */
export function scrub(text: string): string {
  let out = text;
  for (const secret of ordered) if (out.includes(secret)) out = out.split(secret).join(REDACTED);
  if (!ANY_SHAPE.test(out)) return out;
  for (const [shape, replacement] of SHAPES) out = out.replace(shape, replacement);
  return out;
}

/**
 * The first `max` characters of `text`, scrubbed before the cut: a cut through a secret leaves a
 * piece scrub would no longer recognise.
 */
export function excerptHead(text: string, max: number): string {
  return scrub(text).slice(0, max);
}

/**
 * The last `max` characters (at most) of raw `text`, for a window kept while text streams in
 * (a command's stderr) and scrubbed later: the window starts after the cut and after any piece of
 * a secret the cut left, which scrub would no longer recognise.
 */
export function keepTail(text: string, max: number): string {
  if (text.length <= max) return text;
  const cut = pastPartialWord(text, pastShapes(text, text.length - max));
  return afterOrphanKeyEnd(afterSecretSuffix(text.slice(cut)));
}

/** `cut`, moved past the end of any token shape the cut falls inside ("Bearer" | " abc…"). */
function pastShapes(text: string, cut: number): number {
  let at = cut;
  for (const [shape] of SHAPES) {
    for (const match of text.matchAll(shape)) {
      const end = match.index + match[0].length;
      if (match.index < at && end > at) at = end;
    }
  }
  // The moved cut may now fall inside a match of a shape already looked at.
  return at === cut ? at : pastShapes(text, at);
}

/** A cut inside a run of non-whitespace (a token shape scrub knows, cut in two) ends the run. */
function pastPartialWord(text: string, cut: number): number {
  if (cut === 0 || /\s/.test(text[cut - 1] ?? ' ')) return cut;
  const next = text.slice(cut).search(/\s/);
  return next === -1 ? text.length : cut + next;
}

/** `tail` without its start when that is the end of a registered secret, whose start was cut. */
function afterSecretSuffix(tail: string): string {
  let drop = 0;
  for (const secret of ordered) drop = Math.max(drop, secretSuffixAt(tail, secret));
  return tail.slice(drop);
}

/** The length of the longest proper suffix of `secret` that `tail` starts with (0: none). */
function secretSuffixAt(tail: string, secret: string): number {
  const first = tail[0];
  if (first === undefined) return 0;
  // Only suffixes starting with the tail's first character can match; longest first.
  for (let from = secret.indexOf(first, 1); from !== -1; from = secret.indexOf(first, from + 1)) {
    if (tail.startsWith(secret.slice(from))) return secret.length - from;
  }
  return 0;
}

const KEY_BEGIN = /-----BEGIN [A-Z ]*PRIVATE KEY-----/;
const KEY_END = /-----END [A-Z ]*PRIVATE KEY-----/;

/** A private key's END marker with no BEGIN before it closes a key body the cut left headless. */
function afterOrphanKeyEnd(tail: string): string {
  const end = KEY_END.exec(tail);
  if (!end) return tail;
  const begin = KEY_BEGIN.exec(tail);
  if (begin && begin.index < end.index) return tail;
  return tail.slice(end.index + end[0].length);
}

/** A value's strings scrubbed at every depth (for audit details and log fields). */
export function scrubDeep(value: unknown, depth = 0): unknown {
  if (typeof value === 'string') return scrub(value);
  if (depth > 8 || value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map((v) => scrubDeep(v, depth + 1));
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, scrubDeep(v, depth + 1)]));
}
