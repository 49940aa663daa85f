import { once } from 'node:events';
import { join } from 'node:path';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { App, HTTPReceiver } from '@slack/bolt';
import { startHallpass } from '../src/app';
import { parseEnv } from '../src/config/env';
import { parseConfig } from '../src/config/load';
import { Core } from '../src/core';
import { systemClock } from '../src/core/clock';
import { logger } from '../src/log';
import {
  createSlackApp,
  createSlackClient,
  EVENTS_PATH,
  slackClientOptions,
} from '../src/slack/app';
import { boltLogger } from '../src/slack/bolt-logger';
import { SlackDirectory } from '../src/slack/directory';
import Database from 'better-sqlite3';
import type { Store } from '../src/store';
import { SqliteStore } from '../src/store/sqlite/store';
import { ACTIONS } from '../src/slack/ids';
import { FakeSlack } from '../test/support/fake-slack';
import {
  buttonClick,
  FORM,
  slackSignature,
  slashCommandBody,
} from '../test/support/slack-requests';
import { tempDir } from '../test/support/tmp';
import { WebhookReceiver } from '../test/support/webhook-receiver';
import { median } from './measure';
import { fmt, percentile, type Row } from './report';

const SIGNING_SECRET = 'bench-signing-secret-0123456789';
const BOT_TOKEN = 'xoxb-bench-bot-token';
const HOOK_SECRET = 'bench-webhook-secret';
const CLIENTS = 50;
const RATE = 200;
export const SETTLE_TIMEOUT_MS = 120_000;

export type Kind = 'request' | 'approve';

/** What the load thread is asked to send: closed loop (clients) or open loop (rate). */
export interface LoadSpec {
  url: string;
  kind: Kind;
  /** Approve: the request ids to click on, one click each; request: how many commands. */
  ids: string[];
  /** Unique per phase, so every command has its own trigger id (its idempotency key). */
  tag: string;
  mode: { clients: number } | { perSecond: number };
}

export interface LoadResult {
  wallMs: number;
  /** Ack latency of each request, ms: from when it was due (open loop) or sent (closed loop). */
  latencies: number[];
  failures: number;
}

export interface World {
  slackUrl: string;
  hookUrl: string;
}

/**
 * The load thread: Slack's side of the conversation. It signs and sends the requests over
 * keep-alive HTTP (fetch), and plays Slack's Web API (FakeSlack) and the webhook provider, so
 * the thread under test runs only the bot.
 */
async function runWorld(): Promise<void> {
  const port = parentPort!;
  const fake = await new FakeSlack().start();
  const receiver = await new WebhookReceiver(HOOK_SECRET).start();
  port.on('message', (message: { load?: LoadSpec; stop?: true }) => {
    if (message.stop) {
      void Promise.all([fake.stop(), receiver.stop()]).then(() => port.close());
      return;
    }
    void sendLoad(message.load!, fake.url).then((result) => {
      fake.calls.splice(0);
      receiver.calls.splice(0);
      port.postMessage({ result });
    });
  });
  port.postMessage({ world: { slackUrl: fake.url, hookUrl: receiver.url } satisfies World });
}

function bodyOf(spec: LoadSpec, i: number, slackUrl: string): string {
  const responseUrl = `${slackUrl}response/${spec.tag}-${i}`;
  if (spec.kind === 'request') {
    return slashCommandBody({
      userId: `UREQ${i % REQUESTERS}`,
      text: `request bench 1h load test, request ${i} of ${spec.tag}`,
      responseUrl,
      triggerId: `${spec.tag}.${i}`,
    });
  }
  const click = buttonClick({
    userId: 'ULEAD',
    actionId: ACTIONS.approve,
    value: spec.ids[i]!,
    source: { kind: 'message', responseUrl, channelId: 'CBENCH' },
  });
  return `payload=${encodeURIComponent(JSON.stringify(click))}`;
}

