import { once } from 'node:events';
import { join } from 'node:path';
import type { Worker } from 'node:worker_threads';
import { parseConfig } from '../src/config/load';
import { Core } from '../src/core';
import { systemClock } from '../src/core/clock';
import { StaticDirectory } from '../src/core/directory';
import { forEachLimited } from '../src/limit';
import { Sweeper } from '../src/jobs/sweeper';
import { logger } from '../src/log';
import type { ProviderSet } from '../src/providers/provider-set';
import { loadProviders } from '../src/providers/registry';
import { Sealer } from '../src/secrets/seal';
import type Database from 'better-sqlite3';
import type { Store } from '../src/store';
import { median } from './measure';
import { fmt, percentile, type Row } from './report';
import { benchEmail, benchUser, seedGrants, tempDb, type GrantSeed } from './seed';
import { tsWorker } from './ts-worker';

/**
 * Time from seeding to the moment every grant expires: enough to start the sweeper first (a
 * database that takes longer to seed and start on, PostgreSQL on a busy machine, asks for more;
 * so do more grants).
 */
const LEAD_MS = 1_500;
const leadFor = (baseMs: number, count: number) => baseMs + count / 10;
const TIMEOUT_MS = 120_000;

/** How many grants expire at once in each lag row, in the SQLite step and on PostgreSQL alike. */
export const LAG_SIZES: readonly number[] = [100, 1_000, 10_000];

/**
 * Rounds of a lag row of up to 1,000 grants. At 1,000 grants one round's p99 ranged from 1.03× to
 * 1.98× its floor's within one process, and over one hour (2026-12-04) the medians of 5 rounds
 * from 1.09× to 1.41× in seven runs where those of 15 stayed within 1.18× to 1.24× in seven: such
 * a row takes a few seconds a round, so it takes 15. A row of 10,000 grants takes ten times as
 * long a round and keeps the count its caller gives.
 */
export const SMALL_ROW_ROUNDS = 15;

/** Rounds for a lag row of `grants`: SMALL_ROW_ROUNDS up to 1,000 grants, `large` above. */
export const lagRounds =
  (large: number) =>
  (grants: number): number =>
    grants <= 1_000 ? SMALL_ROW_ROUNDS : large;

/**
 * The main thread's time on a CPU between the first revoke's arrival and the p99's, against the
 * time between them: near all of it means the thread was the bottleneck, and then the p99 ratio
 * is the ratio of the work each side did on it. Linux only.
 */
interface Busy {
  cpuMs: number;
  spanMs: number;
}

interface Lags {
  p50: number;
  p99: number;
  max: number;
  busy?: Busy;
}

/** What the receiver saw in a round: when each revoke arrived, and the main thread's work. */
interface Seen {
  arrivals: Map<string, number>;
  busy?: Busy;
}

/** The receiver thread (lag-receiver.ts), seen from here. */
export class Receiver {
  private constructor(
    private readonly thread: Worker,
    readonly port: number,
  ) {}

  /** `answerAfterMs`: how long each call takes to answer (0: at once, the machine's floor). */
  static async start(answerAfterMs = 0): Promise<Receiver> {
    const thread = tsWorker(join(__dirname, 'lag-receiver.ts'), { workerData: { answerAfterMs } });
    const [{ port }] = (await once(thread, 'message')) as [{ port: number }];
    return new Receiver(thread, port);
  }

  /** How many grants' revokes the receiver has seen since its last report. */
  async revokesSeen(): Promise<number> {
    this.thread.postMessage('count');
    const [{ count }] = (await once(this.thread, 'message')) as [{ count: number }];
    return count;
  }

  /** The next round makes `count` revokes: which arrival is its p99. */
  async expect(count: number): Promise<void> {
    this.thread.postMessage({ expect: count });
    await once(this.thread, 'message');
  }

  /** Wall-clock time the receiver saw each grant's revoke, and the main thread's work; forgets. */
  async arrivals(): Promise<Seen> {
    this.thread.postMessage('report');
    const [{ seen, marks }] = (await once(this.thread, 'message')) as [
      { seen: [string, number][]; marks: { at: number; cpuMs?: number }[] },
    ];
    const [first, p99] = marks;
    const busy =
      first?.cpuMs !== undefined && p99?.cpuMs !== undefined
        ? { cpuMs: p99.cpuMs - first.cpuMs, spanMs: p99.at - first.at }
        : undefined;
    return { arrivals: new Map(seen), busy };
  }

  async stop(): Promise<void> {
    this.thread.postMessage('stop');
    await once(this.thread, 'exit');
  }
}

/** What the webhook's receiver declares: by default nothing, which Hallpass takes as shared. */
type Isolation = 'shared' | 'per-grant';

