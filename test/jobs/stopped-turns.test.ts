import { StaticDirectory } from '../../src/core/directory';
import type { Core } from '../../src/core';
import { AccessTurns } from '../../src/jobs/access-turns';
import { ProviderCalls } from '../../src/jobs/provider-calls';
import { Reconciler } from '../../src/jobs/reconciler';
import { Sweeper } from '../../src/jobs/sweeper';
import { logger } from '../../src/log';
import { Sealer } from '../../src/secrets/seal';
import { BASE_CONFIG, coreHarness, type CoreHarness } from '../support/core';
import { lookupOf, RecordingProvider } from '../support/recording-provider';

const JUST = 'investigating INC-42 slow queries';
const MIN = 60_000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * A job stopped while one of its calls waits for a turn on shared access (held by the other
 * job) must not make that call when the turn comes: the next leader owns the work by then.
 */
describe('a stopped job and a turn it was waiting for', () => {
  let h: CoreHarness;
  beforeEach(async () => {
    h = await coreHarness(BASE_CONFIG);
  });
  afterEach(async () => {
    await h.close();
  });

  function jobsOn(core: Core, provider: RecordingProvider) {
    const providers = lookupOf({ hook: provider });
    const deps = {
      core,
      providers,
      directory: new StaticDirectory({}, { U1: 'u1@example.com' }),
      sealer: new Sealer('test-sealing-secret'),
      logger,
      busy: new Set<string>(),
      calls: new ProviderCalls(),
      turns: new AccessTurns(providers),
    };
    return { sweeper: new Sweeper({ ...deps, random: () => 1 }), reconciler: new Reconciler(deps) };
  }

  async function file(core: Core, requester: string): Promise<string> {
    const r = await core.createRequest({
      requester,
      resourceId: 'auto',
      duration: '30m',
      justification: JUST,
    });
    return h.sql.value<string>('SELECT id FROM grants WHERE request_id = ?', r.id);
  }

  function holdFirst(provider: RecordingProvider, when: (action: string, id: string) => boolean) {
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    let reach!: () => void;
    const reached = new Promise<void>((r) => (reach = r));
    let first = true;
    provider.onCall = async (call) => {
      if (first && when(call.action, call.grantId)) {
        first = false;
        reach();
        await held;
      }
    };
    return { release, reached };
  }

  it('sweeper: an activation waiting for the reconciler’s turn is not started after stop()', async () => {
    const provider = new RecordingProvider(); // shared
    const { sweeper, reconciler } = jobsOn(h.core, provider);
    const a = await file(h.core, 'U1');
    await sweeper.tick();
    h.clock.advance(30 * MIN);
    await sweeper.tick();
    expect((await h.core.grant(a))!.status).toBe('revoked');

    // The reconciler's read-back of a, in its turn on U1's access, is slow.
    h.clock.advance(2 * MIN);
    const { release, reached } = holdFirst(
      provider,
      (action, id) => action === 'check' && id === a,
    );
    const reading = reconciler.run();
    await reached;
    // U1 asks again; the sweeper's pass takes the activation, which waits for the turn.
    const b = await file(h.core, 'U1');
    const pass = sweeper.tick();
    await sleep(200);
    expect(provider.callsOf('grant').filter((c) => c.grantId === b)).toEqual([]);

    // Leadership lost: the sweeper is stopped while its lane waits for the turn.
    const stopping = sweeper.stop();
    const before = provider.calls.length;
    release();
    await Promise.all([reading, pass, stopping]);
    await reconciler.stop();
    // It started no provider call after the stop (docs/replicas.md: "starts nothing else").
    expect(provider.calls.slice(before).filter((c) => c.grantId === b)).toEqual([]);
  });

  it('reconciler: a read-back waiting for the sweeper’s turn is not made after stop()', async () => {
    const provider = new RecordingProvider(); // shared
    const { sweeper, reconciler } = jobsOn(h.core, provider);
    const e = await file(h.core, 'U1');
    await sweeper.tick();
    h.clock.advance(30 * MIN);
    await sweeper.tick();
    expect((await h.core.grant(e))!.status).toBe('revoked');
    h.clock.advance(1000);
    const a = await file(h.core, 'U1');
    await sweeper.tick();
    expect((await h.core.grant(a))!.status).toBe('active');

    // a expires; the sweeper's revoke of it (in its turn on U1's access) is slow.
    h.clock.advance(30 * MIN);
    const { release, reached } = holdFirst(
      provider,
      (action, id) => action === 'revoke' && id === a,
    );
    const pass = sweeper.tick();
    await reached;
    // The reconciler's read-back of e (ended, due for its recheck) waits for that turn.
    const reading = reconciler.run();
    await sleep(200);
    const stopping = reconciler.stop();
    const before = provider.calls.length;
    release();
    await Promise.all([reading, pass, stopping]);
    await sweeper.stop();
    expect(provider.calls.slice(before).filter((c) => c.grantId === e)).toEqual([]);
  });
});
