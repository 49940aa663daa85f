import { parseConfig } from '../src/config/load';
import { Core } from '../src/core';
import { ManualClock } from '../src/core/clock';
import { StaticDirectory } from '../src/core/directory';
import { listContext } from '../src/slack/listeners/deps';
import { homeView } from '../src/slack/ui/home';
import { median, timedAsync } from './measure';
import { fmt, type Row } from './report';
import type { Store } from '../src/store';
import { inTransaction, tempDb, type TempDb } from './seed';

const NOW = Date.UTC(2026, 10, 2, 12);
const APPROVER = 'ULEAD';
const CONFIG = parseConfig(
  `
requests: { approverChannel: CBENCH }
providers: { hook: { type: webhook, url: 'http://127.0.0.1:9/', secret: bench-secret-value } }
resources:
  - { id: bench, name: Bench, provider: hook, maxDuration: 4h, approvers: { users: [${APPROVER}] } }
`,
  {},
);

/** The approver's own ended grants: one for every this many decided requests. */
const HISTORY_PER_OWN_GRANT = 100;

/**
 * `history` requests decided over the last year and, newest, `pending` requests from as many
 * people waiting for the approver: what an approver's Home reads when it opens. The approver
 * held access too: `history / 100` grants now ended, and `live` grants that are not, which
 * their Home lists.
 */
function seedRequests(db: TempDb, { history, pending, live }: Size): void {
  const insert = db.raw.prepare(
    `INSERT INTO requests (id, kind, requester, resource_id, duration_ms, justification, status, approvals_required, auto_approved, created_at, pending_until, decided_at, decided_by)
     VALUES (?, 'access', ?, 'bench', 3600000, 'benchmark seed request', ?, 1, 0, ?, ?, ?, ?)`,
  );
  const insertGrant = db.raw.prepare(
    `INSERT INTO grants (id, request_id, user_id, resource_id, provider, status, duration_ms, starts_at, expires_at, provider_expires_at, next_attempt_at, attempts, created_at, ended_at)
     VALUES (?, ?, ?, 'bench', 'hook', ?, 3600000, ?, ?, ?, ?, 0, ?, ?)`,
  );
  /** A grant of the approver's own, made by the request of the same suffix. */
  const ownGrant = (suffix: string, live: boolean, start: number, end: number) =>
    insertGrant.run(
      `gr_${suffix}`,
      `req_${suffix}`,
      APPROVER,
      live ? 'active' : 'revoked',
      start,
      end,
      end,
      live ? end : null,
      start,
      live ? null : end,
    );
  inTransaction(db.raw, () => {
    for (let i = 0; i < history; i++) {
      const at = NOW - 365 * 86_400_000 + i * 1000;
      const own = i % HISTORY_PER_OWN_GRANT === 0;
      insert.run(
        `req_h${i}`,
        own ? APPROVER : `UH${i % 500}`,
        'approved',
        at,
        at + 86_400_000,
        at + 60_000,
        own ? 'ULEAD2' : APPROVER,
      );
      if (own) ownGrant(`h${i}`, false, at + 60_000, at + 60_000 + 3_600_000);
    }
    for (let i = 0; i < live; i++) {
      const at = NOW - 120_000;
      insert.run(`req_l${i}`, APPROVER, 'approved', at, at + 86_400_000, at + 60_000, 'ULEAD2');
      ownGrant(`l${i}`, true, NOW - 60_000, NOW - 60_000 + 3_600_000 + i * 1000);
    }
    for (let i = 0; i < pending; i++) {
      const at = NOW - pending * 1000 + i * 1000;
      insert.run(`req_p${i}`, `UP${i}`, 'pending', at, NOW + 86_400_000, null, null);
    }
  });
}

/** What drawing the approver's Home costs before it is sent: the reads and the view. */
async function drawHome(core: Core): Promise<number> {
  return timedAsync(async () => {
    const [awaiting, overview] = await Promise.all([
      core.awaitingDecisionBy(APPROVER),
      core.overviewOf(APPROVER),
    ]);
    homeView({ ...listContext(core), overview, awaiting });
  });
}

/** Where the Homes are drawn from: a store holding what `seedRequests` put in a SQLite file. */
export interface HomeStore {
  bench: string;
  open(seeded: TempDb): Promise<{ store: Store; close(): Promise<void> }>;
}