function configFor(port: number, isolation: Isolation = 'shared') {
  return parseConfig(
    `
requests: { approverChannel: CBENCH }
providers:
  hook:
    type: webhook
    url: 'http://127.0.0.1:${port}/'
    secret: bench-secret-value
    guarantees: { isolation: ${isolation} }
resources:
  - id: auto
    name: Auto
    provider: hook
    maxDuration: 4h
    approvalsRequired: 0
`,
    {},
  );
}

function lagsOf({ arrivals, busy }: Seen, ids: string[], since: number): Lags {
  const lags = ids.map((id) => {
    const at = arrivals.get(id);
    if (at === undefined) throw new Error(`the receiver never saw the revoke of ${id}`);
    return at - since;
  });
  lags.sort((a, b) => a - b);
  return { p50: percentile(lags, 50), p99: percentile(lags, 99), max: lags.at(-1)!, busy };
}

/**
 * Waits until `done`, looking again every 20 ms (after `look`, which reads what it tests), so the
 * polling itself takes little from the thread it shares with the sweeper.
 */
async function until(
  done: () => boolean,
  what: string,
  look: () => Promise<void> | void = () => undefined,
): Promise<void> {
  const deadline = Date.now() + TIMEOUT_MS;
  for (await look(); !done(); await look()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** How many grants are revoked: a statement prepared once, for the polling above. */
function revokedCounter(raw: Database.Database): () => number {
  const count = raw.prepare("SELECT count(*) FROM grants WHERE status = 'revoked'").pluck();
  return () => count.get() as number;
}

/** A fresh database for one round: the store, how grants are seeded into it and counted. */
export interface LagDb {
  store: Store;
  seed(seed: GrantSeed): void | Promise<void>;
  revoked(): number | Promise<number>;
  cleanup(): Promise<void>;
}

/**
 * The embedded store: a SQLite file in a temp folder, opened as the process opens it. Left to
 * SQLite, the WAL would be copied into the file inside a commit on the sweeper's thread (an
 * fsync each time), which the process does on a thread of its own.
 */
async function sqliteLagDb(): Promise<LagDb> {
  const { store, raw, cleanup } = tempDb(undefined, { backgroundCheckpoints: { logger } });
  return {
    store,
    seed: (seed) => seedGrants(raw, seed),
    revoked: revokedCounter(raw),
    cleanup,
  };
}

/** Hallpass as it runs: the sweeper started normally, real clock and timers, the real webhook. */
async function throughHallpass(
  receiver: Receiver,
  count: number,
  db: LagDb,
  leadMs: number,
  isolation: Isolation,
): Promise<Lags> {
  const { store } = db;
  const config = configFor(receiver.port, isolation);
  const providers = await loadProviders(config, { configDir: __dirname });
  const core = new Core({ store, clock: systemClock, config, directory: new StaticDirectory() });
  const sweeper = new Sweeper({
    core,
    providers,
    directory: new StaticDirectory(),
    sealer: new Sealer('bench'),
    logger,
  });
  try {
    const expiresAt = Date.now() + leadMs;
    await db.seed({ count, now: Date.now(), expiresAt: () => expiresAt, warned: () => true });
    await receiver.expect(count);
    await sweeper.start();
    if (Date.now() >= expiresAt) throw new Error('the sweeper started after the grants expired');
    // Counting revoked rows reads the grants table on the sweeper's own thread (SQLite) or
    // asks the server (PostgreSQL), a cost that grows with the table; the receiver counts on its
    // own thread, so the database is read only once every revoke has arrived.
    let seen = 0;
    await until(
      () => seen === count,
      'every revoke to reach the receiver',
      async () => {
        seen = await receiver.revokesSeen();
      },
    );
    let revoked = 0;
    await until(
      () => revoked === count,
      'every grant to be recorded revoked',
      async () => {
        revoked = await db.revoked();
      },
    );
    const ids = Array.from({ length: count }, (_, i) => `gr_b${i}`);
    return lagsOf(await receiver.arrivals(), ids, expiresAt);
  } finally {
    await sweeper.stop();
    await providers.closeAll();
    await db.cleanup();
  }
}

/**
 * The floor: the same provider calls at the same concurrency, nothing else, in the order
 * Hallpass makes them: for shared access each revoke then its check; for per-grant access every
 * revoke, then every check.
 */
async function straightToReceiver(
  receiver: Receiver,
  count: number,
  concurrency: number,
  leadMs: number,
  isolation: Isolation,
): Promise<Lags> {
  const config = configFor(receiver.port, isolation);
  const providers: ProviderSet = await loadProviders(config, { configDir: __dirname });
  try {
    const { provider, target } = providers.forResource('auto')!;
    const ids = Array.from({ length: count }, (_, i) => i);
    await receiver.expect(count);
    const start = Date.now() + leadMs;
    await new Promise((resolve) => setTimeout(resolve, start - Date.now()));
    const fired = Date.now();
    // The seeded grant `i` as Hallpass calls for it: its holder and the email it was given to.
    const ctx = (i: number) => ({
      grantId: `gr_b${i}`,
      requestId: `req_b${i}`,
      user: { slackId: benchUser(i), email: benchEmail(i) },
      resource: { id: 'auto', name: 'Auto', target },
      startsAt: new Date(start - 3_600_000),
      expiresAt: new Date(start),
      signal: new AbortController().signal,
    });
    if (isolation === 'per-grant') {
      await forEachLimited(ids, concurrency, async (i) => {
        await provider.revoke(ctx(i));
      });
      await forEachLimited(ids, concurrency, async (i) => {
        await provider.check?.(ctx(i));
      });
    } else {
      await forEachLimited(ids, concurrency, async (i) => {
        await provider.revoke(ctx(i));
        await provider.check?.(ctx(i));
      });
    }
    return lagsOf(
      await receiver.arrivals(),
      ids.map((i) => `gr_b${i}`),
      fired,
    );
  } finally {
    await providers.closeAll();
  }
}

const show = (l: Lags) =>
  `p50 ${fmt(l.p50)} · p99 ${fmt(l.p99)} · max ${fmt(l.max)} ms` +
  (l.busy
    ? `; main thread on a CPU ${fmt(l.busy.cpuMs)} of the ${fmt(l.busy.spanMs)} ms from the first revoke to the p99's`
    : '');

/**
 * `count` grants expire at the same moment; how long after it the system behind the webhook saw
 * each revoke, against the same calls made straight at the receiver. Medians over rounds of
 * each percentile, for each size in `grants`. With `answerAfterMs`, every call takes that long
 * to answer, as across a network: the lanes then wait on the calls rather than on this thread.
 */
export async function lagBench(
  options: {
    grants: readonly number[];
    /** Rounds for a row of that many grants. */
    rounds: (grants: number) => number;
    answerAfterMs?: number;
    isolation?: Isolation;
  },
  on: { bench: string; fresh(): Promise<LagDb>; leadMs?: number } = {
    bench: 'lag',
    fresh: sqliteLagDb,
  },
): Promise<Row[]> {
  const answerAfterMs = options.answerAfterMs ?? 0;
  const receiver = await Receiver.start(answerAfterMs);
  const isolation = options.isolation ?? 'shared';
  const answering = answerAfterMs > 0 ? `, each call answered after ${answerAfterMs} ms` : '';
  const declared =
    isolation === 'per-grant'
      ? ' declaring per-grant access (every due revoke sent before any read-back)'
      : '';
  const order = isolation === 'per-grant' ? ', every revoke before any check' : '';
  try {
    const concurrency = configFor(receiver.port).sweeper.concurrency;
    const rows: Row[] = [];
    for (const grants of options.grants) {
      const rounds = options.rounds(grants);
      const leadMs = leadFor(on.leadMs ?? LEAD_MS, grants);
      const values: Lags[] = [];
      const floors: Lags[] = [];
      const hallpass = async () =>
        values.push(await throughHallpass(receiver, grants, await on.fresh(), leadMs, isolation));
      const direct = async () =>
        floors.push(await straightToReceiver(receiver, grants, concurrency, leadMs, isolation));
      // A first pair warms up both (JIT, connections to the receiver) and is not counted.
      await hallpass();
      await direct();
      values.length = floors.length = 0;
      for (let round = 0; round < rounds; round++) {
        const [first, second] = round % 2 ? [direct, hallpass] : [hallpass, direct];
        await first();
        await second();
      }
      const med = (all: Lags[]): Lags => {
        const busy = all.flatMap((l) => (l.busy ? [l.busy] : []));
        return {
          p50: median(all.map((l) => l.p50)),
          p99: median(all.map((l) => l.p99)),
          max: median(all.map((l) => l.max)),
          busy:
            busy.length === all.length
              ? {
                  cpuMs: median(busy.map((b) => b.cpuMs)),
                  spanMs: median(busy.map((b) => b.spanMs)),
                }
              : undefined,
        };
      };
      const value = med(values);
      const floor = med(floors);
      rows.push({
        bench: on.bench,
        figure: `revocation lag, ${fmt(grants)} grants expiring at once, webhook provider${declared}${answering}, concurrency ${concurrency} (median of ${rounds} rounds)`,
        value: show(value),
        floor: `${show(floor)} (the same webhook calls, no Hallpass${order})`,
        ratio: `${fmt(value.p99 / floor.p99, 2)}× (p99)`,
        target: 'p99 ≤ 1.25× the floor',
        met: value.p99 <= 1.25 * floor.p99,
      });
    }
    return rows;
  } finally {
    await receiver.stop();
  }
}
