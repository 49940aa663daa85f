import { LogLevel, WebClient } from '@slack/web-api';
import { parseConfig } from '../../src/config/load';
import { Core } from '../../src/core';
import { StaticDirectory } from '../../src/core/directory';
import { AccessTurns } from '../../src/jobs/access-turns';
import { ProviderCalls } from '../../src/jobs/provider-calls';
import { Reconciler } from '../../src/jobs/reconciler';
import { Sweeper } from '../../src/jobs/sweeper';
import { logger } from '../../src/log';
import { loadProviders } from '../../src/providers/registry';
import type { ProviderSet } from '../../src/providers/provider-set';
import { Sealer } from '../../src/secrets/seal';
import { openStore, type Store } from '../../src/store';
import { coreHarness, type CoreHarness } from '../support/core';
import { FakeSlack } from '../support/fake-slack';
import { STORE_KINDS, type StoreKind } from '../support/stores';

/**
 * A resource is renamed in hallpass.yml (its id changes, its provider and target stay: the same
 * Slack channel) while a grant made under the old id is live. The person then asks for the
 * renamed resource and gets a second grant of the very same access (same provider instance, same
 * target, same Slack user). The old grant's end must not take that access away from the new
 * grant: the record says the new grant is active.
 */

const JUST = 'investigating INC-42 slow queries';
const MIN = 60_000;
const C1 = 'CWARONE';

function channelConfig(resourceId: string): string {
  return `
timezone: UTC
admins: [UADMIN]
requests:
  approverChannel: CAPPROVALS
providers:
  chan:
    type: slack-channel
resources:
  - id: ${resourceId}
    name: War room
    provider: chan
    target: { channel: ${C1} }
    maxDuration: 2h
    maxTotalDuration: 4h
    approvalsRequired: 0
    approverChannel: CWARAPPROVE
`;
}

interface Process {
  core: Core;
  sweeper: Sweeper;
  reconciler: Reconciler;
  providers: ProviderSet;
  store: Store;
}

describe.each(STORE_KINDS)('a resource renamed under a live grant (%s)', (kind: StoreKind) => {
  let h: CoreHarness;
  let fake: FakeSlack;
  let client: WebClient;
  const started: Process[] = [];
  const directory = new StaticDirectory({}, { UREQ: 'req@example.com' });
  const sealer = new Sealer('test-sealing-secret');

  beforeEach(async () => {
    h = await coreHarness(channelConfig('war-room'), undefined, kind);
    fake = await new FakeSlack().start();
    client = new WebClient('xoxb-test', {
      slackApiUrl: fake.url,
      retryConfig: { retries: 0 },
      rejectRateLimitedCalls: true,
      logLevel: LogLevel.ERROR,
    });
  });
  afterEach(async () => {
    for (const p of started.splice(0)) {
      await p.sweeper.stop();
      await p.reconciler.stop();
      await p.providers.closeAll();
      await p.store.close();
    }
    await fake.stop();
    await h.close();
  });

  /** The bot (re)started with `yaml`: its own store connection, core, providers, jobs. */
  async function boot(yaml: string): Promise<Process> {
    const config = parseConfig(yaml, {});
    const providers = await loadProviders(config, { slack: client, configDir: __dirname });
    const store = await openStore(h.location);
    const core = new Core({
      store,
      clock: h.clock,
      config,
      directory,
      resolveTarget: (resource) => providers.forResource(resource.id)?.target ?? resource.target,
    });
    const deps = {
      core,
      providers,
      directory,
      sealer,
      logger,
      busy: new Set<string>(),
      calls: new ProviderCalls(),
      turns: new AccessTurns(providers),
    };
    const sweeper = new Sweeper({ ...deps, random: () => 1 });
    const reconciler = new Reconciler(deps);
    const p = { core, sweeper, reconciler, providers, store };
    started.push(p);
    return p;
  }

  async function activeGrant(p: Process, resourceId: string): Promise<string> {
    const req = await p.core.createRequest({
      requester: 'UREQ',
      resourceId,
      duration: '1h',
      justification: JUST,
    });
    const id = await h.sql.value<string>('SELECT id FROM grants WHERE request_id = ?', req.id);
    await p.sweeper.tick();
    expect((await h.core.grant(id))!.status).toBe('active');
    return id;
  }

  it("the old grant's expiry does not kick the person out while the renamed resource's grant holds the same channel", async () => {
    const before = await boot(channelConfig('war-room'));
    const a = await activeGrant(before, 'war-room');
    await before.sweeper.stop();

    // war-room is renamed incident-room (same provider, same channel) and the bot restarted.
    const after = await boot(channelConfig('incident-room'));
    h.clock.advance(10 * MIN);
    const b = await activeGrant(after, 'incident-room');
    expect(JSON.parse((await h.core.grant(a))!.snapshot!).target).toEqual(
      JSON.parse((await h.core.grant(b))!.snapshot!).target,
    );
    expect(fake.members[C1]?.has('UREQ')).toBe(true);

    // a's hour is up; b has 10 minutes left.
    h.clock.set((await h.core.grant(a))!.expiresAt!);
    await after.sweeper.tick();

    expect((await h.core.grant(a))!.status).toBe('revoked');
    expect((await h.core.grant(b))!.status).toBe('active');
    // The record says b is active: the person must still be in the channel.
    expect(fake.calls.filter((c) => c.method === 'conversations.kick')).toEqual([]);
    expect(fake.members[C1]?.has('UREQ')).toBe(true);
  });

  it("the reconciler's read-back of the old grant does not 'repair' away the renamed resource's grant", async () => {
    const before = await boot(channelConfig('war-room'));
    const a = await activeGrant(before, 'war-room');
    h.clock.set((await h.core.grant(a))!.expiresAt!);
    await before.sweeper.tick();
    expect((await h.core.grant(a))!.status).toBe('revoked');
    expect(fake.members[C1]?.has('UREQ')).toBe(false);
    await before.sweeper.stop();

    // Renamed and restarted; a minute later the person asks for the renamed resource.
    const after = await boot(channelConfig('incident-room'));
    h.clock.advance(MIN);
    const b = await activeGrant(after, 'incident-room');
    const kicksBefore = fake.calls.filter((c) => c.method === 'conversations.kick').length;

    // a's scheduled read-back, 2 min after its end.
    h.clock.advance(MIN);
    const findings = await after.reconciler.run();

    // b holds the same channel by right: a's read-back must not count it as drift and kick.
    expect(findings.find((f) => f.grantId === a)).toMatchObject({
      expected: 'absent',
      found: 'covered',
      coveredBy: b,
    });
    expect(fake.calls.filter((c) => c.method === 'conversations.kick')).toHaveLength(kicksBefore);
    expect((await h.core.grant(b))!.status).toBe('active');
  });
});
