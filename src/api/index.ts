import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Core } from '../core';
import type { Logger } from '../log';
import type { Sealer } from '../secrets/seal';
import { Authenticator } from './auth';
import { OidcVerifier } from './oidc';
import { openApiDocument } from './openapi';
import { RateLimiter } from './rate-limit';
import { route, type Route } from './route';
import { API_PREFIX, routes, type RouteDeps } from './routes';
import { ApiServer } from './server';
import { Views } from './views';
import { Waiters } from './waiter';
import { z } from 'zod';

export { API_PREFIX };

/** The version the OpenAPI document states; bumped when the API changes incompatibly. */
export const API_VERSION = '1.0.0';

export interface Api {
  /** Whether a request is the API's to answer. */
  owns(req: IncomingMessage): boolean;
  handle(req: IncomingMessage, res: ServerResponse): void;
  /** Ends the waits in progress, so a stopping server is not held open by them. */
  close(): void;
}

/** The routes of the API with the one that describes them all. */
export function apiRoutes(deps: RouteDeps): Route[] {
  const served = routes(deps);
  const describe = route({
    method: 'GET',
    path: '/openapi.json',
    operationId: 'openApi',
    summary: 'This document',
    authenticated: false,
    ok: {
      status: 200,
      description: 'The OpenAPI 3.1 document of this API.',
      schema: z.record(z.string(), z.unknown()).meta({ id: 'OpenApiDocument' }),
    },
    problems: [],
    handle: async () => ({ body: document }),
  });
  const all = [...served, describe];
  const document = openApiDocument(all, API_VERSION);
  return all;
}

/** Describing the routes reads none of their dependencies: they are only used by calls. */
const NO_DEPS = new Proxy({} as RouteDeps, {
  get() {
    throw new Error('describing the API handles no call');
  },
});

/** The OpenAPI document as served, without a running Hallpass (docs/openapi.json is this). */
export function describeApi(): Record<string, unknown> {
  return openApiDocument(apiRoutes(NO_DEPS), API_VERSION);
}

/** `/api/v1` for pipelines and scripts, served beside `/slack/events`. */
export function createApi(deps: { core: Core; sealer: Sealer; logger: Logger }): Api {
  const { core, logger } = deps;
  const { api } = core.config;
  const waiters = new Waiters(core);
  const oidc = new OidcVerifier(Object.entries(api.oidc).map(([name, i]) => ({ ...i, name })));
  const server = new ApiServer({
    core,
    routes: apiRoutes({
      core,
      views: new Views(core, deps.sealer),
      waiters,
      maxWaitMs: api.maxWait,
    }),
    auth: new Authenticator(core, oidc),
    limiter: new RateLimiter(api.rateLimit.requests, api.rateLimit.per),
    logger,
  });
  return {
    owns: (req) => ApiServer.owns(req),
    handle: (req, res) => server.handle(req, res),
    close: () => waiters.close(),
  };
}
