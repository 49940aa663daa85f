import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { ApiTokenRow } from '../store';
import { change, type Change, type CoreContext, type GrantRow, type RequestRow } from './context';
import { endEarly, canEndEarly } from './early-end';
import { DomainError } from './errors';
import { newId } from './ids';
import { TOKEN_IDENTITY_RE, callerOf, type PipelineCaller } from './pipelines';
import { recordStep } from './steps';

/** `hpt_` + the token's id + 256 random bits: the id finds the row, the hash proves the rest. */
const TOKEN_RE = /^hpt_(tok_[0-9a-z]{10})_([A-Za-z0-9_-]{43})$/;
/** The longest a token may be made to last: ten years, well inside the dates anything can show. */
const MAX_TOKEN_TTL_MS = 3650 * 86_400_000;

function hashOf(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

export interface NewToken {
  identity: string;
  resources: readonly string[];
  note?: string;
  /** How long the token works; without it, until revoked. */
  ttlMs?: number;
  /** Who creates it (`cli:<os user>`), for the audit log. */
  actor: string;
}

/** A token as listed: everything but its hash. */
export type TokenInfo = Omit<ApiTokenRow, 'hash' | 'resources'> & { resources: string[] };

function infoOf(row: ApiTokenRow): TokenInfo {
  return {
    id: row.id,
    identity: row.identity,
    resources: JSON.parse(row.resources) as string[],
    note: row.note,
    createdAt: row.createdAt,
    createdBy: row.createdBy,
    expiresAt: row.expiresAt,
    revokedAt: row.revokedAt,
    revokedBy: row.revokedBy,
  };
}

/**
 * Creates an API token bound to `identity` and `resources`, audited. The token is returned
 * here, once: only its SHA-256 is stored.
 */
export async function createToken(
  ctx: CoreContext,
  input: NewToken,
): Promise<{ token: string; info: TokenInfo }> {
  if (!TOKEN_IDENTITY_RE.test(input.identity)) {
    throw new DomainError(
      'bad_token',
      `"${input.identity}" is not a pipeline identity: use <namespace>:<name> in lower case, like ci:deploy-bot (not oidc:, cli:, hallpass: or slack:).`,
    );
  }
  if (input.resources.length === 0)
    throw new DomainError('bad_token', 'Name at least one resource the token may request.');
  if (input.ttlMs !== undefined && input.ttlMs > MAX_TOKEN_TTL_MS)
    throw new DomainError(
      'bad_token',
      'A token lasts at most 3650d (ten years); leave the expiry out for one that does not expire.',
    );
  const resources = [...new Set(input.resources.map((id) => ctx.policy.resource(id).id))];
  return change(ctx, async (c) => {
    const id = newId('tok');
    const token = `hpt_${id}_${randomBytes(32).toString('base64url')}`;
    const row: ApiTokenRow = {
      id,
      identity: input.identity,
      resources: JSON.stringify(resources),
      hash: hashOf(token),
      note: input.note?.trim().slice(0, 200) || null,
      createdAt: c.now,
      createdBy: input.actor,
      expiresAt: input.ttlMs === undefined ? null : c.now + input.ttlMs,
      revokedAt: null,
      revokedBy: null,
    };
    await c.tx.tokens.insert(row);
    c.audit({
      actor: input.actor,
      action: 'token.created',
      // Keyed `id`: the audit drops values under keys that name a token, however harmless.
      details: {
        id,
        identity: row.identity,
        resources,
        note: row.note,
        expiresAt: row.expiresAt,
      },
    });
    return { token, info: infoOf(row) };
  });
}

export async function listTokens(ctx: CoreContext): Promise<TokenInfo[]> {
  return (await ctx.store.tokens.list()).map(infoOf);
}

export interface TokenRevocation {
  token: TokenInfo;
  /** The requests filed with it that waited for a decision, now cancelled. */
  cancelled: string[];
  /** The live grants obtained with it that were ended (`endGrants`). */
  ended: string[];
  /** The live grants obtained with it that were left to run until they expire. */
  left: string[];
}

const filedWith = (tokenId: string) => (request: RequestRow) => {
  const caller = callerOf(request);
  return caller?.via === 'token' && caller.tokenId === tokenId;
};

/**
 * Revokes a token, audited, and cancels the requests filed with it that still wait for a
 * decision: nobody is left to collect them. The access already obtained with it (the live grants
 * whose request it filed) is ended too with `endGrants`, as for a token that leaked; without it
 * that access runs until it expires, as for a token rotated out while a job still uses it.
 */
export function revokeToken(
  ctx: CoreContext,
  tokenId: string,
  actor: string,
  options: { endGrants?: boolean } = {},
): Promise<TokenRevocation> {
  return change(ctx, async (c) => {
    const row = await c.tx.tokens.byId(tokenId);
    if (!row) throw new DomainError('not_found', `No API token ${tokenId}.`);
    if (!(await c.tx.tokens.revoke(tokenId, c.now, actor)))
      throw new DomainError('bad_state', `API token ${tokenId} is already revoked.`);
    // Not "token <id>": the scrubber takes a word after "token" for a secret and redacts it.
    const why = `API token revoked: ${tokenId}`;
    const mine = filedWith(tokenId);
    const waiting = (await c.tx.requests.pendingOf(row.identity)).filter(mine);
    const obtained: GrantRow[] = [];
    for (const grant of (await c.tx.grants.liveOf(row.identity)).filter(canEndEarly)) {
      const request = await c.tx.requests.byId(grant.requestId);
      if (request && mine(request)) obtained.push(grant);
    }
    const ended = options.endGrants ? obtained.map((g) => g.id) : [];
    const left = options.endGrants ? [] : obtained.map((g) => g.id);
    c.audit({
      actor,
      action: 'token.revoked',
      details: {
        id: tokenId,
        identity: row.identity,
        cancelled: waiting.map((r) => r.id),
        ended,
        left,
      },
    });
    for (const request of waiting) {
      const decided = { status: 'cancelled' as const, decidedAt: c.now, decidedBy: actor };
      await c.tx.requests.update(request.id, decided, 'pending');
      recordStep(c, {
        actor,
        action: 'request.cancelled',
        requestId: request.id,
        grantId: request.grantId,
        details: { why },
        redraw: request.id,
      });
    }
    if (options.endGrants) {
      for (const grant of obtained)
        await endEarly(c, grant, {
          reason: 'revoked_by_admin',
          by: actor,
          note: why,
          details: { revokedId: tokenId },
        });
    }
    return {
      token: infoOf({ ...row, revokedAt: c.now, revokedBy: actor }),
      cancelled: waiting.map((r) => r.id),
      ended,
      left,
    };
  });
}

/** Whether a token works at `now`: not revoked, not run out. */
function isLive(row: ApiTokenRow, now: number): boolean {
  return row.revokedAt === null && (row.expiresAt === null || row.expiresAt > now);
}

/**
 * Why the API token a request was filed with stands for nothing any more (revoked, run out), or
 * undefined while it works, or when no API token filed it. Read inside a change.
 */
export async function tokenEnded(
  c: Change,
  caller: PipelineCaller | undefined,
): Promise<string | undefined> {
  if (caller?.via !== 'token') return undefined;
  const row = await c.tx.tokens.byId(caller.tokenId);
  if (row && isLive(row, c.now)) return undefined;
  return `the API token ${caller.tokenId} ${row?.revokedAt == null ? 'ran out' : 'was revoked'}`;
}

/**
 * Refuses a filing whose API token was revoked or ran out after the call was authenticated (while
 * its body was still coming in): inside the filing's transaction, so a revocation either sees the
 * filing and cancels it, or comes first and the filing is refused.
 */
export async function refuseIfTokenEnded(
  c: Change,
  caller: PipelineCaller | undefined,
): Promise<void> {
  if (await tokenEnded(c, caller))
    throw new DomainError(
      'invalid_token',
      'This API token was revoked or ran out while the call was made; nothing was filed.',
    );
}

/**
 * The pipeline a bearer token stands for, or undefined when it is not a live Hallpass token.
 * The stored hash is compared in constant time, so timing says nothing of how much matched.
 */
export async function authenticateToken(
  ctx: CoreContext,
  token: string,
): Promise<PipelineCaller | undefined> {
  const match = TOKEN_RE.exec(token);
  if (!match) return undefined;
  const row = await ctx.store.tokens.byId(match[1]!);
  if (!row) return undefined;
  const presented = Buffer.from(hashOf(token), 'hex');
  const stored = Buffer.from(row.hash, 'hex');
  if (presented.length !== stored.length || !timingSafeEqual(presented, stored)) return undefined;
  if (!isLive(row, ctx.clock.now())) return undefined;
  return {
    via: 'token',
    id: row.identity,
    tokenId: row.id,
    scope: JSON.parse(row.resources) as string[],
  };
}

/** Whether `text` has the shape of a Hallpass API token (rather than an ID token). */
export function looksLikeApiToken(text: string): boolean {
  return text.startsWith('hpt_');
}
