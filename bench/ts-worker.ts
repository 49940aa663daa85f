import { Worker, type WorkerOptions } from 'node:worker_threads';

/** A worker thread running a TypeScript file of the bench, loaded through tsx like the bench. */
export function tsWorker(file: string, options: WorkerOptions = {}): Worker {
  return new Worker(
    `require(${JSON.stringify(require.resolve('tsx/cjs'))}); require(${JSON.stringify(file)});`,
    { ...options, eval: true },
  );
}
