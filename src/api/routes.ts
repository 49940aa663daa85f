import { createHash } from 'node:crypto';
import { z } from 'zod';
import { parseDuration, formatDuration } from '../config/duration';
import type { Core, GrantRow, PipelineCaller, RequestRow } from '../core';
import { ApiProblem } from './problem';
import { route, type Route } from './route';
import { ExtendBody, Grant, NewRequestBody, Request, ResourceList, RevokeBody } from './schemas';
import { resourceView, waiting, type Views } from './views';
import type { Waiters } from './waiter';

export const API_PREFIX = '/api/v1';

export interface RouteDeps {
  core: Core;
  views: Views;
  waiters: Waiters;
  /** The longest wait a caller may ask for. */
  maxWaitMs: number;
}

const DEFAULT_WAIT_MS = 30_000;

/**
 * What a caller does with something filed under its identity: read it (a request, a grant with
 * its credentials, a wait) or ask for more time; or give it back (cancel, revoke).
 */
type Use = 'read' | 'give_back';

/**
 * Whether `caller` may `use` what was filed for `resourceId` under its identity. To read it or
 * extend it, the identity is not enough: on GitHub every job that runs in one environment has the
 * same `sub`, and tokens of one identity are bound to different resources, so the rules that
 * decide who may request the resource (`pipelines` claims, a token's resources) must let this
 * caller in too. Giving access back needs the identity only, so a pipeline can still end what it
 * holds after its rule was narrowed; and a resource removed since has no rules left to apply.
 */
function mayUse(core: Core, caller: PipelineCaller, resourceId: string, use: Use): boolean {
  const resource = core.policy.findResource(resourceId);
  return (
    use === 'give_back' || !resource || core.policy.pipelineRefusal(caller, resource) === undefined
  );
}

/** The caller's request, or 404: another pipeline's requests are not even said to exist. */
async function ownRequest(
  core: Core,
  caller: PipelineCaller,
  id: string,
  use: Use = 'read',
): Promise<RequestRow> {
  const request = await core.request(id);
  if (!request || request.requester !== caller.id || !mayUse(core, caller, request.resourceId, use))
    throw new ApiProblem(404, 'not_found', `No request ${id} filed by ${caller.id}.`);
  return request;
}

async function ownGrant(
  core: Core,
  caller: PipelineCaller,
  id: string,
  use: Use = 'read',
): Promise<GrantRow> {
  const grant = await core.grant(id);
  if (!grant || grant.userId !== caller.id || !mayUse(core, caller, grant.resourceId, use))
    throw new ApiProblem(404, 'not_found', `No grant ${id} held by ${caller.id}.`);
  return grant;
}

function waitTimeout(text: string | null, maxWaitMs: number): number {
  if (text === null) return Math.min(DEFAULT_WAIT_MS, maxWaitMs);
  const ms = parseDuration(text);
  if (ms === null) {
    throw new ApiProblem(422, 'bad_timeout', `timeout "${text}" is not a duration (use 30s, 2m).`, {
      field: 'timeout',
    });
  }
  if (ms > maxWaitMs) {
    throw new ApiProblem(
      422,
      'bad_timeout',
      `timeout ${formatDuration(ms)} is longer than this Hallpass waits at once (${formatDuration(maxWaitMs)}, api.maxWait); wait again after it answers.`,
      { field: 'timeout' },
    );
  }
  return ms;
}

const requestPath = (id: string) => `${API_PREFIX}/requests/${id}`;

/**
 * The client key of an API filing: the caller's identity and their Idempotency-Key, hashed
 * together. Joined as text, an identity ending where another's key begins (`oidc:ci:a` with key
 * `b:c`, `oidc:ci:a:b` with key `c`) would make one key; hashed as a pair, never, and the key
 * stays short whatever the identity's length. Empty when the call sent no key.
 */
function clientKeyOf(
  callerId: string,
  headers: Record<string, string | string[] | undefined>,
): { clientKey?: string } {
  const key = headers['idempotency-key'];
  if (typeof key !== 'string' || !key) return {};
  if (key.length > 200)
    throw new ApiProblem(422, 'bad_idempotency_key', 'Idempotency-Key is at most 200 characters.');
  const hashed = createHash('sha256')
    .update(JSON.stringify([callerId, key]))
    .digest('hex');
  return { clientKey: `api:${hashed}` };
}

