/** The LDAP result codes (RFC 4511 appendix A) this code acts on or explains. */
export const ResultCode = {
  sizeLimitExceeded: 4,
  authMethodNotSupported: 7,
  strongerAuthRequired: 8,
  confidentialityRequired: 13,
  noSuchAttribute: 16,
  undefinedAttributeType: 17,
  attributeOrValueExists: 20,
  noSuchObject: 32,
  invalidDNSyntax: 34,
  inappropriateAuthentication: 48,
  invalidCredentials: 49,
  insufficientAccessRights: 50,
  busy: 51,
  unavailable: 52,
  unwillingToPerform: 53,
  objectClassViolation: 65,
  entryAlreadyExists: 68,
} as const;

const NAMES: Record<number, string> = {
  1: 'operationsError',
  2: 'protocolError',
  3: 'timeLimitExceeded',
  11: 'adminLimitExceeded',
  18: 'inappropriateMatching',
  19: 'constraintViolation',
  21: 'invalidAttributeSyntax',
  64: 'namingViolation',
  80: 'other',
  ...Object.fromEntries(Object.entries(ResultCode).map(([name, code]) => [code, name])),
};

export interface LdapFailureDetail {
  /** The server's result code, when it answered with one. */
  resultCode?: number;
  /** Node's error code for a network or TLS failure (ECONNREFUSED, CERT_HAS_EXPIRED…). */
  networkCode?: string;
  /** The call's signal aborted it (a timeout). */
  aborted?: boolean;
}

/** A failed LDAP call, with a message for operators and what is needed to classify it. */
export class LdapFailure extends Error {
  readonly resultCode?: number;
  readonly networkCode?: string;
  readonly aborted: boolean;

  constructor(message: string, detail: LdapFailureDetail = {}) {
    super(message);
    this.name = 'LdapFailure';
    this.resultCode = detail.resultCode;
    this.networkCode = detail.networkCode;
    this.aborted = detail.aborted ?? false;
  }
}

/** ldapts raises result codes as numbers in `code`; Node's socket errors carry strings there. */
export function resultCodeOf(err: unknown): number | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'number' ? code : undefined;
}

/**
 * `insufficientAccessRights (50): <the server's diagnostic>` for an LDAP answer, Node's message
 * for a network or TLS error. Servers' diagnostics name entries and rules, never the password.
 */
export function describeLdapError(err: unknown): string {
  const resultCode = resultCodeOf(err);
  const message = ((err as Error | null)?.message ?? String(err)).trim();
  if (resultCode === undefined) return message;
  const diagnostic = message.replace(/\s*Code: 0x[0-9a-f]+$/i, '');
  return `${NAMES[resultCode] ?? 'result'} (${resultCode})${diagnostic ? `: ${diagnostic}` : ''}`;
}

/**
 * Wraps what a step of a call threw: `<label>: <description>[; <hint for its result code>]`,
 * keeping the codes. An LdapFailure from a step inside passes through as it is.
 */
export function ldapFailure(
  label: string,
  err: unknown,
  hints: Partial<Record<number, string>> = {},
): LdapFailure {
  if (err instanceof LdapFailure) return err;
  const resultCode = resultCodeOf(err);
  const networkCode = (err as { code?: unknown } | null)?.code;
  const hint = resultCode === undefined ? undefined : hints[resultCode];
  return new LdapFailure(`${label}: ${describeLdapError(err)}${hint ? `; ${hint}` : ''}`, {
    resultCode,
    ...(typeof networkCode === 'string' ? { networkCode } : {}),
  });
}