/** The seeded SQLite database itself. */
const sqliteHome: HomeStore = {
  bench: 'app-home',
  open: async (seeded) => ({ store: seeded.store, close: seeded.cleanup }),
};

/** The sizes of the three series, in a full run and in a quick one. */
export const APP_HOME_SIZES = (quick: boolean) => ({
  pending: [10, 100, 1_000],
  histories: quick ? [1_000, 10_000] : [1_000, 10_000, 100_000],
  history: quick ? 10_000 : 100_000,
  live: [2, 20, 200, 2_000],
});

interface Size {
  pending: number;
  history: number;
  /** The approver's own grants that are not over. */
  live: number;
}

/** One growth series: sizes drawn in turn, each against the smallest of the series. */
interface Series {
  sizes: Size[];
  /** What grows along the series, and by how much at `size` against the smallest. */
  grows: (size: Size, smallest: Size) => string;
}

/**
 * App Home for an approver, in three series: with 10, 100 and 1,000 pending requests (and a year
 * of decided ones behind them), with 1,000, 10,000 and 100,000 decided ones (10 pending; the
 * approver's own ended grants grow with them), and holding 2 to 2,000 live grants of their own
 * (a pipeline's identity may hold hundreds). Every size is drawn in turn, `draws` times;
 * medians. The floor of each row is the smallest size of its series: how the cost grows.
 */
export async function appHomeBench(
  options: {
    pending: readonly number[];
    histories: readonly number[];
    history: number;
    live: readonly number[];
    draws: number;
  },
  on: HomeStore = sqliteHome,
): Promise<Row[]> {
  const fewLive = options.live[0]!;
  const byPending: Series = {
    sizes: options.pending.map((pending) => ({ pending, history: options.history, live: fewLive })),
    grows: (d, s) => `${fmt(d.pending / s.pending)}× the pending`,
  };
  const byHistory: Series = {
    sizes: options.histories.map((history) => ({
      pending: options.pending[0]!,
      history,
      live: fewLive,
    })),
    grows: (d, s) => `${fmt(d.history / s.history)}× the history`,
  };
  const byLive: Series = {
    sizes: options.live.map((live) => ({
      pending: options.pending[0]!,
      history: options.histories[0]!,
      live,
    })),
    grows: (d, s) => `${fmt(d.live / s.live)}× the live grants`,
  };
  const opened: { close(): Promise<void> }[] = [];
  const openSize = async (size: Size) => {
    const seeded = tempDb();
    seedRequests(seeded, size);
    const db = await on.open(seeded);
    opened.push(db);
    const core = new Core({
      store: db.store,
      clock: new ManualClock(NOW),
      config: CONFIG,
      directory: new StaticDirectory(),
    });
    return { size, core, times: [] as number[] };
  };
  const drawn: { series: Series; dbs: Awaited<ReturnType<typeof openSize>>[] }[] = [];
  try {
    for (const series of [byPending, byHistory, byLive]) {
      const dbs = [];
      for (const size of series.sizes) dbs.push(await openSize(size));
      drawn.push({ series, dbs });
    }
  } catch (err) {
    for (const db of opened) await db.close();
    throw err;
  }
  const all = drawn.flatMap((d) => d.dbs);
  try {
    for (let draw = 0; draw < options.draws; draw++) {
      for (const d of all) d.times.push(await drawHome(d.core));
    }
    return drawn.flatMap(({ series, dbs }) => {
      const smallest = dbs[0]!;
      const base = median(smallest.times);
      return dbs.map((d): Row => {
        const value = median(d.times);
        const { pending, history, live } = d.size;
        return {
          bench: on.bench,
          figure: `App Home of an approver with ${fmt(pending)} pending requests and ${fmt(history)} decided ones, holding ${fmt(live)} live grants of their own and ${fmt(history / HISTORY_PER_OWN_GRANT)} ended ones (reads and view; median of ${options.draws} draws, sizes in turn)`,
          value: `${fmt(value, 2)} ms`,
          floor: `${fmt(base, 2)} ms (the same with ${fmt(smallest.size.pending)} pending and ${fmt(smallest.size.history)} decided)`,
          ratio: `${fmt(value / base, 1)}× for ${series.grows(d.size, smallest.size)}`,
          target: '—',
          met: null,
        };
      });
    });
  } finally {
    for (const db of opened) await db.close();
  }
}
