import type { AuditRow } from '../../src/core';
import { countCommitted, Filings } from '../../src/metrics/committed';
import { Instruments } from '../../src/metrics/instruments';
import { coreHarness, type CoreHarness } from '../support/core';

/**
 * Counting a decision needs its request's kind and filing time. The replica that filed it
 * remembers them from the filing's event; a request filed elsewhere is read from the store.
 */
describe('decision metrics from committed changes', () => {
  let h: CoreHarness;
  let events: AuditRow[];
  let reads: string[];
  let filings: Filings;

  beforeEach(async () => {
    h = await coreHarness();
    events = [];
    h.core.onCommit((committed) => events.push(...committed));
    reads = [];
    filings = new Filings((id) => {
      reads.push(id);
      return h.store.requests.byId(id);
    });
  });
  afterEach(() => h.close());

  /** Files a request, and approves it 90 s later; the events of each, apart. */
  const filedThenApproved = async () => {
    const request = await h.core.createRequest({
      requester: 'UREQ',
      resourceId: 'prod-db',
      duration: '1h',
      justification: 'investigating INC-42 slow queries',
    });
    const filing = events.splice(0);
    h.clock.advance(90_000);
    await h.core.decide({ requestId: request.id, actor: 'ULEAD', decision: 'approve' });
    return { id: request.id, filing, decision: events.splice(0) };
  };

  const values = async (m: Instruments) => ({
    approved: (await m.requestsDecided.get()).values.find(
      (v) => v.labels.outcome === 'approved' && v.labels.kind === 'access',
    )?.value,
    latency: (await m.decisionSeconds.get()).values
      .filter((v) => v.labels.kind === 'access')
      .map((v) => [v.metricName, v.value]),
  });

  it('counts a decision on a request this replica filed without reading the request back', async () => {
    const m = new Instruments();
    const { filing, decision } = await filedThenApproved();
    await countCommitted(m, filing, filings);
    await countCommitted(m, decision, filings);
    expect(reads).toEqual([]);
    const { approved, latency } = await values(m);
    expect(approved).toBe(1);
    expect(latency).toContainEqual(['hallpass_decision_latency_seconds_sum', 90]);
    expect(latency).toContainEqual(['hallpass_decision_latency_seconds_count', 1]);
  });

  it('reads a request filed elsewhere (another replica, before a restart) once, for the same figures', async () => {
    const m = new Instruments();
    const { id, decision } = await filedThenApproved();
    await countCommitted(m, decision, filings);
    expect(reads).toEqual([id]);
    const { approved, latency } = await values(m);
    expect(approved).toBe(1);
    expect(latency).toContainEqual(['hallpass_decision_latency_seconds_sum', 90]);
  });

  it('forgets a filing once its request is decided', async () => {
    const m = new Instruments();
    const { id, filing, decision } = await filedThenApproved();
    await countCommitted(m, filing, filings);
    await countCommitted(m, decision, filings);
    await countCommitted(m, decision, filings);
    expect(reads).toEqual([id]);
  });
});
