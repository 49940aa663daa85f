import { hash } from 'node:crypto';

/**
 * The audit chain's rules: how a row is hashed, and the checks of a walk over rows in seq order,
 * shared by every store and by the parallel workers, so all judge a row the same way. Rows are
 * read as raw arrays: no object per row.
 */

export const GENESIS_HASH = '0'.repeat(64);

export type RawEvent = [
  seq: number,
  at: number,
  actor: string,
  action: string,
  requestId: string | null,
  grantId: string | null,
  details: string,
  prevHash: string,
  hash: string,
];

/** SHA-256 over the previous hash and the row's content as a JSON array in a fixed field order. */
export function hashContent(
  prevHash: string,
  seq: number,
  at: number,
  actor: string,
  action: string,
  requestId: string | null,
  grantId: string | null,
  details: string,
): string {
  const content = JSON.stringify([seq, at, actor, action, requestId, grantId, details]);
  return hash('sha256', `${prevHash}\n${content}`, 'hex');
}

/** A row verified before: a walk may start after it instead of at the genesis. */
export interface ChainAnchor {
  seq: number;
  hash: string;
}

export interface ChainBreak {
  seq: number;
  problem: string;
}

export interface ChainReport {
  checked: number;
  intact: boolean;
  firstBroken?: ChainBreak;
}

export const missingRows = (expectedSeq: number, seq: number) =>
  `expected seq ${expectedSeq}: rows ${expectedSeq}..${seq - 1} are missing`;
export const PREV_MISMATCH = 'prev_hash does not match the previous row';
export const CONTENT_EDITED = 'content does not match its hash (the row was edited)';
/** A walk reads only rows after its start, at the least row 0 (the genesis): never such a row. */
export const outsideChain = (seq: number) =>
  `row ${seq} is outside the chain: a chain starts at row 1`;

/**
 * The report of a chain holding row `seq` below 1. No walk reads that row, yet export, `audit
 * show` and the digest do like any other, so it is a break before any row is walked.
 */
export const outsideChainReport = (seq: number): ChainReport => ({
  checked: 0,
  intact: false,
  firstBroken: { seq, problem: outsideChain(seq) },
});

/** What a walk over consecutive rows found, for joining with the walks of neighbouring ranges. */
export interface Segment {
  /** Rows that passed, all before `broken`. */
  checked: number;
  /** The first row seen, whose link to the range before is the joiner's to check. */
  first?: { seq: number; prevHash: string };
  /** The last row that passed. */
  last?: ChainAnchor;
  broken?: ChainBreak;
}

/**
 * Checks rows fed in seq order: no gap, each prev_hash is the hash of the row before, each hash
 * matches its content. With a `start` the first row is checked against it too; without one (a
 * worker's range) that link is left to `ChainJoin`.
 */
export class ChainWalk {
  private readonly segment: Segment = { checked: 0 };
  private expectedSeq: number | undefined;
  private expectedPrev: string | undefined;

  constructor(start?: ChainAnchor) {
    this.expectedSeq = start && start.seq + 1;
    this.expectedPrev = start?.hash;
  }

  /** False once a row is broken: the rows after it are not looked at. */
  feed(rows: readonly RawEvent[]): boolean {
    if (this.segment.broken) return false;
    let expectedSeq = this.expectedSeq;
    let expectedPrev = this.expectedPrev;
    let checked = this.segment.checked;
    for (let i = 0; i < rows.length; i++) {
      const row = rows[i]!;
      const seq = row[0];
      const prevHash = row[7];
      this.segment.first ??= { seq, prevHash };
      let problem: string | undefined;
      if (expectedSeq !== undefined && seq !== expectedSeq) problem = missingRows(expectedSeq, seq);
      else if (expectedPrev !== undefined && prevHash !== expectedPrev) problem = PREV_MISMATCH;
      else if (
        hashContent(prevHash, seq, row[1], row[2], row[3], row[4], row[5], row[6]) !== row[8]
      )
        problem = CONTENT_EDITED;
      if (problem !== undefined) {
        this.segment.broken = { seq, problem };
        break;
      }
      checked++;
      expectedSeq = seq + 1;
      expectedPrev = row[8];
    }
    this.segment.checked = checked;
    if (expectedSeq !== undefined && expectedPrev !== undefined && checked > 0)
      this.segment.last = { seq: expectedSeq - 1, hash: expectedPrev };
    this.expectedSeq = expectedSeq;
    this.expectedPrev = expectedPrev;
    return this.segment.broken === undefined;
  }

  get checked(): number {
    return this.segment.checked;
  }

  result(): Segment {
    return { ...this.segment };
  }

  report(): ChainReport {
    const { checked, broken } = this.segment;
    return broken ? { checked, intact: false, firstBroken: broken } : { checked, intact: true };
  }
}

/**
 * Joins the segments of consecutive seq ranges, added in range order, into exactly what one walk
 * from `start` would report: the link into each range is checked before the range's own rows.
 */
export class ChainJoin {
  private checked = 0;
  private expectedSeq: number;
  private expectedPrev: string;
  private broken?: ChainBreak;

  constructor(start: ChainAnchor) {
    this.expectedSeq = start.seq + 1;
    this.expectedPrev = start.hash;
  }

  /** False once the chain is known to be broken: later segments cannot change the report. */
  add(segment: Segment): boolean {
    if (this.broken) return false;
    const { first } = segment;
    if (first && first.seq !== this.expectedSeq)
      this.broken = { seq: first.seq, problem: missingRows(this.expectedSeq, first.seq) };
    else if (first && first.prevHash !== this.expectedPrev)
      this.broken = { seq: first.seq, problem: PREV_MISMATCH };
    else {
      this.checked += segment.checked;
      this.broken = segment.broken;
      if (segment.last) {
        this.expectedSeq = segment.last.seq + 1;
        this.expectedPrev = segment.last.hash;
      }
    }
    return this.broken === undefined;
  }

  /** Rows known good so far: the rows before the first break, or every row joined. */
  get verified(): number {
    return this.checked;
  }

  report(): ChainReport {
    return this.broken
      ? { checked: this.checked, intact: false, firstBroken: this.broken }
      : { checked: this.checked, intact: true };
  }
}
