import type { IncomingMessage } from 'node:http';
import type { Core, PipelineCaller } from '../core';
import type { OidcVerifier } from './oidc';
import { ApiProblem } from './problem';

/**
 * Who is calling: `Authorization: Bearer <token>` with a Hallpass API token (`hpt_…`) or a CI's
 * ID token (a JWT). Anything else is refused with 401 before any handler runs.
 */
export class Authenticator {
  constructor(
    private readonly core: Core,
    private readonly oidc: OidcVerifier,
  ) {}

  async caller(req: IncomingMessage): Promise<PipelineCaller> {
    const header = req.headers.authorization;
    const match = header ? /^Bearer\s+(\S+)\s*$/i.exec(header) : null;
    if (!match) {
      throw new ApiProblem(
        401,
        'unauthenticated',
        'Send an API token (hallpass tokens create) or a CI ID token as `Authorization: Bearer <token>`.',
      );
    }
    const token = match[1]!;
    if (!token.startsWith('hpt_')) return this.oidc.verify(token);
    const caller = await this.core.pipelines.authenticate(token);
    if (!caller) {
      throw new ApiProblem(
        401,
        'invalid_token',
        'The API token is unknown, revoked or expired. `hallpass tokens list` shows the live ones.',
      );
    }
    return caller;
  }
}