async function sendLoad(spec: LoadSpec, slackUrl: string): Promise<LoadResult> {
  const count = spec.ids.length;
  const latencies = new Array<number>(count);
  let failures = 0;
  const send = async (i: number, from: number) => {
    const body = bodyOf(spec, i, slackUrl);
    const timestamp = Math.floor(Date.now() / 1000);
    try {
      const res = await fetch(spec.url, {
        method: 'POST',
        headers: {
          'content-type': FORM,
          'x-slack-request-timestamp': String(timestamp),
          'x-slack-signature': slackSignature(SIGNING_SECRET, timestamp, body),
        },
        body,
      });
      await res.arrayBuffer();
      if (res.status !== 200) failures++;
    } catch {
      // A connection the app reset or refused under load: a request Slack would count as failed.
      failures++;
    }
    latencies[i] = performance.now() - from;
  };
  const start = performance.now();
  if ('clients' in spec.mode) {
    let next = 0;
    const client = async () => {
      while (next < count) {
        const i = next++;
        await send(i, performance.now());
      }
    };
    await Promise.all(Array.from({ length: spec.mode.clients }, client));
  } else {
    const interval = 1000 / spec.mode.perSecond;
    const inFlight: Promise<void>[] = [];
    for (let i = 0; i < count; i++) {
      const due = start + i * interval;
      const wait = due - performance.now();
      if (wait > 1) await new Promise((resolve) => setTimeout(resolve, wait));
      inFlight.push(send(i, due));
    }
    await Promise.all(inFlight);
  }
  return { wallMs: performance.now() - start, latencies, failures };
}

/** The main thread's handle on the load thread. */
export class LoadThread {
  private constructor(
    private readonly thread: Worker,
    readonly world: World,
  ) {}

  static async start(): Promise<LoadThread> {
    const thread = new Worker(
      `require(${JSON.stringify(require.resolve('tsx/cjs'))}); require(${JSON.stringify(__filename)});`,
      { eval: true, workerData: { slackPathWorld: true } },
    );
    const [{ world }] = (await once(thread, 'message')) as [{ world: World }];
    return new LoadThread(thread, world);
  }

  async run(spec: LoadSpec): Promise<LoadResult> {
    this.thread.postMessage({ load: spec });
    const [{ result }] = (await once(this.thread, 'message')) as [{ result: LoadResult }];
    return result;
  }

  async stop(): Promise<void> {
    this.thread.postMessage({ stop: true });
    await once(this.thread, 'exit');
  }
}

/**
 * Requests come from a pool of people, and the per-person limits are raised: a load test files
 * far more than one person may, and a refused request would not be the work being measured.
 */
const REQUESTERS = 200;
const configYaml = (hookUrl: string) => `
requests:
  approverChannel: CBENCH
  # A bench files thousands of requests in a minute from a pool of people: the filing limits
  # (3 pending, 10 per 10 minutes by default) would turn most away.
  maxPendingPerUser: 1000
  filingLimit: { requests: 10000, per: 1s }
providers:
  hook: { type: webhook, url: '${hookUrl}', secret: ${HOOK_SECRET} }
resources:
  - id: bench
    name: Benchmark database
    provider: hook
    maxDuration: 4h
    approvers: { users: [ULEAD] }
`;

/** An app under test: where to send, what to click, and how to let its background work finish. */
export interface Target {
  url: string;
  /** `count` request ids an Approve phase clicks, one click each. */
  approvable(count: number): Promise<string[]>;
  /** How many requests it has recorded, for an app that records them. */
  recorded?(): Promise<number>;
  /** How many of `ids` are still pending, for an app that records decisions. */
  undecided?(ids: readonly string[]): Promise<number>;
  settle(): Promise<void>;
  stop(): Promise<void>;
}

