import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CheckpointSeal } from '../src/audit/checkpoint-seal';
import { FakeSlack } from '../test/support/fake-slack';
import { sideBySide } from './measure';
import { fmt, type Row } from './report';
import { copyDurably, seedAudit, seedGrants, template } from './seed';
import { verifyTemplate } from './verified-head';

const ROOT = join(__dirname, '..');
const MAIN = join(ROOT, 'dist', 'main.js');
const CONFIG = join(ROOT, 'hallpass.example.yml');
const DAY = 86_400_000;
const HEALTH_TIMEOUT_MS = 60_000;
const SIGNING_SECRET = 'footprint-signing-secret';
/** How long a process is left alone before its resident memory is read. */
const SETTLE_MS = 3_000;

/** A port nothing listens on right now, for a child to take. */
async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  server.close();
  await once(server, 'close');
  return port;
}

/** Resident memory of a process, from /proc, in MB. */
function rssOf(pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8').match(/^VmRSS:\s+(\d+) kB$/m);
  if (!line) throw new Error(`no VmRSS for process ${pid}`);
  return Number(line[1]) / 1024;
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill('SIGTERM');
  await exited;
}

/**
 * A copy of a seeded database in a folder of its own, so every start finds the same file; on disk
 * before the start, as a deployed database is (`copyDurably`).
 */
