import { escapeIdentifier, escapeLiteral, type Client } from 'pg';
import { z } from 'zod';

/**
 * What a revoke learned that PostgreSQL forgets once a step is done: the sessions it ended and
 * the objects it handed over. Kept as the role's comment (a shared catalog that only a role with
 * CREATEROLE may write), so that a revoke that failed half-way and is called again still reports
 * them; the comment goes with the role.
 */
const MAX_ENTRIES = 200;

const memoSchema = z.object({
  hallpass: z.literal('revoke'),
  sessions: z
    .array(
      z.object({
        pid: z.number().int(),
        database: z.string().max(64),
        connectedAt: z.string().max(40).optional(),
        openMs: z.number().nonnegative().optional(),
      }),
    )
    .max(MAX_ENTRIES),
  kept: z
    .array(
      z.object({
        database: z.string().max(64),
        object: z.string().max(500),
        owner: z.string().max(64),
      }),
    )
    .max(MAX_ENTRIES),
});

export type RevokeMemo = z.infer<typeof memoSchema>;
export type EndedSession = RevokeMemo['sessions'][number];
export type HandedOver = RevokeMemo['kept'][number];

const EMPTY: RevokeMemo = { hallpass: 'revoke', sessions: [], kept: [] };

export async function readMemo(client: Client, roleOid: number): Promise<RevokeMemo> {
  const { rows } = await client.query<{ text: string | null }>(
    "SELECT shobj_description($1, 'pg_authid') AS text",
    [roleOid],
  );
  const text = rows[0]?.text;
  if (!text) return EMPTY;
  try {
    const parsed = memoSchema.safeParse(JSON.parse(text));
    return parsed.success ? parsed.data : EMPTY;
  } catch {
    return EMPTY;
  }
}

export async function writeMemo(client: Client, role: string, memo: RevokeMemo): Promise<void> {
  const text = escapeLiteral(JSON.stringify(memo));
  await client.query(`COMMENT ON ROLE ${escapeIdentifier(role)} IS ${text}`);
}

/** The memo with sessions seen now added; a session seen twice (same pid and start) counts once. */
export function withSessions(memo: RevokeMemo, seen: EndedSession[]): RevokeMemo {
  const key = (s: EndedSession) => `${s.pid}@${s.connectedAt ?? ''}`;
  const known = new Set(memo.sessions.map(key));
  const added = seen.filter((s) => !known.has(key(s)));
  return { ...memo, sessions: [...memo.sessions, ...added].slice(0, MAX_ENTRIES) };
}

export function withHandedOver(memo: RevokeMemo, objects: HandedOver[]): RevokeMemo {
  const key = (o: HandedOver) => `${o.database}\0${o.object}`;
  const known = new Set(memo.kept.map(key));
  const added = objects.filter((o) => !known.has(key(o)));
  return { ...memo, kept: [...memo.kept, ...added].slice(0, MAX_ENTRIES) };
}
