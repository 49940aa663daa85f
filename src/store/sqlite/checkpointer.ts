import { once } from 'node:events';
import { Worker } from 'node:worker_threads';
import type { Database } from 'better-sqlite3';
import type { Logger } from '../../log';

/** SQLite's own default, put back when the background thread is not there to do it. */
const AUTO_CHECKPOINT_PAGES = 1000;

/**
 * The thread's loop, as plain JavaScript so it needs no TypeScript loader: its own connection to
 * the same file, a PASSIVE checkpoint (never waits for readers or the writer) every interval,
 * one last one on stop.
 */
const LOOP = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.driver);
const db = new Database(workerData.file, { fileMustExist: true });
const checkpoint = () => {
  try {
    db.pragma('wal_checkpoint(PASSIVE)');
  } catch (err) {
    parentPort.postMessage({ error: String(err && err.message ? err.message : err) });
  }
};
const timer = setInterval(checkpoint, workerData.intervalMs);
parentPort.on('message', () => {
  clearInterval(timer);
  checkpoint();
  db.close();
  parentPort.close();
});
`;

export interface Checkpointer {
  /** Stops the thread after a last checkpoint; the connection checkpoints by itself again. */
  stop(): Promise<void>;
}

/**
 * Moves WAL checkpoints off the event loop. By default SQLite checkpoints inside the commit that
 * fills the WAL to 1,000 pages, which with `synchronous = NORMAL` means an fsync in the middle of
 * a Slack request (about 13 ms here, every 50 or so filed requests). With this running, commits
 * only append to the WAL and another thread copies it into the database file.
 */
export function checkpointInBackground(
  client: Database,
  file: string,
  options: { logger: Logger; intervalMs?: number },
): Checkpointer {
  const { logger } = options;
  const worker = new Worker(LOOP, {
    eval: true,
    workerData: {
      file,
      driver: require.resolve('better-sqlite3'),
      intervalMs: options.intervalMs ?? 200,
    },
  });
  const fallBack = () => {
    if (client.open) client.pragma(`wal_autocheckpoint = ${AUTO_CHECKPOINT_PAGES}`);
  };
  worker.on('message', (message: { error: string }) =>
    logger.warn('background WAL checkpoint failed', { error: message.error }),
  );
  worker.on('error', (err) => {
    fallBack();
    logger.error('the WAL checkpoint thread stopped; checkpoints happen on commit again', {
      error: err,
    });
  });
  client.pragma('wal_autocheckpoint = 0');
  return {
    stop: async () => {
      fallBack();
      if (worker.threadId === -1) return;
      const exited = once(worker, 'exit');
      worker.postMessage('stop');
      await exited;
    },
  };
}
