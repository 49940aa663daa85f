import { once } from 'node:events';
import { createWriteStream, rmSync } from 'node:fs';
import { userInfo } from 'node:os';
import type { Writable } from 'node:stream';
import { finished } from 'node:stream/promises';
import type { RecordedAnchor } from '../audit/chain';
import { CheckpointSeal } from '../audit/checkpoint-seal';
import { EXPORT_FORMATS, FORMATTERS, type ExportFormat } from '../audit/export';
import { formatDuration } from '../config/duration';
import { sealingSecret } from '../config/env';
import { Core } from '../core';
import { StaticDirectory } from '../core/directory';
import type { GrantRow, RequestRow } from '../store';
import { parseCommand } from './args';
import { CliError, cliConfig, EXIT, withAudit, withStore, write, type CliIo } from './context';
import { parseDateArg } from './dates';

const PROGRESS_EVERY = 100_000;
/** Rows gathered into one write: fewer, larger writes stream much faster than one per row. */
const CHUNK_ROWS = 500;

const count = (n: number) => n.toLocaleString('en-US');

function parseAnchor(text: string): RecordedAnchor {
  const m = /^(\d+):([0-9a-f]{64})$/i.exec(text.trim());
  if (!m) {
    throw new CliError(
      `--anchor: "${text}" is not SEQ:HASH (a row number and its 64-hex hash, as a digest shows)`,
      EXIT.usage,
    );
  }
  return { seq: Number(m[1]), hash: m[2]!.toLowerCase(), source: '--anchor' };
}

/** The key the bot seals its verified head with, from the same variables the bot reads. */
function checkpointSeal(io: CliIo, what: string): CheckpointSeal {
  const set = (name: string) => io.env[name] || undefined;
  const secret = sealingSecret({
    HALLPASS_SECRET_KEY: set('HALLPASS_SECRET_KEY'),
    SLACK_SIGNING_SECRET: set('SLACK_SIGNING_SECRET'),
    SLACK_APP_TOKEN: set('SLACK_APP_TOKEN'),
  });
  if (!secret) {
    throw new CliError(
      `${what}: set HALLPASS_SECRET_KEY (or SLACK_SIGNING_SECRET / SLACK_APP_TOKEN) as the bot has it: the verified head is trusted only when its seal checks out`,
      EXIT.usage,
    );
  }
  return new CheckpointSeal(secret);
}

/**
 * `hallpass audit verify`: the whole chain, then every recorded or given anchor; with
 * `--since-verified`, only the rows after the head the bot's chain watch verified (its seal
 * checked), after the anchors.
 */
export async function auditVerify(args: string[], io: CliIo): Promise<number> {
  const { values } = parseCommand(
    'audit verify',
    args,
    { anchor: { type: 'string', multiple: true }, 'since-verified': { type: 'boolean' } },
    { min: 0, max: 0, names: '' },
  );
  const given = (values.anchor ?? []).map(parseAnchor);
  const seal = values['since-verified'] ? checkpointSeal(io, '--since-verified') : undefined;
  return withAudit(io, async (audit) => {
    const progress = (checked: number) => {
      io.stderr.write(`verified ${count(checked)} rows…\n`);
    };
    let after = '';
    let outcome;
    if (seal) {
      outcome = await audit.verifySinceVerified(seal, given, progress);
      const { reading } = outcome;
      if (reading.kind === 'none') {
        io.stderr.write('no verified head is recorded yet: walking from the first row\n');
      } else if (reading.kind === 'trusted' && reading.checkpoint.seq > 0) {
        const when = new Date(reading.checkpoint.verifiedAt).toISOString();
        after = ` after row ${reading.checkpoint.seq} (verified ${when})`;
      }
    } else outcome = await audit.verifyAll(given, progress);
    const { report, anchors } = outcome;
    const anchorNote = anchors > 0 ? ` and ${anchors} anchor${anchors === 1 ? '' : 's'}` : '';
    if (report.intact) {
      const head = report.head ? `; head is row ${report.head.seq}, hash ${report.head.hash}` : '';
      await write(
        io.stdout,
        `ok: ${count(report.checked)} rows checked${after}${anchorNote}${head}\n`,
      );
      return EXIT.ok;
    }
    const broken = report.firstBroken!;
    await write(
      io.stdout,
      `BROKEN at row ${broken.seq}: ${broken.problem}\n${count(report.checked)} rows checked\n`,
    );
    return EXIT.failed;
  });
}

/**
 * `hallpass audit reset-checkpoint [--anchor SEQ:HASH]`: after investigating a break, a fresh
 * verified head at the newest row with no break, once a full walk from the first row (and every
 * recorded or given anchor) finds the chain intact; a row break the watch recorded stands until
 * then. Audited as `cli:<os user>`. Exit 1, nothing changed, while the chain is broken.
 */
