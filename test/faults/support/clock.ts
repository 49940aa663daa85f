import type { Clock } from '../../../src/core/clock';

/**
 * The real time plus an offset the test moves forward. Everything keeps running on real timers,
 * but backoffs, leases and Retry-After waits measured on this clock pass as if minutes went by.
 */
export class OffsetClock implements Clock {
  private offset = 0;

  now(): number {
    return Date.now() + this.offset;
  }

  advance(ms: number): void {
    this.offset += ms;
  }
}
