import { StaticDirectory } from '../../src/core/directory';
import type { WebClient } from '@slack/web-api';
import { coreHarness, type CoreHarness } from '../support/core';
import { FakeSlack } from '../support/fake-slack';
import {
  startJobProcess,
  stopJobProcess,
  testSlackClient,
  type JobProcess,
} from '../support/job-process';
import { STORE_KINDS } from '../support/stores';
import { WebhookReceiver } from '../support/webhook-receiver';

/**
 * A grant is acted on only where it was made. Its provider instance is recorded by name, and
 * what that instance points at (a webhook's url, a database server, an Okta org) by a digest of
 * those settings: a process whose hallpass.yml points the instance elsewhere does not revoke or
 * read the grant back there (the other system never held it, so it would be recorded revoked
 * while the access stays); it says why, retries, and does so once the settings are restored.
 */

const JUST = 'investigating INC-42 slow queries';
const MIN = 60_000;
const HOUR = 60 * MIN;
const SECRET = 'hook-secret-for-places';

function config(url: string): string {
  return `
timezone: UTC
admins: [UADMIN]
requests:
  approverChannel: CAPPROVALS
sweeper:
  alertAfterAttempts: 3
  retryBase: 5s
providers:
  hook:
    type: webhook
    url: ${url}
    secret: ${SECRET}
resources:
  - id: war-room
    name: War room
    provider: hook
    maxDuration: 2h
    approvalsRequired: 0
`;
}

