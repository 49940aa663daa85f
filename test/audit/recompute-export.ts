import { createHash } from 'node:crypto';

/*
 * An auditor's check of `hallpass audit export --format jsonl`, written from docs/audit.md
 * ("Recomputing the hashes") alone: node:crypto and nothing of Hallpass's own code.
 */

/** One line of the JSONL export. */
export interface ExportedEvent {
  seq: number;
  at: string;
  actor: string;
  action: string;
  request_id: string | null;
  grant_id: string | null;
  details: unknown;
  prev_hash: string;
  hash: string;
}

/** The prev_hash of row 1. */
export const GENESIS_HASH = '0'.repeat(64);

const MAX_ARRAY_INDEX = 2 ** 32 - 2;

/** `0`, `7`, `4294967294`; not `01`, `-1`, `1.5` or `4294967295`. */
function isArrayIndex(key: string): boolean {
  return /^(0|[1-9][0-9]*)$/.test(key) && Number(key) <= MAX_ARRAY_INDEX;
}

/** Array-index keys first, by value; then every other key by UTF-16 code units. */
function compareKeys(a: string, b: string): number {
  const aIndex = isArrayIndex(a);
  const bIndex = isArrayIndex(b);
  if (aIndex && bIndex) return Number(a) - Number(b);
  if (aIndex !== bIndex) return aIndex ? -1 : 1;
  // JavaScript compares strings by UTF-16 code units, as the rule asks.
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Canonical JSON: no whitespace, keys in the order above, scalars as JSON.stringify writes them. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const object = value as Record<string, unknown>;
  const members = Object.keys(object)
    .sort(compareKeys)
    .map((key) => `${JSON.stringify(key)}:${canonicalJson(object[key])}`);
  return `{${members.join(',')}}`;
}

/** The exact text hashed for a row. */
export function preimage(event: ExportedEvent): string {
  const content = JSON.stringify([
    event.seq,
    Date.parse(event.at),
    event.actor,
    event.action,
    event.request_id,
    event.grant_id,
    canonicalJson(event.details),
  ]);
  return `${event.prev_hash}\n${content}`;
}

export function recomputeHash(event: ExportedEvent): string {
  return createHash('sha256').update(preimage(event), 'utf8').digest('hex');
}

export interface Break {
  seq: number;
  problem: 'seq' | 'prev_hash' | 'hash';
}

/**
 * Walks a whole export (from row 1, no --since) in order: consecutive seq, each prev_hash the
 * hash of the line before, each hash recomputed from its line. The first line that fails, if any.
 */
export function firstBreak(jsonl: string): Break | undefined {
  let expected = { seq: 1, prevHash: GENESIS_HASH };
  for (const line of jsonl.split('\n').filter((l) => l !== '')) {
    const event = JSON.parse(line) as ExportedEvent;
    if (event.seq !== expected.seq) return { seq: event.seq, problem: 'seq' };
    if (event.prev_hash !== expected.prevHash) return { seq: event.seq, problem: 'prev_hash' };
    if (recomputeHash(event) !== event.hash) return { seq: event.seq, problem: 'hash' };
    expected = { seq: event.seq + 1, prevHash: event.hash };
  }
  return undefined;
}
