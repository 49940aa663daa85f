import { z } from 'zod';
import { safeForSecrets } from '../http/safe-transport';

/**
 * The origin of a cloud API (`https://host[:port]`, parsed to that form): https, or plain http to
 * a loopback address only (a local proxy or a test double), so a typo can never send a token in
 * the clear over the network.
 */
export function serviceOrigin(example: string) {
  return z.string().transform((text, ctx) => {
    const url = URL.canParse(text) ? new URL(text) : undefined;
    const problem = url ? problemWith(url, example) : `must be a URL like ${example}`;
    if (problem !== undefined || url === undefined) {
      ctx.addIssue({ code: 'custom', message: problem ?? `must be a URL like ${example}` });
      return z.NEVER;
    }
    return url.origin;
  });
}

function problemWith(url: URL, example: string): string | undefined {
  if (url.username || url.password) return 'must not carry a user name or password';
  if (url.search || url.hash || url.pathname !== '/') {
    return `must be the bare origin, like ${example}, without a path or query`;
  }
  if (safeForSecrets(url)) return undefined;
  return 'must be https (plain http only to a loopback address)';
}
