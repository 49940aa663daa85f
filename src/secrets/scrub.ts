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

/** `text` with every registered secret and every known token shape replaced. */
export function scrub(text: string): string {
  let out = text;
  for (const secret of ordered) if (out.includes(secret)) out = out.split(secret).join(REDACTED);
  for (const [shape, replacement] of SHAPES) out = out.replace(shape, replacement);
  return out;
}

/** A value's strings scrubbed at every depth (for audit details and log fields). */
export function scrubDeep(value: unknown, depth = 0): unknown {
  if (typeof value === 'string') return scrub(value);
  if (depth > 8 || value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map((v) => scrubDeep(v, depth + 1));
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, scrubDeep(v, depth + 1)]));
}
