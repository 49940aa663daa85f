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
 * After a pause the WAL need not start over yet: the thread waits this long for reads still on
 * it, enough for a read on the store's thread to end but not for a long one (a chain walk, the
 * CLI), which would otherwise hold the store's writes up to GAP_WAIT_MS at a time while it lasts.
 */
const PAUSE_READ_WAIT_MS = 5;

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
 * which a run of changes can keep busy; lowering it wakes the writes that wait (notify).
 * The write that starts a WAL over syncs its header and cuts the file back. On the store's thread
 * that sync stalled every request for as long as the disk took (up to 327 ms while other files
 * were being written back; docs/performance-journal.md, "The WAL's header synced off the store's
 * thread"), so the thread makes that write itself, behind the flag, after a RESTART: past the
 * limit, and whenever a checkpoint found every frame copied, as it is after any pause in the
 * changes (the RESTART then has nothing to copy and waits, briefly, for reads still on the WAL;
 * without it, a read on the store's thread at that moment left the WAL to the store's next write).
 * Setting user_version to the value it has is a write of one page that changes nothing; the
 * connection syncs as the store's does, so it costs that one sync.
 */
const LOOP = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.driver);
const gate = new Int32Array(workerData.gate);
const db = new Database(workerData.file, { fileMustExist: true });
db.pragma('busy_timeout = ' + workerData.gapWaitMs);
db.pragma('journal_size_limit = ' + workerData.walLimitBytes);
db.pragma('synchronous = NORMAL');
const limitPages = Math.ceil(workerData.walLimitBytes / db.pragma('page_size', { simple: true }));
let skip = 0;
const safely = (work) => {
  try {
    return work();
  } catch (err) {
    parentPort.postMessage({ error: String(err && err.message ? err.message : err) });
  }
};
const holdingWrites = (work) => {
  Atomics.store(gate, 0, 1);
  try {
    return work();
  } finally {
    Atomics.store(gate, 0, 0);
    Atomics.notify(gate, 0);
  }
};
const startWalOver = () => db.pragma('user_version = ' + db.pragma('user_version', { simple: true }));
const restart = (readersWaitMs) => {
  db.pragma('busy_timeout = ' + readersWaitMs);
  const restarted = safely(() => db.pragma('wal_checkpoint(RESTART)')[0]);
  db.pragma('busy_timeout = ' + workerData.gapWaitMs);
  if (restarted && !restarted.busy) safely(startWalOver);
  else skip = workerData.retryIntervals;
};
const writes = () => Atomics.load(gate, 1);
const checkpoint = () => {
  const before = writes();
  const state = safely(() => db.pragma('wal_checkpoint(PASSIVE)')[0]);
  if (!state) return;
  // The checkpoint reports the WAL as it was when it began: only no write since says it is all
  // copied. One frame left is the thread's own last write: the WAL has just started over.
  const copied = writes() === before && state.checkpointed === state.log && state.log > 1;
  if (skip > 0) skip--;
  else if (state.log > limitPages) holdingWrites(() => restart(workerData.gapWaitMs));
  else if (copied) holdingWrites(() => restart(workerData.pauseReadWaitMs));
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
  /**
   * Tells the thread a write began or committed on the store's connection, so that it can tell
   * a pause in the writes from a checkpoint that writes ran beside.
   */
  wrote(): void;
  /** True while the thread starts the WAL over: the store starts no write until it is false. */
  holdsWrites(): boolean;
  /**
   * Resolves as soon as the thread lowers the flag (at once if it is down), or after `timeoutMs`:
   * a poll that backs off would keep the writes waiting past the moment they could start.
   */
  writesResumed(timeoutMs: number): Promise<void>;
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
  // [0]: 1 while the thread holds writes off; [1]: writes begun or committed (see wrote).
  const gate = new Int32Array(new SharedArrayBuffer(8));
  const walLimitBytes = options.walLimitBytes ?? WAL_LIMIT_BYTES;
  const worker = new Worker(LOOP, {
    eval: true,
    workerData: {
      file,
      driver: require.resolve('better-sqlite3'),
      intervalMs: options.intervalMs ?? 200,
      walLimitBytes,
      gapWaitMs: GAP_WAIT_MS,
      pauseReadWaitMs: PAUSE_READ_WAIT_MS,
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
  worker.on('exit', () => {
    Atomics.store(gate, 0, 0);
    Atomics.notify(gate, 0);
  });
  worker.on('error', (err) => {
    fallBack();
    logger.error('the WAL checkpoint thread stopped; checkpoints happen on commit again', {
      error: err,
    });
  });
  client.pragma('wal_autocheckpoint = 0');
  client.pragma(`journal_size_limit = ${walLimitBytes}`);
  return {
    wrote: () => void Atomics.add(gate, 1, 1),
    holdsWrites: () => Atomics.load(gate, 0) === 1,
    writesResumed: async (timeoutMs) => {
      const waiting = Atomics.waitAsync(gate, 0, 1, Math.max(timeoutMs, 0));
      if (waiting.async) await waiting.value;
    },
    stop: async () => {
      fallBack();
      if (worker.threadId === -1) return;
      const exited = once(worker, 'exit');
      worker.postMessage('stop');
      await exited;
    },
  };
}
