/**
 * Keys whose value must come from the environment: a credential that would otherwise sit in
 * hallpass.yml, a file that is read by `policy check` in CI and often kept in version control.
 */
const ENV_ONLY: readonly { path: readonly string[]; example: string }[] = [
  { path: ['directory', 'okta', 'token'], example: '${OKTA_API_TOKEN}' },
  { path: ['directory', 'okta', 'oauth', 'privateKey'], example: '${OKTA_PRIVATE_KEY}' },
];

const REFERENCE_RE = /^\$\{[A-Za-z_][A-Za-z0-9_]*\}$/;

/**
 * One problem per env-only key written as a value rather than a `${NAME}` reference, checked on
 * the document before interpolation. The message never quotes the value: it is the secret.
 */
export function writtenSecrets(raw: unknown): string[] {
  const problems: string[] = [];
  for (const { path, example } of ENV_ONLY) {
    let value: unknown = raw;
    for (const key of path) {
      value =
        value && typeof value === 'object' ? (value as Record<string, unknown>)[key] : undefined;
    }
    if (typeof value === 'string' && !REFERENCE_RE.test(value.trim())) {
      problems.push(
        `${path.join('.')}: must be read from the environment, like ${example}, not written in the file`,
      );
    }
  }
  return problems;
}
