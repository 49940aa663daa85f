import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { startHallpass, type RunningHallpass } from '../../src/app';
import { parseEnv } from '../../src/config/env';
import { parseConfig } from '../../src/config/load';
import { logger } from '../../src/log';
import { ACTIONS } from '../../src/slack/ids';
import { FakeSlack } from '../support/fake-slack';
import { parsePrometheusText, sampleValue, type Family } from '../support/prometheus-text';
import { buttonClick, SlackSender } from '../support/slack-requests';
import { sqliteInspector, type SqlInspector } from '../support/sql-inspector';
import { tempDir } from '../support/tmp';
import { WebhookReceiver } from '../support/webhook-receiver';

const SIGNING_SECRET = 'metrics-signing-secret-0123456789';
const HOOK_SECRET = 'metrics-webhook-secret-value';

const yaml = (hookUrl: string) => `
timezone: UTC
admins: [UADMIN]
requests: { approverChannel: CAPPROVALS }
sweeper: { retryBase: 1s, retryMax: 2s }
providers:
  hook: { type: webhook, url: '${hookUrl}', secret: '\${HOOK_SECRET}', timeout: 2s }
resources:
  - id: prod-db
    name: Production database
    provider: hook
    minDuration: 1s
    maxDuration: 4h
    approvers: { users: [ULEAD] }
    approverChannel: CDBA
`;

