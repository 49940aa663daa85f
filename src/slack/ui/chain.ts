import type { BrokenRow } from '../../core';
import { context, fallback, fields, header, section, type SlackMessage } from './blocks';
import { escapeAndFit } from './format';

export interface ChainBrokenInput {
  seq: number;
  problem: string;
  verifiedHead: number;
  row?: BrokenRow;
}

/** A value from a row that may have been forged: shown as literal text, never as mrkdwn. */
const literal = (text: string | null, max = 200) =>
  text === null ? '—' : `\`${escapeAndFit(text, max).replace(/`/g, "'")}\``;

/**
 * Tells the admins and the digest channel that the audit log stopped matching its hash chain:
 * which row, what is wrong, the row as it stands now, and what to do.
 */
export function chainBrokenMessage(input: ChainBrokenInput): SlackMessage {
  const { row } = input;
  const rowFields = row
    ? [
        `*Row*\n${row.seq}`,
        `*Written at*\n${new Date(row.at).toISOString()}`,
        `*Actor*\n${literal(row.actor)}`,
        `*Action*\n${literal(row.action)}`,
        `*Request*\n${literal(row.requestId)}`,
        `*Grant*\n${literal(row.grantId)}`,
        `*prev_hash*\n${literal(row.prevHash, 64)}`,
        `*hash*\n${literal(row.hash, 64)}`,
      ]
    : [`*Row*\n${input.seq} (no longer in the database)`];
  return {
    text: fallback(`🚨 The audit log does not match its hash chain at row ${input.seq}.`),
    blocks: [
      header('Audit log tampering detected'),
      section(
        `The audit log stops matching its hash chain at row *${input.seq}*: ${escapeAndFit(input.problem, 1000)}.`,
      ),
      fields(rowFields),
      context([
        `Rows up to ${input.verifiedHead} were verified before. Run \`hallpass audit verify\` for a full walk, with \`--anchor SEQ:HASH\` from a posted digest, and compare the database with a backup.`,
      ]),
    ],
  };
}
