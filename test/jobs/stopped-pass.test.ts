import { StaticDirectory } from '../../src/core/directory';
import type { Core } from '../../src/core';
import { BASE_CONFIG, coreHarness, type CoreHarness } from '../support/core';
import { jobsOf } from '../support/job-process';
import { lookupOf, RecordingProvider } from '../support/recording-provider';

const JUST = 'investigating INC-42 slow queries';
const MIN = 60_000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** One lane, so the order of the pass's calls is the order of its queue. */
const ONE_LANE = `${BASE_CONFIG}
sweeper:
  concurrency: 1
reconcile:
  concurrency: 1
`;

/**
 * A leader that loses leadership is stopped (LeaderJobs): its pass in progress finishes the calls
 * it has out and starts no more, as the next leader owns the work from then on. A call started
 * after the stop could cross one of the next leader's calls on the same shared access; that
 * includes a call that was waiting for a turn on shared access held by the other job.
 */
describe('a pass in progress when its job is stopped', () => {
  let h: CoreHarness;
  beforeEach(async () => {
    h = await coreHarness(ONE_LANE);
  });
  afterEach(async () => {
    await h.close();
  });

  function jobsOn(core: Core, provider: RecordingProvider) {
    return jobsOf(core, lookupOf({ hook: provider }), new StaticDirectory());
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

  /** Holds the first call matching `when` until released; resolves `reached` when it arrives. */
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

  it("sweeper: starts no revoke after the stop, so it cannot undo the next leader's grant", async () => {
    const provider = new RecordingProvider(); // shared: one access per person and resource
    const { sweeper: setup } = jobsOn(h.core, provider);
    const g1 = await file(h.core, 'U1');
    await setup.tick();
    // A second later: it expires a second after g1, behind it in the pass's queue.
    h.clock.advance(1000);
    const a = await file(h.core, 'U2');
    await setup.tick();
    expect(provider.present).toEqual(new Set(['U1/auto', 'U2/auto']));

    // Both expire; the leader's pass takes both, and its revoke of g1 is slow.
    h.clock.advance(30 * MIN + 1000);
    const { release, reached } = holdFirst(
      provider,
      (action, id) => action === 'revoke' && id === g1,
    );
    const { sweeper: leader1 } = jobsOn(h.core, provider);
    const pass1 = leader1.tick();
    await reached;

    // Leadership is lost: the jobs are stopped (waiting for the pass); another replica leads.
    const stopping = leader1.stop();
    const core2 = await h.another();
    const { sweeper: leader2 } = jobsOn(core2, provider);
    await leader2.tick();
    expect((await core2.grant(a))!.status).toBe('revoked');
    // The person asks again; the new leader gives them the access, two provider timeouts (1 s
    // each here) after it took over: a revoke of `a` the old leader had sent could land until then.
    const b = await file(core2, 'U2');
    await leader2.tick();
    expect((await core2.grant(b))!.status).toBe('activating');
    h.clock.advance(2_000);
    await leader2.tick();
    expect((await core2.grant(b))!.status).toBe('active');

    // The old leader's slow call answers: it finishes that one (and its read-back), nothing else.
    const callsBefore = provider.calls.length;
    release();
    await Promise.all([pass1, stopping]);
    await leader2.stop();
    expect(provider.calls.slice(callsBefore).filter((c) => c.grantId !== g1)).toEqual([]);
    expect((await core2.grant(b))!.status).toBe('active');
    expect(provider.present.has('U2/auto')).toBe(true);
  });

  it('reconciler: reads back nothing more after the stop', async () => {
    const provider = new RecordingProvider();
    const { sweeper } = jobsOn(h.core, provider);
    const g1 = await file(h.core, 'U1');
    const g2 = await file(h.core, 'U2');
    await sweeper.tick();
    await sweeper.stop();

    const { release, reached } = holdFirst(provider, (action) => action === 'check');
    const { reconciler } = jobsOn(h.core, provider);
    const running = reconciler.run();
    await reached;
    const stopping = reconciler.stop();
    release();
    const [findings] = await Promise.all([running, stopping]);
    expect(findings).toHaveLength(1);
    expect(provider.callsOf('check').map((c) => c.grantId)).toHaveLength(1);
    expect([g1, g2]).toContain(findings[0]!.grantId);
  });

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
