import { webApi } from '@slack/bolt';
import { Client } from 'pg';
import { digestText } from '../../src/audit/digest-render';
import { StaticDirectory } from '../../src/core/directory';
import { Sweeper } from '../../src/jobs/sweeper';
import { logger } from '../../src/log';
import { postgresAdapter, type PostgresTarget } from '../../src/providers/postgres/adapter';
import type { GrantResult, Provider } from '../../src/providers/types';
import { Sealer } from '../../src/secrets/seal';
import { OutboxDispatcher } from '../../src/slack/delivery/dispatcher';
import { cliEnv, runCli } from '../cli/run';
import { coreHarness, type CoreHarness } from '../support/core';
import { FakeSlack } from '../support/fake-slack';
import { createProviderAdmin, startPostgres, type TestPostgres } from '../support/postgres';
import { lookupOf } from '../support/recording-provider';

/**
 * Issue #11, "what was done": a real session on a real PostgreSQL grant, revoked by the sweeper;
 * what the grant's role ran reaches `hallpass audit show`, the approver message and the digest,
 * normalized (no literal values anywhere).
 */

const ADMIN = { user: 'hallpass_admin', password: 'admin-Pa55word-for-tests' };
const MIN = 60_000;
const sealer = new Sealer('test-sealing-secret');

const CONFIG = `
timezone: UTC
requests:
  approverChannel: CAPPROVALS
providers:
  pg: { type: postgres, url: 'postgres://unused' }
resources:
  - id: orders-db
    name: Orders database
    provider: pg
    target: { roles: [orders_rw] }
    maxDuration: 1h
    approvalsRequired: 0
`;

let pg: TestPostgres;
let superuser: Client;

beforeAll(async () => {
  pg = await startPostgres();
  superuser = new Client({ connectionString: pg.adminUrl });
  await superuser.connect();
  await superuser.query(`
    CREATE EXTENSION pg_stat_statements;
    CREATE TABLE orders (id int PRIMARY KEY, total numeric);
    INSERT INTO orders SELECT g, g * 10 FROM generate_series(1, 50) g;
    CREATE ROLE orders_rw NOLOGIN;
    GRANT SELECT, UPDATE ON orders TO orders_rw;
  `);
  await createProviderAdmin(superuser, ADMIN, ['orders_rw']);
});

afterAll(async () => {
  await superuser?.end();
  await pg?.stop();
});

describe('what a PostgreSQL grant was used for', () => {
  let h: CoreHarness;
  let fake: FakeSlack;
  let grantId: string;

  beforeAll(async () => {
    h = await coreHarness(CONFIG, {});
    fake = await new FakeSlack().start();
    const real = postgresAdapter.create(
      postgresAdapter.configSchema.parse({ url: pg.urlFor(ADMIN.user, ADMIN.password) }),
      { configDir: __dirname },
    );
    // The holder's password, as the credentials DM would carry it.
    let granted: GrantResult | undefined;
    const provider: Provider<PostgresTarget> = {
      ...real,
      grant: async (ctx) => (granted = await real.grant(ctx)),
    };
    const sweeper = new Sweeper({
      core: h.core,
      providers: lookupOf({ pg: provider as Provider }, 10_000),
      directory: new StaticDirectory({}, { UREQ: 'req@example.com' }),
      sealer,
      logger,
      random: () => 1,
    });
    // PostgreSQL checks the role's VALID UNTIL against its own clock: start from the real time.
    h.clock.set(Date.now());
    try {
      const request = await h.core.createRequest({
        requester: 'UREQ',
        resourceId: 'orders-db',
        duration: '30m',
        justification: 'fixing the totals of order 7 (INC-42)',
      });
      grantId = (await h.core.grantOf(request))!.id;
      await sweeper.tick();
      const text = granted?.credentials?.text ?? '';
      const user = /• user: `([^`]+)`/.exec(text)![1]!;
      const password = /• password: `([^`]+)`/.exec(text)![1]!;
      const session = new Client({
        host: pg.host,
        port: pg.port,
        database: 'postgres',
        user,
        password,
      });
      await session.connect();
      for (let id = 1; id <= 3; id++) await session.query(`SELECT * FROM orders WHERE id = ${id}`);
      await session.query('UPDATE orders SET total = 4242 WHERE id = 7');
      await session.end();

      h.clock.advance(31 * MIN);
      await sweeper.tick();
    } finally {
      await sweeper.stop();
    }
    expect((await h.core.grant(grantId))!.status).toBe('revoked');

    const dispatcher = new OutboxDispatcher({
      clock: h.clock,
      client: new webApi.WebClient('xoxb-test', {
        slackApiUrl: fake.url,
        retryConfig: { retries: 0 },
        logLevel: webApi.LogLevel.ERROR,
      }),
      sealer,
      core: h.core,
      logger,
      options: { random: () => 0.5 },
    });
    try {
      await dispatcher.drain();
    } finally {
      await dispatcher.stop();
    }
  });
  afterAll(async () => {
    await fake?.stop();
    await h?.close();
  });

  const SUMMARY = '4 statements: 3 SELECT, 1 UPDATE on orders';

  it('lists the normalized statements under the revoke in `hallpass audit show`', async () => {
    const shown = await runCli(['audit', 'show', grantId], cliEnv(h.location), h.clock);
    expect(shown.code).toBe(0);
    expect(shown.stdout).toContain(`what was done: ${SUMMARY}`);
    expect(shown.stdout).toContain('3× SELECT * FROM orders WHERE id = $1 (postgres, 3 rows,');
    expect(shown.stdout).toContain(
      '1× UPDATE orders SET total = $1 WHERE id = $2 (postgres, 1 rows,',
    );
    expect(shown.stdout).not.toContain('4242');
  });

  it('says it in one line on the approver message once the grant ended', () => {
    // The message is posted once, then edited: the last edit (or the post) is what it says now.
    const toApprovers = (method: string) =>
      fake.callsOf(method).filter((c) => c.args.channel === 'CAPPROVALS');
    const last = toApprovers('chat.update').at(-1) ?? toApprovers('chat.postMessage').at(-1)!;
    const blocks = JSON.stringify(last.args.blocks);
    expect(blocks).toContain(`What was done: ${SUMMARY}`);
    expect(blocks).not.toContain('4242');
  });

  it('lists it in the weekly digest', async () => {
    const now = h.clock.now();
    const digest = await h.core.digest({ start: now - 7 * 24 * 60 * MIN, end: now + 1 });
    expect(digest.activity).toEqual({
      total: 1,
      items: [
        {
          grantId,
          userId: 'UREQ',
          resourceId: 'orders-db',
          at: expect.any(Number),
          summary: SUMMARY,
        },
      ],
    });
    expect(digestText(digest)).toContain(
      `WHAT WAS DONE\n  • ${grantId} UREQ on orders-db: "${SUMMARY}"`,
    );
  });
});