/** Retries `read` every 20 ms until `done` says so; throws `failure` after SETTLE_TIMEOUT_MS. */
async function waitFor<T>(
  read: () => Promise<T>,
  done: (value: T) => boolean,
  failure: (value: T) => Error,
): Promise<T> {
  const deadline = Date.now() + SETTLE_TIMEOUT_MS;
  for (;;) {
    const value = await read();
    if (done(value)) return value;
    if (Date.now() > deadline) throw failure(value);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** A database as the bench's own connection reads it, beside the process under test. */
export interface WatchedDb {
  /** Work the process queued and has not done: pending outbox rows and grants activating. */
  unfinished(): Promise<number>;
  /** Up to `count` pending requests, oldest first. */
  pending(count: number): Promise<string[]>;
  /** Requests recorded, in any state. */
  recorded(): Promise<number>;
  /** How many of `ids` are pending. */
  pendingAmong(ids: readonly string[]): Promise<number>;
  close(): Promise<void>;
}

export const UNFINISHED =
  "SELECT (SELECT count(*) FROM outbox WHERE status = 'pending') + (SELECT count(*) FROM grants WHERE status = 'activating') AS n";

/** A SQLite file read on a read-only connection of the bench's own. */
function watchSqlite(file: string): WatchedDb {
  const db = new Database(file, { readonly: true });
  const unfinished = db.prepare(UNFINISHED).pluck();
  const pending = db
    .prepare("SELECT id FROM requests WHERE status = 'pending' ORDER BY rowid LIMIT ?")
    .pluck();
  const recorded = db.prepare('SELECT count(*) FROM requests').pluck();
  const pendingAmong = db
    .prepare(
      "SELECT count(*) FROM requests WHERE status = 'pending' AND id IN (SELECT value FROM json_each(?))",
    )
    .pluck();
  return {
    unfinished: async () => unfinished.get() as number,
    pending: async (count) => pending.all(count) as string[],
    recorded: async () => recorded.get() as number,
    pendingAmong: async (ids) => pendingAmong.get(JSON.stringify(ids)) as number,
    close: async () => {
      db.close();
    },
  };
}

/** A composed bot still had work queued SETTLE_TIMEOUT_MS after it was asked to finish. */
export class Unsettled extends Error {
  constructor(left: number) {
    super(`the bot did not finish its background work (${left} items left)`);
    this.name = 'Unsettled';
  }
}

/** How long to wait for a composed bot's jobs (DMs, approver messages, provider calls). */
async function settled(db: WatchedDb, inMemory: () => number = () => 0): Promise<void> {
  await waitFor(
    async () => (await db.unfinished()) + inMemory(),
    (n) => n === 0,
    (n) => new Unsettled(n),
  );
}

/**
 * The oldest `count` pending requests, once that many are filed: a command is acked before its
 * request is filed, and changes that start in the same turn share a commit, so the last filings
 * of a phase can still be on their way when its last ack comes back.
 */
function pendingIn(db: WatchedDb): (count: number) => Promise<string[]> {
  return (count) =>
    waitFor(
      () => db.pending(count),
      (ids) => ids.length === count,
      (ids) => new Error(`only ${ids.length} pending requests to approve`),
    );
}

/** The database under the request path: the store, what waits for Approve, and the way out. */
export interface PathStore {
  store: Store;
  /** `count` pending requests, oldest first. */
  pending(count: number): Promise<string[]>;
  close(): Promise<void>;
}

/** The embedded store: a SQLite file (WAL checkpoints on their own thread), as the process opens it. */
async function sqlitePathStore(): Promise<PathStore> {
  const tmp = tempDir('hallpass-bench-');
  const file = join(tmp.dir, 'hallpass.db');
  const store = new SqliteStore(file, { backgroundCheckpoints: { logger } });
  const db = watchSqlite(file);
  return {
    store,
    pending: pendingIn(db),
    close: async () => {
      await db.close();
      await store.close();
      tmp.cleanup();
    },
  };
}

/**
 * The request path alone: the Slack app (createSlackApp) on a Core with the store `open` makes
 * (by default a SQLite file), as the process builds them, without the jobs that deliver what the
 * outbox queues.
 */
async function requestPathTarget(
  world: World,
  open: () => Promise<PathStore> = sqlitePathStore,
): Promise<Target> {
  const { store, pending, close } = await open();
  const config = parseConfig(configYaml(world.hookUrl), {});
  const client = createSlackClient({ botToken: BOT_TOKEN, apiUrl: world.slackUrl, logger });
  const directory = new SlackDirectory(client, { clock: systemClock, logger });
  const core = new Core({ store, clock: systemClock, config, directory });
  const slack = createSlackApp({
    core,
    botToken: BOT_TOKEN,
    signingSecret: SIGNING_SECRET,
    apiUrl: world.slackUrl,
    logger,
    health: async () => ({ ready: true, database: true, leader: true }),
  });
  await slack.start(0, '127.0.0.1');
  return {
    url: `http://127.0.0.1:${slack.port}${EVENTS_PATH}`,
    approvable: pending,
    settle: async () => undefined,
    stop: async () => {
      await slack.stop();
      await close();
    },
  };
}

/** Where a composed process keeps its data: the environment that points it there, and a watch. */
export interface ComposedDb {
  env: Record<string, string>;
  /** The bench's own connection, opened once the process has made the database. */
  watch(): Promise<WatchedDb>;
  /** Removes the database, after the process and the watch have closed it. */
  cleanup(): Promise<void>;
}

/** The embedded default: a SQLite file in a directory of its own. */
export async function sqliteComposedDb(): Promise<ComposedDb> {
  const tmp = tempDir('hallpass-bench-');
  const file = join(tmp.dir, 'hallpass.db');
  return {
    env: { HALLPASS_DB: file },
    watch: async () => watchSqlite(file),
    cleanup: async () => tmp.cleanup(),
  };
}

/**
 * Hallpass as main.ts composes it: the same, plus the outbox dispatcher and the sweeper, on the
 * database `open` makes (a SQLite file by default).
 * `homesOpened`: every requester has opened Home once, so each change to their requests draws
 * it again (otherwise none has, and no change does).
 */
export async function composedTarget(
  world: World,
  homesOpened = false,
  open: () => Promise<ComposedDb> = sqliteComposedDb,
): Promise<Target> {
  const where = await open();
  const configDir = tempDir('hallpass-bench-config-');
  const parsed = parseEnv({
    SLACK_BOT_TOKEN: BOT_TOKEN,
    SLACK_SIGNING_SECRET: SIGNING_SECRET,
    SLACK_API_URL: world.slackUrl,
    ...where.env,
    PORT: '0',
    HOST: '127.0.0.1',
  });
  if (!('env' in parsed)) throw new Error(parsed.problems.join('\n'));
  const config = parseConfig(configYaml(world.hookUrl), {});
  const running = await startHallpass({
    env: parsed.env,
    config,
    configDir: configDir.dir,
    logger,
  });
  if (homesOpened) {
    for (let i = 0; i < REQUESTERS; i++) {
      await running.core.messages.homeOpened(`UREQ${i}`, Date.now());
    }
  }
  const db = await where.watch();
  return {
    url: `http://127.0.0.1:${running.port}${EVENTS_PATH}`,
    approvable: pendingIn(db),
    recorded: () => db.recorded(),
    undecided: (ids) => db.pendingAmong(ids),
    // Homes wait to be drawn in memory, beside the outbox rows the database counts.
    settle: () => settled(db, () => running.dispatcher.homesUnfinished),
    stop: async () => {
      await running.stop();
      await db.close();
      await where.cleanup();
      configDir.cleanup();
    },
  };
}

/** The floor: a bare Bolt app with the same receiver and options, whose listeners only ack. */
export async function bareBoltTarget(world: World): Promise<Target> {
  const log = boltLogger(logger);
  const receiver = new HTTPReceiver({
    signingSecret: SIGNING_SECRET,
    endpoints: EVENTS_PATH,
    customRoutes: [{ path: '/healthz', method: ['GET'], handler: (_req, res) => res.end() }],
    logger: log,
  });
  const app = new App({
    token: BOT_TOKEN,
    receiver,
    clientOptions: slackClientOptions({ botToken: BOT_TOKEN, apiUrl: world.slackUrl, logger }),
    logger: log,
    deferInitialization: true,
    convoStore: false,
  });
  app.command('/jit', async ({ ack }) => ack());
  app.action(/.*/, async ({ ack }) => ack());
  await app.init();
  const server = await app.start({ port: 0, host: '127.0.0.1' });
  const port = (server.address() as { port: number }).port;
  return {
    url: `http://127.0.0.1:${port}${EVENTS_PATH}`,
    approvable: async (count) =>
      Array.from({ length: count }, (_, i) => `req_${String(i).padStart(10, '0')}`),
    settle: async () => undefined,
    stop: async () => {
      await app.stop();
    },
  };
}

interface Measured {
  perSecond: number;
  p50: number;
  p99: number;
}

function summary(result: LoadResult): Measured {
  if (result.failures > 0) throw new Error(`${result.failures} requests were not answered 200`);
  const sorted = [...result.latencies].sort((a, b) => a - b);
  return {
    perSecond: (sorted.length / result.wallMs) * 1000,
    p50: percentile(sorted, 50),
    p99: percentile(sorted, 99),
  };
}

const medianOf = (all: Measured[]): Measured => ({
  perSecond: median(all.map((m) => m.perSecond)),
  p50: median(all.map((m) => m.p50)),
  p99: median(all.map((m) => m.p99)),
});

type Phase = `${Kind}:${'clients' | 'rate'}`;
const PHASES: Phase[] = ['request:clients', 'approve:clients', 'request:rate', 'approve:rate'];

/**
 * One round on one app: `/jit request` by 50 clients, Approve on what they filed by 50 clients,
 * then the same two at a fixed 200 requests/s (`phases` picks some). Whatever background work
 * the app has (DMs, approver messages, provider calls) finishes before the next phase starts.
 */
async function round(
  load: LoadThread,
  target: Target,
  sizes: { closed: number; open: number },
  tag: string,
  phases: readonly Phase[] = PHASES,
): Promise<Partial<Record<Phase, Measured>>> {
  const out: Partial<Record<Phase, Measured>> = {};
  for (const phase of phases) {
    const [kind, shape] = phase.split(':') as [Kind, 'clients' | 'rate'];
    const count = shape === 'clients' ? sizes.closed : sizes.open;
    const mode = shape === 'clients' ? { clients: CLIENTS } : { perSecond: RATE };
    const ids =
      kind === 'approve'
        ? await target.approvable(count)
        : Array.from({ length: count }, (_, i) => String(i));
    out[phase] = summary(
      await load.run({ url: target.url, kind, ids, tag: `${tag}-${phase}`, mode }),
    );
    await target.settle();
  }
  return out;
}

const FIGURES: Record<Phase, string> = {
  'request:clients':
    '`/jit request` (signature, parse, checks, transaction with audit and outbox rows, ack, ephemeral reply), 50 clients',
  'approve:clients':
    'Approve click (signature, decision, grant, audit and outbox rows, ack), 50 clients',
  'request:rate': `\`/jit request\` at a fixed ${RATE} requests/s, ack latency`,
  'approve:rate': `Approve click at a fixed ${RATE} requests/s, ack latency`,
};

const latency = (m: Measured) => `p50 ${fmt(m.p50, 1)} · p99 ${fmt(m.p99, 1)} ms`;
const throughput = (m: Measured) => `${fmt(m.perSecond)} req/s, ${latency(m)}`;

/**
 * The Slack request path over loopback HTTP with signed bodies, from a load thread that also
 * plays Slack's Web API and the webhook provider. Measured: the Slack app on a Core and a
 * SQLite file (what runs before and around each ack) against a bare Bolt app with the same
 * receiver and options whose listeners only ack, alternating round by round. Shown beside it:
 * the whole process (startHallpass) doing the same with its jobs delivering what was queued.
 */
export function slackPathBench(
  quick: boolean,
  store?: { bench: string; open(): Promise<PathStore> },
): Promise<Row[]> {
  return measureSlackPath({
    ...(quick
      ? { closed: 1_000, open: 600, rounds: 1 }
      : { closed: 3_000, open: 2_000, rounds: 3 }),
    store,
  });
}

/**
 * `closed` requests per 50-client phase, `open` per fixed-rate phase (at 200/s: `open` / 200 s).
 * With `store`, the request path runs on the database it opens and the whole process is left out.
 */
export async function measureSlackPath(options: {
  closed: number;
  open: number;
  rounds: number;
  store?: { bench: string; open(): Promise<PathStore> };
}): Promise<Row[]> {
  const wasSilent = logger.silent;
  // The happy path writes no lines at info; the bench output stays a table.
  logger.silent = true;
  const load = await LoadThread.start();
  const path = await requestPathTarget(load.world, options.store?.open);
  const bare = await bareBoltTarget(load.world);
  const composed = options.store ? undefined : await composedTarget(load.world);
  const bench = options.store?.bench ?? 'slack-path';
  try {
    const sizes = { closed: options.closed, open: options.open };
    const closedOnly: Phase[] = ['request:clients', 'approve:clients'];
    // A first round of each warms them up (JIT, connections) and is not counted.
    const warm = { closed: 500, open: 200 };
    await round(load, path, warm, 'warm-path');
    await round(load, bare, warm, 'warm-bare');
    if (composed) await round(load, composed, warm, 'warm-composed', closedOnly);
    const values: Partial<Record<Phase, Measured>>[] = [];
    const floors: Partial<Record<Phase, Measured>>[] = [];
    const whole: Partial<Record<Phase, Measured>>[] = [];
    for (let r = 0; r < options.rounds; r++) {
      const runPath = async () => values.push(await round(load, path, sizes, `path-${r}`));
      const runBare = async () => floors.push(await round(load, bare, sizes, `bare-${r}`));
      const [first, second] = r % 2 ? [runBare, runPath] : [runPath, runBare];
      await first();
      await second();
      if (composed) whole.push(await round(load, composed, sizes, `composed-${r}`, closedOnly));
    }
    const med = (all: Partial<Record<Phase, Measured>>[], phase: Phase) =>
      medianOf(all.map((m) => m[phase]!));
    const rounds = `median of ${options.rounds} round${options.rounds > 1 ? 's' : ''}`;
    const rows: Row[] = PHASES.map((phase) => {
      const value = med(values, phase);
      const floor = med(floors, phase);
      if (phase.endsWith(':clients')) {
        return {
          bench,
          figure: `${FIGURES[phase]} (${rounds} of ${fmt(sizes.closed)})`,
          value: throughput(value),
          floor: `${throughput(floor)} (bare Bolt, ack only)`,
          ratio: `${fmt((value.perSecond / floor.perSecond) * 100)}%`,
          target: '—',
          met: null,
        };
      }
      return {
        bench,
        figure: `${FIGURES[phase]} (${rounds} of ${fmt(sizes.open)})`,
        value: latency(value),
        floor: `${latency(floor)} (bare Bolt, ack only)`,
        ratio: `${fmt((floor.p99 / value.p99) * 100)}% (p99)`,
        target: 'p99 < 50 ms',
        met: value.p99 < 50,
      };
    });
    for (const phase of composed ? closedOnly : []) {
      const value = med(whole, phase);
      const floor = med(values, phase);
      rows.push({
        bench: 'slack-path',
        figure: `the same ${phase.startsWith('request') ? '`/jit request`' : 'Approve'}, 50 clients, with the process's jobs delivering what it queued (startHallpass; ${rounds})`,
        value: throughput(value),
        floor: `${throughput(floor)} (the request path alone, above)`,
        ratio: `${fmt((value.perSecond / floor.perSecond) * 100)}%`,
        target: '—',
        met: null,
      });
    }
    return rows;
  } finally {
    await composed?.stop();
    await bare.stop();
    await path.stop();
    await load.stop();
    logger.silent = wasSilent;
  }
}

if (!isMainThread && (workerData as { slackPathWorld?: boolean } | null)?.slackPathWorld) {
  void runWorld();
}
