import { once } from 'node:events';
import { Worker } from 'node:worker_threads';
import type { Database } from 'better-sqlite3';
import type { Logger } from '../../log';

/** SQLite's own default, put back when the background thread is not there to do it. */
const AUTO_CHECKPOINT_PAGES = 1000;

/**
 * Past this much WAL, new writes are held off for a moment so that the WAL can start over; the
 * file is also cut back to this size when it does.
 */
const WAL_LIMIT_BYTES = 64 * 1024 * 1024;
/**
 * How long starting the WAL over waits for the write in progress and for readers. A long read, such
 * as a chain walk on another thread, keeps the WAL: rather than hold writes while it lasts, the
 * thread gives up and tries again GAP_RETRY_INTERVALS checkpoints later.
 */
const GAP_WAIT_MS = 100;
const GAP_RETRY_INTERVALS = 10;

/**
 * The thread's loop, as plain JavaScript so it needs no TypeScript loader: its own connection to
 * the same file, a PASSIVE checkpoint (never waits for readers or the writer) every interval,
 * one last one on stop.
 * SQLite starts a WAL over only when a write begins after every frame was copied. Commits that
 * never pause always append a frame between a checkpoint and the next write, so the WAL grew
 * without bound (see test/store/checkpointer.test.ts). Past the limit the thread raises a flag
 * shared with the store (\`gate\`), which then starts no write, and copies what is left so that
 * the next write starts the WAL over (RESTART). The file keeps its blocks, cut back to the limit
 * (journal_size_limit): emptying it (TRUNCATE) made every commit after it extend the file
 * again, and an approval's commit took about a sixth longer (docs/performance-journal.md). The
 * flag is memory both threads see at once: a message would wait for the store's event loop,
 * which a run of changes can keep busy.
 */
const LOOP = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.driver);
const gate = new Int32Array(workerData.gate);
const db = new Database(workerData.file, { fileMustExist: true });
db.pragma('busy_timeout = ' + workerData.gapWaitMs);
const limitPages = Math.ceil(workerData.walLimitBytes / db.pragma('page_size', { simple: true }));
let skip = 0;
const safely = (work) => {
  try {
    return work();
  } catch (err) {
    parentPort.postMessage({ error: String(err && err.message ? err.message : err) });
  }
};
const checkpoint = () => {
  const state = safely(() => db.pragma('wal_checkpoint(PASSIVE)')[0]);
  if (skip > 0) skip--;
  else if (state && state.log > limitPages) {
    Atomics.store(gate, 0, 1);
    const restarted = safely(() => db.pragma('wal_checkpoint(RESTART)')[0]);
    Atomics.store(gate, 0, 0);
    if (!restarted || restarted.busy) skip = workerData.retryIntervals;
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

export interface CheckpointOptions {
  logger: Logger;
  intervalMs?: number;
  /** Past this much WAL the thread has it start over (default 64 MiB). */
  walLimitBytes?: number;
}

export interface Checkpointer {
  /** True while the thread copies the last of the WAL: the store starts no write until it is false. */
  holdsWrites(): boolean;
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
  options: CheckpointOptions,
): Checkpointer {
  const { logger } = options;
  const gate = new Int32Array(new SharedArrayBuffer(4));
  const walLimitBytes = options.walLimitBytes ?? WAL_LIMIT_BYTES;
  const worker = new Worker(LOOP, {
    eval: true,
    workerData: {
      file,
      driver: require.resolve('better-sqlite3'),
      intervalMs: options.intervalMs ?? 200,
      walLimitBytes,
      gapWaitMs: GAP_WAIT_MS,
      retryIntervals: GAP_RETRY_INTERVALS,
      gate: gate.buffer,
    },
  });
  const fallBack = () => {
    if (client.open) client.pragma(`wal_autocheckpoint = ${AUTO_CHECKPOINT_PAGES}`);
  };
  worker.on('message', (message: { error: string }) =>
    logger.warn('background WAL checkpoint failed', { error: message.error }),
  );
  worker.on('exit', () => Atomics.store(gate, 0, 0));
  worker.on('error', (err) => {
    fallBack();
    logger.error('the WAL checkpoint thread stopped; checkpoints happen on commit again', {
      error: err,
    });
  });
  client.pragma('wal_autocheckpoint = 0');
  client.pragma(`journal_size_limit = ${walLimitBytes}`);
  return {
    holdsWrites: () => Atomics.load(gate, 0) === 1,
    stop: async () => {
      fallBack();
      if (worker.threadId === -1) return;
      const exited = once(worker, 'exit');
      worker.postMessage('stop');
      await exited;
    },
  };
}