function copyOf(templateFile: string): { file: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'hallpass-footprint-'));
  const file = join(dir, 'hallpass.db');
  copyDurably(templateFile, file);
  return { file, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/**
 * `node dist/main.js` on a copy of `db`, with the example configuration and Slack's Web API
 * played by `slack`: resolves once /healthz answers 200, with the time from spawn.
 */
async function startHallpass(
  db: string,
  slack: FakeSlack,
): Promise<{ child: ChildProcess; ms: number; cleanup: () => Promise<void> }> {
  const copy = copyOf(db);
  const port = await freePort();
  const output: string[] = [];
  const started = performance.now();
  const child = spawn(process.execPath, [MAIN], {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH ?? '',
      LOG_LEVEL: 'warn',
      SLACK_BOT_TOKEN: 'xoxb-footprint',
      SLACK_SIGNING_SECRET: SIGNING_SECRET,
      SLACK_API_URL: slack.url,
      HALLPASS_CONFIG: CONFIG,
      HALLPASS_DB: copy.file,
      OPS_HOOK_SECRET: 'footprint-hook-secret',
      PORT: String(port),
      HOST: '127.0.0.1',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout!.on('data', (chunk: Buffer) => output.push(String(chunk)));
  child.stderr!.on('data', (chunk: Buffer) => output.push(String(chunk)));
  const cleanup = async () => {
    await stop(child);
    copy.cleanup();
  };
  try {
    for (;;) {
      if (child.exitCode !== null) throw new Error(`hallpass exited: ${output.join('')}`);
      if (performance.now() - started > HEALTH_TIMEOUT_MS) {
        throw new Error(`no /healthz 200 in ${HEALTH_TIMEOUT_MS} ms: ${output.join('')}`);
      }
      const status = await fetch(`http://127.0.0.1:${port}/healthz`).then(
        (res) => res.status,
        () => 0,
      );
      if (status === 200) return { child, ms: performance.now() - started, cleanup };
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  } catch (err) {
    await cleanup();
    throw err;
  }
}

/** The floor for memory: a bare `node -e` that opens the same database with better-sqlite3. */
async function bareOpen(db: string): Promise<number> {
  const copy = copyOf(db);
  const code = `const Database = require(${JSON.stringify(require.resolve('better-sqlite3'))});
const db = new Database(process.argv[1]);
db.prepare('SELECT count(*) FROM grants').get();
process.send('open');
setInterval(() => {}, 1000);`;
  const child = spawn(process.execPath, ['-e', code, copy.file], {
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
  });
  try {
    await once(child, 'message');
    await new Promise((resolve) => setTimeout(resolve, SETTLE_MS));
    return rssOf(child.pid!);
  } finally {
    await stop(child);
    copy.cleanup();
  }
}

async function hallpassAtRest(db: string, slack: FakeSlack): Promise<number> {
  const running = await startHallpass(db, slack);
  try {
    await new Promise((resolve) => setTimeout(resolve, SETTLE_MS));
    return rssOf(running.child.pid!);
  } finally {
    await running.cleanup();
  }
}

/**
 * The process as it is deployed (`node dist/main.js`, built first if out of date): how long it
 * takes from spawn to /healthz 200, and its resident memory at rest, on databases of 100,000,
 * 1,000,000 and 3,000,000 audit events (whose chain the bot verified before, as a running bot
 * keeps it), against the same start on an empty database and a bare node process holding the
 * same database open; and its memory with 100,000 active grants. Alternating rounds, medians.
 */
export function footprintBench(quick: boolean): Promise<Row[]> {
  return measureFootprint(
    quick
      ? { events: [10_000, 100_000, 300_000], grants: 20_000, rounds: 1 }
      : { events: [100_000, 1_000_000, 3_000_000], grants: 100_000, rounds: 3 },
  );
}

/** A database of `events` audit events whose chain the bot (with this env's secret) verified. */
async function verifiedEvents(events: number, now: number) {
  const seeded = await template((raw) => seedAudit(raw, events, now - 365 * DAY, now));
  await verifyTemplate(seeded.file, now, new CheckpointSeal(SIGNING_SECRET));
  return seeded;
}

/** The same, with the sizes given. */
export async function measureFootprint(options: {
  events: readonly number[];
  grants: number;
  rounds: number;
}): Promise<Row[]> {
  execFileSync(process.execPath, [join(ROOT, 'scripts', 'ensure-built.js')], { stdio: 'inherit' });
  const slack = await new FakeSlack().start();
  const now = Date.now();
  const empty = await template(() => undefined);
  const rows: Row[] = [];
  const rounds = `median of ${options.rounds} alternating rounds`;
  const startUp = async (db: string) => {
    const running = await startHallpass(db, slack);
    await running.cleanup();
    return running.ms;
  };
  try {
    // A first start warms the page cache and the compiled code; it is not counted.
    await startUp(empty.file);
    for (const size of options.events) {
      const events = await verifiedEvents(size, now);
      try {
        await startUp(events.file);
        const start = await sideBySide(
          options.rounds,
          () => startUp(events.file),
          () => startUp(empty.file),
        );
        const memory = await sideBySide(
          options.rounds,
          () => hallpassAtRest(events.file, slack),
          () => bareOpen(events.file),
        );
        rows.push(
          {
            bench: 'footprint',
            figure: `start-up of \`node dist/main.js\` to /healthz 200 on a ${fmt(size)}-event database (${rounds})`,
            value: `${fmt(start.value)} ms`,
            floor: `${fmt(start.floor)} ms (the same start on an empty database)`,
            ratio: `${fmt((start.floor / start.value) * 100)}%`,
            target: '< 1,500 ms',
            met: start.value < 1_500,
          },
          {
            bench: 'footprint',
            figure: `resident memory at rest (${fmt(SETTLE_MS / 1000)} s after /healthz 200) on a ${fmt(size)}-event database (${rounds})`,
            value: `${fmt(memory.value, 1)} MB`,
            floor: `${fmt(memory.floor, 1)} MB (\`node -e\` opening the same database with better-sqlite3)`,
            ratio: `${fmt((memory.floor / memory.value) * 100)}%`,
            target: '< 150 MB',
            met: memory.value < 150,
          },
        );
      } finally {
        events.cleanup();
      }
    }
    const grants = await template((raw) =>
      seedGrants(raw, {
        count: options.grants,
        now,
        expiresAt: (i) => now + DAY + i * 10,
        warned: () => false,
        resourceId: 'prod-db-read',
        provider: 'ops-hook',
      }),
    );
    try {
      const memory = await sideBySide(
        options.rounds,
        () => hallpassAtRest(grants.file, slack),
        () => bareOpen(grants.file),
      );
      rows.push({
        bench: 'footprint',
        figure: `resident memory at rest (${fmt(SETTLE_MS / 1000)} s after /healthz 200) with ${fmt(options.grants)} active grants (${rounds})`,
        value: `${fmt(memory.value, 1)} MB`,
        floor: `${fmt(memory.floor, 1)} MB (\`node -e\` opening the same database with better-sqlite3)`,
        ratio: `${fmt((memory.floor / memory.value) * 100)}%`,
        target: '< 150 MB',
        met: memory.value < 150,
      });
    } finally {
      grants.cleanup();
    }
    return rows;
  } finally {
    await slack.stop();
    empty.cleanup();
  }
}
