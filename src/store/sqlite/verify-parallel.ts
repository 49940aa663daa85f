import { extname, join } from 'node:path';
import {
  MessageChannel,
  receiveMessageOnPort,
  Worker,
  type MessagePort,
} from 'node:worker_threads';
import { ChainJoin, type ChainAnchor, type ChainReport, type Segment } from '../../chain/walk';
import { SLOT, type WorkerJob, type WorkerMessage } from './verify-worker';

/** No message from any worker for this long means one died unseen: walk in order instead. */
const STALL_MS = 30_000;
/** Ranges per worker at least, so a worker slowed by other load does not hold the others up. */
const RANGES_PER_WORKER = 4;
/** More ranges than this are not worth a message each (a forged huge seq makes the span huge). */
const MAX_RANGES = 4096;

const SCRIPT = join(__dirname, `verify-worker${extname(__filename)}`);

/**
 * Run from `eval` so that a worker that cannot load (no TypeScript loader when running from
 * sources, a missing file) still reports instead of leaving the coordinator waiting.
 */
const BOOTSTRAP = `
const { workerData } = require('node:worker_threads');
try {
  if (workerData.loader) require(workerData.loader);
  require(workerData.script).run(workerData.job);
} catch (err) {
  const { port, shared } = workerData.job;
  port.postMessage({ failed: String((err && err.message) || err) });
  Atomics.add(shared, ${SLOT.events}, 1);
  Atomics.notify(shared, ${SLOT.events});
}`;

export interface ParallelPlan {
  file: string;
  start: ChainAnchor;
  head: number;
  workers: number;
  rangeRows: number;
}

/** The ranges (after, upTo] that cover start.seq < seq <= head. */
export function splitRanges(
  start: number,
  head: number,
  rangeRows: number,
  workers: number,
): [number, number][] {
  const span = head - start;
  const count = Math.min(
    MAX_RANGES,
    Math.max(workers * RANGES_PER_WORKER, Math.ceil(span / rangeRows)),
  );
  const width = Math.ceil(span / count);
  const ranges: [number, number][] = [];
  for (let after = start; after < head; after += width)
    ranges.push([after, Math.min(head, after + width)]);
  return ranges;
}

function loaderFor(script: string): string | undefined {
  return script.endsWith('.ts') ? require.resolve('tsx/cjs') : undefined;
}

/**
 * Verifies start.seq < seq <= head with worker threads, each walking whole ranges, and joins
 * their segments in order on this thread, so the report is the one a walk in order would give,
 * first broken row included. Blocks like the walk in order does. Undefined when the workers
 * could not do it (could not start, cannot see every row, failed, stalled): walk in order then.
 */
export function verifyInParallel(
  plan: ParallelPlan,
  onVerified: (rows: number) => void,
): ChainReport | undefined {
  const ranges = splitRanges(plan.start.seq, plan.head, plan.rangeRows, plan.workers);
  const shared = new Int32Array(new SharedArrayBuffer(3 * Int32Array.BYTES_PER_ELEMENT));
  const ports: MessagePort[] = [];
  const workers: Worker[] = [];
  try {
    const loader = loaderFor(SCRIPT);
    for (let i = 0; i < Math.min(plan.workers, ranges.length); i++) {
      const { port1, port2 } = new MessageChannel();
      ports.push(port1);
      const job: WorkerJob = { file: plan.file, ranges, head: plan.head, shared, port: port2 };
      workers.push(
        new Worker(BOOTSTRAP, {
          eval: true,
          execArgv: [],
          workerData: { script: SCRIPT, loader, job },
          transferList: [port2],
        }),
      );
    }
  } catch {
    stop(shared, workers, ports);
    return undefined;
  }

  const segments: (Segment | undefined)[] = new Array(ranges.length);
  const join = new ChainJoin(plan.start);
  let joined = 0;
  let running = workers.length;
  let seen = 0;
  try {
    while (running > 0) {
      if (Atomics.wait(shared, SLOT.events, seen, STALL_MS) === 'timed-out') return undefined;
      seen = Atomics.load(shared, SLOT.events);
      for (const port of ports) {
        for (let m = receiveMessageOnPort(port); m; m = receiveMessageOnPort(port)) {
          const message = m.message as WorkerMessage;
          if ('failed' in message || 'behind' in message) return undefined;
          if ('done' in message) running--;
          else segments[message.range] = message.segment;
        }
      }
      let intact = true;
      while (intact && joined < ranges.length && segments[joined]) {
        intact = join.add(segments[joined]!);
        joined++;
      }
      if (!intact) return join.report();
      onVerified(join.verified);
    }
    return joined === ranges.length ? join.report() : undefined;
  } finally {
    stop(shared, workers, ports);
  }
}

/**
 * Tells the workers to stop and lets them end by themselves (each checks the flag before it
 * opens the database and between ranges), unref'd so none keeps the process up. Terminating one
 * instead could catch it inside better-sqlite3 opening a file its caller has just removed, and
 * an error raised in a terminating thread aborts the whole process.
 */
function stop(shared: Int32Array, workers: Worker[], ports: MessagePort[]): void {
  Atomics.store(shared, SLOT.stop, 1);
  for (const worker of workers) worker.unref();
  for (const port of ports) port.close();
}
