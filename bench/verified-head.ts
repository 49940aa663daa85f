import { CheckpointSeal } from '../src/audit/checkpoint-seal';
import { parseConfig } from '../src/config/load';
import { Core } from '../src/core';
import { ManualClock } from '../src/core/clock';
import { StaticDirectory } from '../src/core/directory';
import { ChainWatch, type ChainWatchPass } from '../src/jobs/chain-watch';
import { logger } from '../src/log';
import type { Store } from '../src/store';
import { SqliteStore } from '../src/store/sqlite/store';
import Database from 'better-sqlite3';

export const BENCH_SEAL = new CheckpointSeal('bench-checkpoint-secret');

const CONFIG = parseConfig(
  `
requests: { approverChannel: CBENCH }
providers: { hook: { type: webhook, url: 'http://127.0.0.1:9/', secret: bench-secret-value } }
resources:
  - { id: auto, name: Auto, provider: hook, maxDuration: 4h, approvalsRequired: 0 }
`,
  {},
);

/**
 * One pass of the leader's chain watch, as the bot runs it (default step size), on `store`; the
 * bot that opens the database later must seal with the same secret to trust the head.
 */
export async function watchPass(
  store: Store,
  now: number,
  seal: CheckpointSeal = BENCH_SEAL,
): Promise<ChainWatchPass> {
  const core = new Core({
    store,
    clock: new ManualClock(now),
    config: CONFIG,
    directory: new StaticDirectory(),
    checkpointSeal: seal,
  });
  const pass = await new ChainWatch({ core, logger }).run();
  if (pass.broken) throw new Error(`the seeded chain is broken: ${pass.broken.problem}`);
  return pass;
}

export const VERIFY_STEP = CONFIG.audit.verifyStep;

/**
 * Runs the chain watch over a seeded template file and folds the WAL back in, so copies of the
 * file (which take the main file only) carry the verified head.
 */
export async function verifyTemplate(
  file: string,
  now: number,
  seal: CheckpointSeal = BENCH_SEAL,
): Promise<void> {
  const store = new SqliteStore(file);
  await watchPass(store, now, seal);
  await store.close();
  const raw = new Database(file);
  raw.pragma('wal_checkpoint(TRUNCATE)');
  raw.close();
}
