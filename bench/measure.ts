/** Milliseconds `fn` took. */
export function timed(fn: () => void): number {
  const start = process.hrtime.bigint();
  fn();
  return Number(process.hrtime.bigint() - start) / 1e6;
}

export async function timedAsync(fn: () => Promise<unknown>): Promise<number> {
  const start = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - start) / 1e6;
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** Per second, from a count and the milliseconds it took. */
export function perSecond(count: number, ms: number): number {
  return (count / ms) * 1000;
}

/**
 * Runs `measure` and its `floor` alternately, `rounds` times each, so that load from others on
 * the machine falls on both alike; returns the medians.
 */
export async function sideBySide(
  rounds: number,
  measure: (round: number) => number | Promise<number>,
  floor: (round: number) => number | Promise<number>,
): Promise<{ value: number; floor: number }> {
  const values: number[] = [];
  const floors: number[] = [];
  for (let round = 0; round < rounds; round++) {
    if (round % 2) {
      floors.push(await floor(round));
      values.push(await measure(round));
    } else {
      values.push(await measure(round));
      floors.push(await floor(round));
    }
  }
  return { value: median(values), floor: median(floors) };
}