export async function auditResetCheckpoint(args: string[], io: CliIo): Promise<number> {
  const { values } = parseCommand(
    'audit reset-checkpoint',
    args,
    { anchor: { type: 'string', multiple: true } },
    { min: 0, max: 0, names: '' },
  );
  const anchors = (values.anchor ?? []).map(parseAnchor);
  const seal = checkpointSeal(io, 'audit reset-checkpoint');
  const { config } = cliConfig(io);
  const actor = `cli:${userInfo().username}`;
  return withStore(
    io,
    async (store) => {
      const core = new Core({
        store,
        clock: io.clock,
        config,
        directory: new StaticDirectory(),
        checkpointSeal: seal,
      });
      const onProgress = (checked: number) => {
        io.stderr.write(`verified ${count(checked)} rows…\n`);
      };
      const { report, head } = await core.resetChainCheckpoint(actor, { anchors, onProgress });
      if (!head) {
        const broken = report.firstBroken!;
        await write(
          io.stdout,
          `BROKEN at row ${broken.seq}: ${broken.problem}\n${count(report.checked)} rows checked; the checkpoint was not reset\n`,
        );
        return EXIT.failed;
      }
      await write(
        io.stdout,
        `ok: ${count(report.checked)} rows checked; the verified head is now row ${head.seq}, with no break, reset by ${actor}\n`,
      );
      return EXIT.ok;
    },
    true,
  );
}

function parseFormat(text: string | undefined): ExportFormat {
  const format = text ?? 'csv';
  if (!(EXPORT_FORMATS as readonly string[]).includes(format)) {
    throw new CliError(
      `--format: unknown format "${format}" (use ${EXPORT_FORMATS.join(' or ')})`,
      EXIT.usage,
    );
  }
  return format as ExportFormat;
}

/** `hallpass audit export`: every event in the range, streamed, as CSV or JSON lines. */
export async function auditExport(args: string[], io: CliIo): Promise<number> {
  const { values } = parseCommand(
    'audit export',
    args,
    {
      since: { type: 'string' },
      until: { type: 'string' },
      format: { type: 'string' },
      out: { type: 'string' },
    },
    { min: 0, max: 0, names: '' },
  );
  const since = values.since === undefined ? undefined : parseDateArg('--since', values.since);
  const until = values.until === undefined ? undefined : parseDateArg('--until', values.until);
  if (since !== undefined && until !== undefined && since >= until) {
    throw new CliError(
      `--since (${new Date(since).toISOString()}) must be before --until (${new Date(until).toISOString()})`,
      EXIT.usage,
    );
  }
  const formatter = FORMATTERS[parseFormat(values.format)];

  return withAudit(io, async (audit) => {
    const out = values.out ? await openOut(values.out) : io.stdout;
    let rows = 0;
    try {
      let chunk = formatter.header;
      for await (const row of audit.events({ since, until })) {
        chunk += formatter.row(row);
        rows++;
        if (rows % CHUNK_ROWS === 0) {
          await write(out, chunk);
          chunk = '';
        }
        if (rows % PROGRESS_EVERY === 0) io.stderr.write(`exported ${count(rows)} events…\n`);
      }
      await write(out, chunk);
      if (values.out) {
        out.end();
        await finished(out);
      }
    } catch (err) {
      if (values.out) {
        out.destroy();
        rmSync(values.out, { force: true });
      }
      throw err;
    }
    if (values.out) io.stderr.write(`wrote ${count(rows)} events to ${values.out}\n`);
    return EXIT.ok;
  });
}

/** A file to export into, once it is open, so a bad path fails before any work. */
async function openOut(file: string): Promise<Writable> {
  const stream = createWriteStream(file);
  try {
    await once(stream, 'open');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? String(err);
    throw new CliError(`--out: cannot write ${file} (${code})`);
  }
  return stream;
}

/**
 * `hallpass audit show <grant-id|request-id>`: who asked, who decided, when access started and
 * ended. A request id tells its grant's story, or the request's own when it never became a grant.
 */
export async function auditShow(args: string[], io: CliIo): Promise<number> {
  const { positionals } = parseCommand(
    'audit show',
    args,
    {},
    { min: 1, max: 1, names: 'grant id (gr_…) or request id (req_…)' },
  );
  const id = positionals[0]!;
  return withAudit(io, async (audit) => {
    const story = id.startsWith('req_') ? await audit.requestStory(id) : await audit.story(id);
    if (!story) {
      const what = id.startsWith('req_') ? 'request' : 'grant';
      throw new CliError(`no ${what} ${id} (hallpass grants list shows them)`);
    }
    const header = 'grant' in story ? grantHeader(story.grant) : requestHeader(story.request);
    const width = Math.max(0, ...story.lines.map((l) => l.actor.length));
    const lines = story.lines.map(
      (l) => `${new Date(l.at).toISOString()}  ${l.actor.padEnd(width)}  ${l.text}\n`,
    );
    await write(io.stdout, header + lines.join(''));
    return EXIT.ok;
  });
}

function grantHeader(g: GrantRow): string {
  const planned =
    g.startsAt !== null && g.expiresAt !== null
      ? formatDuration(g.expiresAt - g.startsAt)
      : formatDuration(g.durationMs);
  const ended = g.endReason ? `, ${g.endReason.replace(/_/g, ' ')}` : '';
  return `Grant ${g.id}: ${g.userId} on ${g.resourceId} via ${g.provider}, ${planned}; now ${g.status}${ended}\n`;
}

function requestHeader(r: RequestRow): string {
  const reason = r.decisionReason ? `: ${JSON.stringify(r.decisionReason)}` : '';
  return `Request ${r.id}: ${r.requester} asked for ${r.resourceId}, ${formatDuration(r.durationMs)}; now ${r.status}${reason} (no grant)\n`;
}
