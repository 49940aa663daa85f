import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client } from 'pg';
import { openStore, type Store } from '../../../src/store';
import { FakeSlack } from '../../support/fake-slack';
import { startPostgres, type TestPostgres } from '../../support/postgres';
import { BotProcess } from '../../support/process';
import { postgresInspector, type SqlInspector } from '../../support/sql-inspector';
import { tempDir } from '../../support/tmp';
import { WebhookReceiver } from '../../support/webhook-receiver';
import { assertConverged, type ConvergenceCheck } from './converged';
import { SlackLedger } from './slack-ledger';
import { BOT_TOKEN, HOOK_SECRET, SIGNING_SECRET, SlackTraffic, USERGROUPS } from './traffic';
import { waitFor } from './system';

/** The hallpass.yml of the replica cases: every person may hold a grant, quick retries. */
export function replicaConfig(hookUrl: string): string {
  return `
timezone: UTC
admins: [UADMIN]
requests:
  approverChannel: CAPPROVALS
  maxPendingPerUser: 1000
  filingLimit: { requests: 10000, per: 1m }
sweeper:
  schedule: '*/2 * * * * *'
  retryBase: 1s
  retryMax: 2s
  warnBefore: 5s
providers:
  hook:
    type: webhook
    url: '${hookUrl}'
    secret: '\${HOOK_SECRET}'
    timeout: 2s
resources:
  - id: sandbox
    name: Sandbox
    provider: hook
    minDuration: 1s
    maxDuration: 4h
    approvalsRequired: 0
  - id: prod-db
    name: Production database
    provider: hook
    minDuration: 1s
    maxDuration: 4h
    approvalsRequired: 2
    approvers: { users: [ULEAD, UOPS], usergroups: [SONCALL] }
    approverChannel: CDBA
`;
}

export interface Replica {
  bot: BotProcess;
  people: SlackTraffic;
}

/** Several Hallpass processes on one PostgreSQL, their fakes in this process. */
export interface ReplicaWorld {
  pg: TestPostgres;
  databaseUrl: string;
  fake: FakeSlack;
  slack: SlackLedger;
  receiver: WebhookReceiver;
  replicas: Replica[];
  sql: SqlInspector;
  /** Replicas that stopped without being told to, with why: none, in every case. */
  crashes(): string[];
  /** The replica that says it leads on /healthz (waits for one to). */
  leader(): Promise<Replica>;
  /** Another replica on the same database and config (as after a restart). */
  startReplica(): Promise<Replica>;
  converged(check?: Partial<ConvergenceCheck>): Promise<void>;
  stop(): Promise<void>;
}

async function health(bot: BotProcess): Promise<{ status: number; leader?: boolean }> {
  try {
    const res = await fetch(`${bot.url}/healthz`, { signal: AbortSignal.timeout(3000) });
    const body = (await res.json()) as { leader?: boolean };
    return { status: res.status, leader: body.leader };
  } catch {
    return { status: 0 };
  }
}

export async function startReplicaWorld(count: number): Promise<ReplicaWorld> {
  const pg = await startPostgres({ preloadStatements: false });
  const admin = new Client({ connectionString: pg.adminUrl });
  await admin.connect();
  await admin.query('CREATE DATABASE hallpass');
  await admin.end();
  const databaseUrl = pg.adminUrlFor('hallpass');
  const fake = await new FakeSlack().start();
  fake.usergroups = USERGROUPS;
  const slack = new SlackLedger(fake);
  const receiver = await new WebhookReceiver(HOOK_SECRET).start();
  const tmp = tempDir('hallpass-replicas-');
  const config = join(tmp.dir, 'hallpass.yml');
  writeFileSync(config, replicaConfig(receiver.url));
  const env = {
    SLACK_BOT_TOKEN: BOT_TOKEN,
    SLACK_SIGNING_SECRET: SIGNING_SECRET,
    SLACK_API_URL: fake.url,
    HALLPASS_CONFIG: config,
    HALLPASS_DATABASE_URL: databaseUrl,
    HOOK_SECRET,
    PORT: '0',
    HOST: '127.0.0.1',
  };
  const startReplica = async (): Promise<Replica> => {
    const bot = await BotProcess.start(env, 60_000);
    return { bot, people: new SlackTraffic(bot.url, fake) };
  };
  let sql: SqlInspector | undefined;
  let store: Store | undefined;
  const replicas: Replica[] = [];
  try {
    for (let i = 0; i < count; i++) replicas.push(await startReplica());
    sql = await postgresInspector(databaseUrl);
    store = await openStore({ file: '', databaseUrl }, { readonly: true });
  } catch (err) {
    await BotProcess.killAll();
    await Promise.all([receiver.stop(), fake.stop()]);
    await pg.stop();
    tmp.cleanup();
    throw err;
  }
  const reader = store;
  const inspector = sql;
  return {
    pg,
    databaseUrl,
    fake,
    slack,
    receiver,
    replicas,
    sql: inspector,
    crashes: () => replicas.flatMap((r) => (r.bot.crash ? [r.bot.crash] : [])),
    async leader() {
      return waitFor(
        async () => {
          for (const replica of replicas) {
            if ((await health(replica.bot)).leader === true) return replica;
          }
          return undefined;
        },
        'a replica to lead',
        30_000,
      );
    },
    startReplica: async () => {
      const replica = await startReplica();
      replicas.push(replica);
      return replica;
    },
    converged: (check) =>
      assertConverged({ sql: inspector, store: reader, receiver, slack, now: Date.now, ...check }),
    async stop() {
      fake.clearFaults();
      receiver.clearFaults();
      await BotProcess.killAll();
      await reader.close().catch(() => undefined);
      await inspector.close();
      await Promise.all([receiver.stop(), fake.stop()]);
      await pg.stop();
      tmp.cleanup();
    },
  };
}