async function waitUntil<T>(
  probe: () => T | undefined | null | false | Promise<T | undefined | null | false>,
  timeoutMs = 15_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = await probe();
    if (found) return found;
    if (Date.now() > deadline) throw new Error('waitUntil timed out');
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** A full loop through a started bot, then /metrics scraped and parsed as Prometheus would. */
describe('GET /metrics after a full loop', () => {
  let fake: FakeSlack;
  let receiver: WebhookReceiver;
  let tmp: ReturnType<typeof tempDir>;
  let running: RunningHallpass;
  let sql: SqlInspector;
  let base: string;

  beforeAll(async () => {
    fake = await new FakeSlack().start();
    receiver = await new WebhookReceiver(HOOK_SECRET).start();
    tmp = tempDir();
    const file = join(tmp.dir, 'hallpass.db');
    const parsed = parseEnv({
      SLACK_BOT_TOKEN: 'xoxb-metrics',
      SLACK_SIGNING_SECRET: SIGNING_SECRET,
      SLACK_API_URL: fake.url,
      HALLPASS_DB: file,
      PORT: '0',
      HOST: '127.0.0.1',
    });
    if (!('env' in parsed)) throw new Error(parsed.problems.join('\n'));
    const config = parseConfig(yaml(receiver.url), { HOOK_SECRET });
    running = await startHallpass({ env: parsed.env, config, configDir: tmp.dir, logger });
    base = `http://127.0.0.1:${running.port}`;
    sql = sqliteInspector(file);
  });

  afterAll(async () => {
    await sql?.close();
    await running?.stop();
    await receiver.stop();
    await fake.stop();
    tmp.cleanup();
  });

  const scrape = async (): Promise<Map<string, Family>> => {
    await running.metrics.settled();
    const res = await fetch(`${base}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    return parsePrometheusText(await res.text());
  };

  it('counts requests, decisions, grants, provider calls, Slack failures and jobs', async () => {
    const startedAt = Date.now() / 1000;
    // The approver post is rate-limited once, then refused once; the first grant call fails.
    fake.fail('chat.postMessage', { kind: 'ratelimited', retryAfter: 1 });
    fake.fail('chat.postMessage', { kind: 'error', error: 'internal_error' });
    receiver.fail({ kind: 'status', status: 500 });

    const send = new SlackSender(`${base}/slack/events`, SIGNING_SECRET);
    await send.command({
      userId: 'UREQ',
      text: 'request prod-db 2s investigating INC-42 slow queries',
      responseUrl: `${fake.url}response/1`,
    });
    const requestId = await waitUntil(() =>
      sql.value<string | undefined>('SELECT id FROM requests'),
    );
    const pending = await scrape();
    expect(sampleValue(pending, 'hallpass_requests_filed_total', { kind: 'access' })).toBe(1);
    await send.interaction(
      buttonClick({
        userId: 'ULEAD',
        actionId: ACTIONS.approve,
        value: requestId,
        source: { kind: 'message', responseUrl: `${fake.url}response/2`, channelId: 'CDBA' },
      }),
    );
    await waitUntil(
      () => sql.get("SELECT 1 FROM grants WHERE status = 'revoked' AND end_reason = 'expired'"),
      20_000,
    );
    await waitUntil(
      async () =>
        (await sql.value<number>("SELECT count(*) FROM outbox WHERE status = 'pending'")) === 0,
    );

    const m = await scrape();
    const v = (name: string, labels: Record<string, string> = {}) => sampleValue(m, name, labels);
    expect(v('hallpass_requests_decided_total', { outcome: 'approved', kind: 'access' })).toBe(1);
    expect(v('hallpass_decision_latency_seconds_count', { kind: 'access' })).toBe(1);
    const decided = await sql.get<{ ms: number }>(
      'SELECT decided_at - created_at AS ms FROM requests',
    );
    expect(v('hallpass_decision_latency_seconds_sum', { kind: 'access' })).toBeCloseTo(
      decided!.ms / 1000,
      3,
    );
    // Ended: no grant in flight, one expired, its revoke confirmed within a second or so.
    for (const status of ['activating', 'active', 'revoking']) {
      expect(v('hallpass_grants', { status })).toBe(0);
    }
    expect(v('hallpass_grants_ended_total', { reason: 'expired' })).toBe(1);
    expect(v('hallpass_revocation_lag_seconds_count')).toBe(1);
    expect(v('hallpass_revocation_lag_seconds_bucket', { le: '5' })).toBe(1);
    expect(v('hallpass_grants_overdue')).toBe(0);
    expect(v('hallpass_grant_retries_pending')).toBe(0);
    // The failed grant call and the two that worked (grant, revoke), timed per provider.
    expect(v('hallpass_provider_call_failures_total', { provider: 'hook', call: 'grant' })).toBe(1);
    const calls = (call: string, outcome: string) =>
      v('hallpass_provider_call_duration_seconds_count', { provider: 'hook', call, outcome });
    expect(calls('grant', 'error')).toBe(1);
    expect(calls('grant', 'ok')).toBe(1);
    expect(calls('revoke', 'ok')).toBe(1);
    expect(receiver.callsOf('grant')).toHaveLength(2);
    // Slack's answers, as Slack gave them.
    expect(v('hallpass_slack_api_ratelimited_total', { method: 'chat.postMessage' })).toBe(1);
    expect(
      v('hallpass_slack_api_errors_total', { method: 'chat.postMessage', error: 'internal_error' }),
    ).toBe(1);
    expect(v('hallpass_outbox_pending')).toBe(0);
    expect(v('hallpass_outbox_dead')).toBe(0);
    // The sweeper passed during the loop; this replica leads; the database answered.
    expect(v('hallpass_job_runs_total', { task: 'sweeper', outcome: 'ok' })).toBeGreaterThan(1);
    expect(v('hallpass_job_last_run_timestamp_seconds', { task: 'sweeper' })).toBeGreaterThan(
      startedAt,
    );
    expect(v('hallpass_leader')).toBe(1);
    expect(v('hallpass_database_up')).toBe(1);
    expect(v('hallpass_database_changes_waiting')).toBe(0);
    expect(v('hallpass_database_changes_refused_total')).toBe(0);
    expect(v('hallpass_process_resident_memory_bytes')).toBeGreaterThan(0);
    expect(m.get('hallpass_revocation_lag_seconds')?.type).toBe('histogram');
    // Every series the sample alerting rules use is one Hallpass exports.
    const rules = parseYaml(
      readFileSync(join(__dirname, '..', '..', 'deploy', 'alerts.yml'), 'utf8'),
    ) as {
      groups: { rules: { alert: string; expr: string }[] }[];
    };
    const used = rules.groups.flatMap((g) =>
      g.rules.flatMap((r) => r.expr.match(/hallpass_\w+/g) ?? []),
    );
    expect(used.length).toBeGreaterThan(0);
    expect(used.filter((name) => sampleValue(m, name) === undefined)).toEqual([]);
    expect(m.get('hallpass_requests_decided_total')?.type).toBe('counter');
  }, 60_000);

  it('shows a grant past its expiry that is not revoked, and a dead notification', async () => {
    const now = Date.now();
    const requestId = await sql.value<string>('SELECT id FROM requests LIMIT 1');
    // As the sweeper would find them after an outage: written behind the bot's back.
    await sql.run(
      `INSERT INTO grants (id, request_id, user_id, resource_id, provider, status, duration_ms,
         starts_at, expires_at, next_attempt_at, attempts, created_at)
       VALUES ('gr_overdue', ?, 'UREQ', 'prod-db', 'hook', 'revoking', 60000,
         ?, ?, ?, 3, ?)`,
      requestId,
      now - 660_000,
      now - 600_000,
      now + 3_600_000,
      now - 660_000,
    );
    await sql.run(
      `INSERT INTO outbox (key, subject, topic, payload, status, attempts, next_attempt_at, created_at)
       VALUES ('dead:1', 'dead', 'request.dm', '{}', 'dead', 8, ?, ?)`,
      now,
      now,
    );
    await new Promise((r) => setTimeout(r, 1100)); // past the one-second snapshot
    const m = await scrape();
    expect(sampleValue(m, 'hallpass_grants', { status: 'revoking' })).toBe(1);
    expect(sampleValue(m, 'hallpass_grants_overdue')).toBe(1);
    expect(sampleValue(m, 'hallpass_grants_overdue_oldest_seconds')).toBeGreaterThanOrEqual(600);
    expect(sampleValue(m, 'hallpass_grant_retries_pending')).toBe(1);
    expect(sampleValue(m, 'hallpass_outbox_dead')).toBe(1);
  });
});
