import type { MessagePort } from 'node:worker_threads';
import Database from 'better-sqlite3';
import { ChainWalk, type Segment } from '../../chain/walk';
import { SELECT_EVENTS_PAGE, walkRange } from './chain-pages';

/** Slots of the shared Int32Array the coordinator and its workers use. */
export const SLOT = { next: 0, stop: 1, events: 2 } as const;

export interface WorkerJob {
  file: string;
  /** Consecutive seq ranges (after, upTo]; workers take the next one from `SLOT.next`. */
  ranges: [after: number, upTo: number][];
  /** The newest seq the coordinator saw; a worker that cannot see it reports `behind`. */
  head: number;
  shared: Int32Array;
  port: MessagePort;
}

export type WorkerMessage =
  { range: number; segment: Segment } | { done: true } | { behind: true } | { failed: string };

/** Posts a message, then wakes the coordinator, which waits on `SLOT.events`. */
export function tell(job: Pick<WorkerJob, 'shared' | 'port'>, message: WorkerMessage): void {
  job.port.postMessage(message);
  Atomics.add(job.shared, SLOT.events, 1);
  Atomics.notify(job.shared, SLOT.events);
}

/**
 * Walks ranges until none is left or another worker found a break (later ranges cannot change
 * the report then). One read transaction for all of them, so every range is read from one state.
 * A throw is reported by the bootstrap that called this.
 */
export function run(job: WorkerJob): void {
  // The coordinator may be done before this thread has started: then its file may be gone.
  if (Atomics.load(job.shared, SLOT.stop) !== 0) return;
  const db = new Database(job.file, { readonly: true, fileMustExist: true });
  try {
    db.pragma('busy_timeout = 5000');
    const selectPage = db.prepare(SELECT_EVENTS_PAGE).raw();
    const headNow = db.prepare('SELECT max(seq) FROM audit_events').pluck();
    db.transaction(() => {
      // Rows the coordinator sees but this connection does not are uncommitted: it must walk them itself.
      if (((headNow.get() as number | null) ?? 0) < job.head) return tell(job, { behind: true });
      while (Atomics.load(job.shared, SLOT.stop) === 0) {
        const index = Atomics.add(job.shared, SLOT.next, 1);
        const range = job.ranges[index];
        if (!range) break;
        const walk = new ChainWalk();
        if (!walkRange(selectPage, walk, range[0], range[1]))
          Atomics.store(job.shared, SLOT.stop, 1);
        tell(job, { range: index, segment: walk.result() });
      }
      tell(job, { done: true });
    }).deferred();
  } finally {
    db.close();
  }
}