describe.each(STORE_KINDS)(
  'a provider instance pointed elsewhere under live grants (%s)',
  (kind) => {
    let h: CoreHarness;
    let fake: FakeSlack;
    let client: WebClient;
    const receivers: WebhookReceiver[] = [];
    const started: JobProcess[] = [];
    const directory = new StaticDirectory({}, { UREQ: 'req@example.com' });

    beforeEach(async () => {
      h = await coreHarness(config('http://127.0.0.1:9/unused'), undefined, kind);
      fake = await new FakeSlack().start();
      client = testSlackClient(fake.url);
    });
    afterEach(async () => {
      for (const p of started.splice(0)) await stopJobProcess(p);
      for (const r of receivers.splice(0)) await r.stop();
      await fake.stop();
      await h.close();
    });

    async function receiver(): Promise<WebhookReceiver> {
      const r = await new WebhookReceiver(SECRET).start();
      receivers.push(r);
      return r;
    }

    async function boot(yaml: string): Promise<JobProcess> {
      const p = await startJobProcess(h, yaml, { client, directory });
      started.push(p);
      return p;
    }

    async function retire(p: JobProcess): Promise<void> {
      started.splice(started.indexOf(p), 1);
      await stopJobProcess(p);
    }

    const grant = async (id: string) => (await h.core.grant(id))!;

    async function grantOn(p: JobProcess, duration = '1h'): Promise<string> {
      const req = await p.core.createRequest({
        requester: 'UREQ',
        resourceId: 'war-room',
        duration,
        justification: JUST,
      });
      const id = await h.sql.value<string>('SELECT id FROM grants WHERE request_id = ?', req.id);
      await p.sweeper.tick();
      expect((await grant(id)).status).toBe('active');
      return id;
    }

    const revokesOf = (r: WebhookReceiver, grantId: string) =>
      r.callsOf('revoke').filter((c) => c.body.grantId === grantId);

    it('does not revoke at the new url; says which setting moved, and revokes where it was made once it is back', async () => {
      const oldSystem = await receiver();
      const newSystem = await receiver();
      const before = await boot(config(oldSystem.url));
      const grantId = await grantOn(before);
      expect(oldSystem.held.has(grantId)).toBe(true);
      await retire(before);

      // Pointed at a new system; start-up would refuse this (below), but a replica started on the
      // new file while another made the grant meets it in its sweeper.
      const moved = await boot(config(newSystem.url));
      const problems = await moved.core.checkLiveGrants(moved.providers.places);
      expect(problems.unrevocable).toEqual([
        `grant ${grantId} (UREQ on war-room, active) was granted through provider "hook", whose providers.hook.url changed since (it now points elsewhere): keep providers.hook as it was until the grant ends (configure the new place as a provider of its own and point the resources at it), or close it by hand with \`hallpass grants close ${grantId} --reason "…"\` and remove the access yourself`,
      ]);
      h.clock.advance(HOUR);
      await moved.sweeper.tick();

      const stuck = await grant(grantId);
      expect(stuck.status).toBe('revoking');
      expect(stuck.lastError).toBe(
        'revoke: provider "hook" points elsewhere than where the grant was made (providers.hook.url changed); restore it so the grant can be ended and read back',
      );
      expect(revokesOf(newSystem, grantId)).toEqual([]);
      expect(newSystem.callsOf('check')).toEqual([]);
      expect(oldSystem.held.has(grantId)).toBe(true);
      await retire(moved);

      // Restored: the revoke is made where the grant was, and only then recorded.
      const restored = await boot(config(oldSystem.url));
      h.clock.advance(MIN);
      await restored.sweeper.tick();
      expect((await grant(grantId)).status).toBe('revoked');
      expect(oldSystem.held.has(grantId)).toBe(false);
    });

    it('keeps an ended grant’s read-back owed while its provider points elsewhere', async () => {
      const oldSystem = await receiver();
      const newSystem = await receiver();
      const before = await boot(config(oldSystem.url));
      const grantId = await grantOn(before);
      h.clock.advance(HOUR);
      await before.sweeper.tick();
      expect((await grant(grantId)).status).toBe('revoked');
      const owed = (await grant(grantId)).recheckAt;
      expect(owed).not.toBeNull();
      await retire(before);

      const moved = await boot(config(newSystem.url));
      h.clock.advance(3 * MIN);
      expect(await moved.reconciler.run()).toEqual([
        expect.objectContaining({
          grantId,
          expected: 'absent',
          found: 'error',
          error:
            'provider "hook" points elsewhere than where the grant was made (providers.hook.url changed); restore it so the grant can be ended and read back',
        }),
      ]);
      expect(newSystem.callsOf('check')).toEqual([]);
      expect((await grant(grantId)).recheckAt).toBe(owed);
    });

    it('acts on grants as usual after a change that does not move the instance: its timeout, a query token', async () => {
      const system = await receiver();
      const before = await boot(config(`${system.url}?token=first`));
      const grantId = await grantOn(before);
      await retire(before);

      const rotated = config(`${system.url}?token=second`).replace(
        'secret: hook-secret-for-places',
        'secret: hook-secret-for-places\n    timeout: 5s',
      );
      const after = await boot(rotated);
      expect(await after.core.checkLiveGrants(after.providers.places)).toEqual({
        unrevocable: [],
        orphaned: [],
      });
      h.clock.advance(HOUR);
      await after.sweeper.tick();
      expect((await grant(grantId)).status).toBe('revoked');
      expect(system.held.has(grantId)).toBe(false);
    });

    // during a rolling move of providers.hook.url (old replica still up, new one started
    // while nothing was live), a person gets one grant from each. When the old-place grant ends,
    // the grant at the NEW place is taken to "cover" it: no revoke is sent to the old system, the
    // grant is recorded `revoked`, and the old system keeps the access indefinitely (its read-back
    // is skipped as covered too).
    it('a grant made at another place does not cover an ending grant; its revoke goes where it was made', async () => {
      const oldSystem = await receiver();
      const newSystem = await receiver();
      const oldReplica = await boot(config(oldSystem.url));
      const newReplica = await boot(config(newSystem.url));
      // Nothing live yet: the new replica's start-up check lets it start.
      expect(await newReplica.core.checkLiveGrants(newReplica.providers.places)).toEqual({
        unrevocable: [],
        orphaned: [],
      });

      const atOld = await grantOn(oldReplica, '1h');
      const atNew = await grantOn(newReplica, '2h');
      expect(oldSystem.held.has(atOld)).toBe(true);
      expect(newSystem.held.has(atNew)).toBe(true);
      expect(JSON.parse((await grant(atOld)).snapshot!).providerPlace).not.toEqual(
        JSON.parse((await grant(atNew)).snapshot!).providerPlace,
      );

      h.clock.set((await grant(atOld)).expiresAt!);
      await oldReplica.sweeper.tick();

      const ended = await grant(atOld);
      // The record may say revoked only once the old system no longer holds the access.
      if (ended.status === 'revoked') expect(oldSystem.held.has(atOld)).toBe(false);
      expect(oldSystem.callsOf('revoke').map((c) => c.body.grantId)).toContain(atOld);
      expect(oldSystem.held.has(atOld)).toBe(false);
    });

    // same rolling move, the other way round: the NEW-place grant ends first while the
    // old-place grant is live; the new replica skips its revoke as covered by the old-place grant
    // and records it revoked, and the new system keeps that access.
    it('the new place’s grant is revoked at its end though an old-place grant of the person is live', async () => {
      const oldSystem = await receiver();
      const newSystem = await receiver();
      const oldReplica = await boot(config(oldSystem.url));
      const newReplica = await boot(config(newSystem.url));

      const atOld = await grantOn(oldReplica, '2h');
      const atNew = await grantOn(newReplica, '1h');

      h.clock.set((await grant(atNew)).expiresAt!);
      await newReplica.sweeper.tick();

      const ended = await grant(atNew);
      if (ended.status === 'revoked') expect(newSystem.held.has(atNew)).toBe(false);
      expect(newSystem.callsOf('revoke').map((c) => c.body.grantId)).toContain(atNew);
      expect(newSystem.held.has(atNew)).toBe(false);
      expect((await grant(atOld)).status).toBe('active');
    });
  },
);
