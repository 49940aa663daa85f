import { parseConfig } from '../src/config/load';
import { Core } from '../src/core';
import { ManualClock } from '../src/core/clock';
import { StaticDirectory } from '../src/core/directory';
import { Sweeper } from '../src/jobs/sweeper';
import { logger } from '../src/log';
import type { Provider } from '../src/providers/types';
import { Sealer } from '../src/secrets/seal';
import { fmt, percentile, type Row } from './report';
import { seedGrants, tempDb } from './seed';

export const BENCH_CONFIG = `
requests: { approverChannel: CBENCH }
sweeper: { concurrency: 16 }
providers:
  hook: { type: webhook, url: 'http://127.0.0.1:9/', secret: bench-secret-value }
resources:
  - id: auto
    name: Auto
    provider: hook
    maxDuration: 4h
    approvalsRequired: 0
`;

/** A provider that answers at once, so the sweeper's own cost is what gets measured. */
const instant: Provider = {
  guarantees: { enforcesExpiry: false, endsOpenSessions: false, isolation: 'per-grant' },
  grant: async () => ({}),
  revoke: async () => undefined,
};

export async function sweeperBench(active: number, expired: number): Promise<Row[]> {
  const { db, cleanup } = tempDb();
  const now = Date.UTC(2026, 10, 2, 12);
  try {
    seedGrants(db, active, expired, now);
    const config = parseConfig(BENCH_CONFIG, {});
    const clock = new ManualClock(now);
    const core = new Core({ db, clock, config, directory: new StaticDirectory() });
    const sweeper = new Sweeper({
      core,
      providers: { get: () => ({ provider: instant, timeoutMs: 10_000 }) },
      directory: new StaticDirectory(),
      sealer: new Sealer('bench'),
      logger,
      timers: { setTimeout: () => 0, clearTimeout: () => undefined },
    });

    const floorStatement = db.$client.prepare(
      'SELECT id FROM grants NOT INDEXED WHERE status = ? AND next_attempt_at <= ?',
    );
    const started = process.hrtime.bigint();
    await sweeper.tick();
    const revokeMs = Number(process.hrtime.bigint() - started) / 1e6;
    const revoked = db.$client
      .prepare("SELECT count(*) FROM grants WHERE status = 'revoked'")
      .pluck()
      .get() as number;

    const floorTx = db.$client.prepare('UPDATE grants SET attempts = attempts WHERE id = ?');
    const ids = db.$client
      .prepare("SELECT id FROM grants WHERE status = 'revoked'")
      .pluck()
      .all() as string[];
    const floorStart = process.hrtime.bigint();
    for (const id of ids) {
      db.$client
        .transaction(() => {
          floorTx.run(id);
          floorTx.run(id);
        })
        .immediate();
    }
    const floorMs = Number(process.hrtime.bigint() - floorStart) / 1e6;

    const idle: number[] = [];
    const scans: number[] = [];
    for (let i = 0; i < 50; i++) {
      let t = process.hrtime.bigint();
      await sweeper.tick();
      idle.push(Number(process.hrtime.bigint() - t) / 1e6);
      t = process.hrtime.bigint();
      floorStatement.all('active', now);
      scans.push(Number(process.hrtime.bigint() - t) / 1e6);
    }
    idle.sort((a, b) => a - b);
    scans.sort((a, b) => a - b);
    const idleP50 = percentile(idle, 50);
    return [
      {
        bench: 'sweeper',
        figure: `revoke ${fmt(expired)} expired of ${fmt(active)} active (concurrency 16, instant provider)`,
        value: `${fmt(revokeMs)} ms (${fmt((revoked / revokeMs) * 1000)} grants/s)`,
        floor: `${fmt(floorMs)} ms (two bare write transactions per grant)`,
        ratio: `${fmt(floorMs / revokeMs, 2)}×`,
        target: '—',
        met: revoked === expired ? null : false,
      },
      {
        bench: 'sweeper',
        figure: `idle tick, ${fmt(active - expired)} active unexpired grants (p50 of 50)`,
        value: `${fmt(idleP50, 2)} ms`,
        floor: `${fmt(percentile(scans, 50), 2)} ms (one unindexed scan of grants)`,
        ratio: `${fmt(percentile(scans, 50) / idleP50, 1)}× faster than the scan`,
        target: '< 5 ms',
        met: idleP50 < 5,
      },
    ];
  } finally {
    cleanup();
  }
}