/** The endpoints; `deps` is only read when a call is handled. */
export function routes(deps: RouteDeps): Route[] {
  return [
    route({
      method: 'GET',
      path: '/resources',
      operationId: 'listResources',
      summary: 'The resources this caller may request',
      authenticated: true,
      ok: {
        status: 200,
        description: 'The resources, in configuration order.',
        schema: ResourceList,
      },
      problems: [],
      handle: async ({ caller }) => ({
        body: {
          resources: deps.core.pipelines
            .requestable(caller)
            .map((r) => resourceView(deps.core, caller, r)),
        },
      }),
    }),
    route({
      method: 'POST',
      path: '/requests',
      operationId: 'createRequest',
      summary: 'Ask for access',
      description:
        'Files a request as the calling pipeline. It is approved at once when a `pipelines` rule auto-approves it, else posted to the approver channel. An `Idempotency-Key` header makes a retried call return the request it already filed.',
      authenticated: true,
      body: NewRequestBody,
      ok: {
        status: 201,
        description: 'The request as filed (or as decided, when auto-approved).',
        schema: Request,
      },
      problems: [400, 403, 409, 415, 422],
      handle: async ({ caller, body, headers }) => {
        const request = await deps.core.createRequest({
          requester: caller.id,
          resourceId: body.resource,
          duration: body.duration,
          justification: body.reason,
          ticket: body.ticket,
          caller,
          ...clientKeyOf(caller.id, headers),
        });
        return {
          body: await deps.views.request(request),
          headers: { location: requestPath(request.id) },
        };
      },
    }),
    route({
      method: 'GET',
      path: '/requests/{id}',
      operationId: 'getRequest',
      summary: 'Read a request and its grant',
      authenticated: true,
      ok: { status: 200, description: 'The request.', schema: Request },
      problems: [404],
      handle: async ({ caller, params }) => ({
        body: await deps.views.request(await ownRequest(deps.core, caller, params.id!)),
      }),
    }),
    route({
      method: 'GET',
      path: '/requests/{id}/wait',
      operationId: 'waitForRequest',
      summary: 'Wait for a decision',
      description:
        'Answers as soon as the request is decided (and, when approved, its grant is active or failed), or when `timeout` passes; `waiting` says which. Call again to keep waiting.',
      authenticated: true,
      query: [
        {
          name: 'timeout',
          description: `How long to wait at most (default ${formatDuration(DEFAULT_WAIT_MS)}, at most api.maxWait).`,
          schema: z.string(),
        },
      ],
      ok: { status: 200, description: 'The request, decided or still waiting.', schema: Request },
      problems: [404, 422],
      handle: async ({ caller, params, query, signal, recheck }) => {
        const timeoutMs = waitTimeout(query.get('timeout'), deps.maxWaitMs);
        const id = params.id!;
        await ownRequest(deps.core, caller, id);
        await deps.waiters.until(
          async () => {
            const request = await deps.core.request(id);
            return request && !waiting(request, await deps.core.grantOf(request))
              ? request
              : undefined;
          },
          timeoutMs,
          signal,
        );
        // Answered as a new call would be: the token (or the rule that let it read) may have
        // been revoked while it waited, and the answer can carry credentials.
        return { body: await deps.views.request(await ownRequest(deps.core, await recheck(), id)) };
      },
    }),
    route({
      method: 'POST',
      path: '/requests/{id}/cancel',
      operationId: 'cancelRequest',
      summary: 'Withdraw a request still waiting for a decision',
      authenticated: true,
      ok: { status: 200, description: 'The cancelled request.', schema: Request },
      problems: [404, 409],
      handle: async ({ caller, params }) => {
        const request = await ownRequest(deps.core, caller, params.id!, 'give_back');
        return {
          // Giving back needs the identity only, so the answer carries no credentials.
          body: await deps.views.request(
            await deps.core.cancelRequest(request.id, caller.id),
            false,
          ),
        };
      },
    }),
    route({
      method: 'GET',
      path: '/grants/{id}',
      operationId: 'getGrant',
      summary: 'Read a grant, with its credentials while it is active',
      authenticated: true,
      ok: { status: 200, description: 'The grant.', schema: Grant },
      problems: [404],
      handle: async ({ caller, params }) => ({
        body: await deps.views.grant(await ownGrant(deps.core, caller, params.id!)),
      }),
    }),
    route({
      method: 'POST',
      path: '/grants/{id}/extend',
      operationId: 'extendGrant',
      summary: 'Ask for more time on an active grant',
      description:
        'Files an extension request, decided like any request (auto-approved when the whole grant stays within a matching rule’s `autoApprove.maxDuration`). Wait on it like a request. An `Idempotency-Key` header makes a retried call return the extension request it already filed, rather than add the time twice.',
      authenticated: true,
      body: ExtendBody,
      ok: { status: 201, description: 'The extension request.', schema: Request },
      problems: [400, 403, 404, 409, 415, 422],
      handle: async ({ caller, params, body, headers }) => {
        const grant = await ownGrant(deps.core, caller, params.id!);
        const request = await deps.core.requestExtension({
          grantId: grant.id,
          actor: caller.id,
          duration: body.duration,
          justification: body.reason,
          caller,
          ...clientKeyOf(caller.id, headers),
        });
        return {
          body: await deps.views.request(request),
          headers: { location: requestPath(request.id) },
        };
      },
    }),
    route({
      method: 'POST',
      path: '/grants/{id}/revoke',
      operationId: 'revokeGrant',
      summary: 'Give access back now',
      description:
        'The grant moves to `revoking`; Hallpass removes the access and retries until the target system confirms.',
      authenticated: true,
      body: RevokeBody,
      bodyOptional: true,
      ok: { status: 200, description: 'The grant, ending.', schema: Grant },
      problems: [400, 404, 415, 422],
      handle: async ({ caller, params, body }) => {
        const grant = await ownGrant(deps.core, caller, params.id!, 'give_back');
        const revoked = await deps.core.revokeGrant({
          grantId: grant.id,
          actor: caller.id,
          reason: body.reason,
          via: 'api',
        });
        return { body: await deps.views.grant(revoked, false) };
      },
    }),
  ];
}
