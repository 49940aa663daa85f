import { parentPort, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';
import { PAGE_ROWS, SELECT_EVENTS_PAGE } from '../src/store/sqlite/chain-pages';

/**
 * The floor of the parallel verification: the same ranges, claimed the same way, read with the
 * same paged query in one read transaction, but nothing hashed or compared.
 */
const { file, ranges, next } = workerData as {
  file: string;
  ranges: [number, number][];
  next: Int32Array;
};
const db = new Database(file, { readonly: true, fileMustExist: true });
const select = db.prepare(SELECT_EVENTS_PAGE).raw();
let rows = 0;
db.transaction(() => {
  for (
    let range = ranges[Atomics.add(next, 0, 1)];
    range;
    range = ranges[Atomics.add(next, 0, 1)]
  ) {
    for (let from = range[0]; ;) {
      const page = select.all(from, range[1], PAGE_ROWS) as [number][];
      rows += page.length;
      if (page.length < PAGE_ROWS) break;
      from = page[page.length - 1]![0];
    }
  }
}).deferred();
db.close();
parentPort!.postMessage(rows);
