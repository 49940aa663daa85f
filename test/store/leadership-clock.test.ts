import { Writable } from 'node:stream';
import winston from 'winston';
import { openStore, type Leadership } from '../../src/store';
import { slowProxy } from '../support/slow-proxy';
import { freshStore, type TestStore } from '../support/stores';

/**
 * Leases are written with the leader's clock and read with the next leader's: a grant call's
 * fence is the caller's now plus twice the provider's timeout, and a replica whose clock runs
 * ahead by more than that margin would take the fence as over while the call is still out, and
 * revoke (and record revoked) a grant whose call then lands. So a replica leads only while its
 * clock agrees with the database server's.
 */
describe('PostgreSQL leadership and the replica clock', () => {
  let t: TestStore;
  let logs: string[];
  const held: Leadership[] = [];
  const logger = () =>
    winston.createLogger({
      format: winston.format.json(),
      transports: [
        new winston.transports.Stream({
          stream: new Writable({
            write(chunk, _encoding, done) {
              logs.push(String(chunk));
              done();
            },
          }),
        }),
      ],
    });

  beforeEach(async () => {
    t = await freshStore('postgres');
    logs = [];
  });
  afterEach(async () => {
    for (const l of held.splice(0)) await l.stop();
    await t.close();
  });

  async function campaign(store = t.store, now?: () => number, intervalMs = 50) {
    const leadership = store.leadership({ intervalMs, ...(now && { now }) });
    held.push(leadership);
    const changes: boolean[] = [];
    await leadership.start((leader) => changes.push(leader));
    return { leadership, changes };
  }

  it('a replica whose clock is 12 s ahead does not lead, and says why', async () => {
    const store = await openStore(t.location, { logger: logger() });
    try {
      const ahead = await campaign(store, () => Date.now() + 12_000);
      const complaints = () =>
        logs
          .map((line) => JSON.parse(line) as { message: string; skewMs?: number })
          .filter((l) => l.message.includes('clock is off'));
      // Waited for rather than timed: on a loaded machine the first connections can outlast the
      // 100 ms a 50 ms heartbeat allows them, and a look that never happened says nothing.
      await until(() => complaints().length > 0);
      // A few more heartbeats, each looking again: still not leading, and said only once.
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect(ahead.leadership.isLeader).toBe(false);
      expect(ahead.changes).toEqual([]);
      const complaint = complaints();
      expect(complaint).toHaveLength(1);
      expect(complaint[0]!.skewMs).toBeGreaterThan(11_000);

      // A replica whose clock agrees takes the lead meanwhile.
      const agreeing = await campaign();
      await until(() => agreeing.leadership.isLeader);
    } finally {
      for (const l of held.splice(0)) await l.stop();
      await store.close();
    }
  });

  it('a leader whose clock drifts gives the lead up, and takes it again once it agrees', async () => {
    let drift = 0;
    const { leadership, changes } = await campaign(t.store, () => Date.now() + drift);
    await until(() => leadership.isLeader);
    drift = -5_000;
    await until(() => !leadership.isLeader);
    drift = 0;
    await until(() => leadership.isLeader);
    expect(changes).toEqual([true, false, true]);
  });

  /** The test's database behind a proxy that can slow its answers down. */
  async function behindProxy() {
    const url = new URL(t.location.databaseUrl!);
    const proxy = await slowProxy({ host: url.hostname, port: Number(url.port || 5432) });
    url.hostname = '127.0.0.1';
    url.port = String(proxy.port);
    const store = await openStore({ file: '', databaseUrl: url.toString() });
    return {
      proxy,
      store,
      close: async () => {
        for (const l of held.splice(0)) await l.stop();
        await store.close();
        await proxy.close();
      },
    };
  }

  it('counts the round trip against the replica: 0.6 s behind, seen over 300 ms, is too far', async () => {
    const slow = await behindProxy();
    try {
      let drift = 0;
      const { leadership, changes } = await campaign(slow.store, () => Date.now() + drift, 1_000);
      await until(() => leadership.isLeader);
      // Only the answers are held back: the server reads its clock as the question arrives, so the
      // replica sees it 150 ms nearer its own than it is, and 450 ms off could pass for 300 ms.
      slow.proxy.state.delay = 300;
      drift = -600;
      await until(() => !leadership.isLeader);
      expect(changes).toEqual([true, false]);
    } finally {
      await slow.close();
    }
  });

  it('does not lead before a look that can tell: 12 s ahead, first seen over a slow database', async () => {
    const slow = await behindProxy();
    try {
      slow.proxy.state.delay = 600;
      // Heartbeats every 4 s: the first look is slow, and the next one is not due in this test.
      const ahead = await campaign(slow.store, () => Date.now() + 12_000, 4_000);
      expect(ahead.leadership.isLeader).toBe(false);
      expect(ahead.changes).toEqual([]);
    } finally {
      await slow.close();
    }
  });

  it('keeps its verdict while the database answers too slowly to tell', async () => {
    const slow = await behindProxy();
    try {
      // Heartbeats every second: the leadership queries time out only after two intervals.
      const { leadership, changes } = await campaign(slow.store, undefined, 1_000);
      await until(() => leadership.isLeader);
      slow.proxy.state.delay = 700;
      // Several heartbeats at 700 ms a round trip: none can tell, so none changes anything.
      await new Promise((resolve) => setTimeout(resolve, 3_500));
      expect(leadership.isLeader).toBe(true);
      expect(changes).toEqual([true]);
    } finally {
      await slow.close();
    }
  });
});

async function until(what: () => boolean, ms = 5_000): Promise<void> {
  const end = Date.now() + ms;
  while (!what()) {
    if (Date.now() > end) throw new Error('timed out waiting');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
