import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

/** Said in results.md's headers: how each step starts. */
export const STEP_START =
  'Each step starts after `sync`: what the steps before it wrote is on disk, not still being written back under its measurements.';

/** A /proc/meminfo figure in MB, or undefined where the file or the line is not there. */
function meminfoMb(text: string, key: string): number | undefined {
  const kb = new RegExp(`^${key}:\\s+(\\d+) kB$`, 'm').exec(text)?.[1];
  return kb === undefined ? undefined : Number(kb) / 1024;
}

/**
 * Has the kernel write out what earlier steps left in its page cache, which it would otherwise
 * write back under the next step: an fsync there waits behind it, and the flusher takes CPU.
 * With another process writing gigabytes, the Approve capacity trials' ack p99 went from about
 * 20 ms to 120 ms and more (docs/performance-journal.md, "The WAL's header synced off the
 * store's thread"). Returns, for the log, what was still to be written and how long that took.
 */
export function flushDisk(): string {
  let pending = 'dirty pages unknown';
  try {
    const text = readFileSync('/proc/meminfo', 'utf8');
    const dirty = meminfoMb(text, 'Dirty');
    const writeback = meminfoMb(text, 'Writeback');
    if (dirty !== undefined && writeback !== undefined)
      pending = `${Math.round(dirty + writeback)} MB still to write`;
  } catch {
    // Not Linux: the sync below still does its part.
  }
  const started = Date.now();
  execFileSync('sync');
  return `${pending}, sync took ${Date.now() - started} ms`;
}
