import { createPrivateKey } from 'node:crypto';
import { z } from 'zod';
import { registerSecret } from '../log';
import { serviceOrigin } from '../providers/service-url';
import type { OktaAuth } from './client';

/** An Okta group's id, as in the group page's address. */
export const oktaGroupId = z
  .string()
  .regex(
    /^00g[0-9A-Za-z]{5,}$/,
    'must be an Okta group id like 00g1ab2cd3EF4gh5i6j7 (the id in the group page address)',
  );

const privateKey = z.string().refine(
  (text) => {
    try {
      const trimmed = text.trim();
      createPrivateKey(
        trimmed.startsWith('{')
          ? { key: JSON.parse(trimmed) as Record<string, string>, format: 'jwk' }
          : trimmed,
      );
      return true;
    } catch {
      return false;
    }
  },
  // Never quote the value: it is the key.
  'must be a private key, as PEM or as a JWK (JSON)',
);

/**
 * How to reach Okta and sign in, an API token or an API service app; shared by the okta-group
 * provider and the directory, which differ only in the scopes a service app asks for by default.
 */
export function oktaConnectionSettings(defaultScopes: string[]) {
  return z
    .strictObject({
      orgUrl: serviceOrigin('https://example.okta.com'),
      token: z.string().min(1, 'must not be empty').optional(),
      oauth: z
        .strictObject({
          clientId: z.string().min(1, 'must not be empty'),
          privateKey,
          keyId: z.string().min(1).optional(),
          scopes: z
            .array(
              z.string().regex(/^okta\.[A-Za-z.]+$/, 'must be an Okta scope like okta.users.read'),
            )
            .min(1)
            .default(defaultScopes),
        })
        .optional(),
    })
    .refine((config) => (config.token === undefined) !== (config.oauth === undefined), {
      message:
        'set either token (an API token) or oauth (a service app: clientId and privateKey), not both',
    });
}

export type OktaConnectionSettings = z.infer<ReturnType<typeof oktaConnectionSettings>>;

/** The credential to sign in with; the schema lets exactly one of token and oauth through. */
export function oktaAuth(settings: OktaConnectionSettings): OktaAuth {
  return settings.token !== undefined ? { token: settings.token } : settings.oauth!;
}

/** The token or private key, registered with the log redactor, for oktaCall to scrub. */
export function oktaSecrets(settings: OktaConnectionSettings): string[] {
  const secrets = [settings.token, settings.oauth?.privateKey].filter((s): s is string => !!s);
  for (const secret of secrets) registerSecret(secret);
  return secrets;
}
