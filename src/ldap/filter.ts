import { FilterParser } from 'ldapts';

const PLACEHOLDER = '{email}';

/**
 * Escapes a value for an RFC 4515 filter: `*`, `(`, `)`, `\` and NUL become `\2a`, `\28`, `\29`,
 * `\5c`, `\00`, so a value can never add conditions or wildcards to the filter it goes into.
 * Other characters are valid in a filter as they are (UTF-8 included).
 */
export function escapeFilterValue(value: string): string {
  return value.replace(
    /[*()\\\0]/g,
    (char) => `\\${char.charCodeAt(0).toString(16).padStart(2, '0')}`,
  );
}

/** `template` with every `{email}` replaced by the escaped email. */
export function fillEmailFilter(template: string, email: string): string {
  return template.split(PLACEHOLDER).join(escapeFilterValue(email));
}

/** Why `template` is not a usable user filter, or undefined when it is. */
export function emailFilterProblem(template: string): string | undefined {
  if (!template.includes(PLACEHOLDER)) return `must contain ${PLACEHOLDER}, e.g. (mail={email})`;
  // ldapts forgives a missing `)` at the end; RFC 4515 (and a reader of the config) does not.
  if (!balanced(template)) return 'must be one filter in balanced parentheses, e.g. (mail={email})';
  try {
    FilterParser.parseString(fillEmailFilter(template, 'someone@example.com'));
    return undefined;
  } catch (err) {
    return `is not a valid LDAP filter (${(err as Error).message})`;
  }
}

/** Starts with `(` and closes it at the very end; values hold no bare parentheses (RFC 4515). */
function balanced(filter: string): boolean {
  let depth = 0;
  for (let i = 0; i < filter.length; i++) {
    if (filter[i] === '(') depth++;
    if (filter[i] === ')') depth--;
    if (depth < 0 || (depth === 0 && i < filter.length - 1)) return false;
  }
  return depth === 0 && filter.startsWith('(');
}
