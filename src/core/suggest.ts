function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let diagonal = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const above = row[j]!;
      row[j] = Math.min(above + 1, row[j - 1]! + 1, diagonal + (a[i - 1] === b[j - 1] ? 0 : 1));
      diagonal = above;
    }
  }
  return row[b.length]!;
}

/**
 * How far a typed id is from a known one: its edit distance, or, when the known id is longer,
 * one more than the distance to its start, so a slip in the first part of a long id counts
 * (`prod-dbb` is near `prod-db-read`) while a closer whole id still wins (`prod-db`).
 */
function distanceTo(input: string, id: string): number {
  const whole = editDistance(input, id);
  if (id.length <= input.length) return whole;
  return Math.min(whole, editDistance(input, id.slice(0, input.length)) + 1);
}

/** The closest known id to a mistyped one, if any is close enough to be a likely typo. */
export function closestMatch(input: string, candidates: readonly string[]): string | undefined {
  let best: { id: string; distance: number } | undefined;
  for (const id of candidates) {
    const distance = distanceTo(input, id);
    if (!best || distance < best.distance) best = { id, distance };
  }
  return best && best.distance <= Math.max(2, Math.floor(input.length / 3)) ? best.id : undefined;
}
