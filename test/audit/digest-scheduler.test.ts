import { Core } from '../../src/core';
import { StaticDirectory } from '../../src/core/directory';
import { DigestScheduler } from '../../src/jobs/digest';
import { openDb, type Db } from '../../src/store/db';
import { BASE_CONFIG, coreHarness, type CoreHarness } from '../support/core';
import { WEEK_CONFIG } from './fixture-week';

const MONDAY_26 = Date.parse('2026-10-26T08:00:00Z'); // 09:00 CET
const KEY_19 = '2026-10-19T07:00:00.000Z';
const KEY_26 = '2026-10-26T08:00:00.000Z';

function state(db: Db) {
  const all = (sql: string) => db.$client.prepare(sql).all();
  return {
    digests: all('SELECT period_key, period_start, period_end, channel FROM digests ORDER BY 1'),
    outbox: all("SELECT key, topic, payload FROM outbox WHERE topic = 'digest' ORDER BY id"),
    audit: all(
      "SELECT actor, action, details FROM audit_events WHERE action = 'digest.queued' ORDER BY seq",
    ),
  };
}

describe('the digest scheduler', () => {
  let h: CoreHarness;
  const schedulers: DigestScheduler[] = [];
  const extraDbs: Db[] = [];
  const scheduler = (core = h.core) => {
    const s = new DigestScheduler(core);
    schedulers.push(s);
    return s;
  };
  /** Another process on the same file: its own connection and core, the same clock. */
  const anotherCore = () => {
    const db = openDb(h.file);
    extraDbs.push(db);
    return new Core({ db, clock: h.clock, config: h.config, directory: new StaticDirectory() });
  };

  beforeEach(() => {
    h = coreHarness(WEEK_CONFIG);
  });
  afterEach(async () => {
    for (const s of schedulers.splice(0)) await s.stop();
    for (const db of extraDbs.splice(0)) db.$client.close();
    h.close();
  });

  it('queues the period that ended while the bot was down, with its audit event', () => {
    h.clock.set(Date.parse('2026-10-27T10:00:00Z')); // back on Tuesday
    scheduler().start();
    const start = Date.parse(KEY_19);
    expect(state(h.db)).toEqual({
      digests: [
        { period_key: KEY_19, period_start: start, period_end: MONDAY_26, channel: 'CDIGEST' },
      ],
      outbox: [
        {
          key: `digest:${KEY_19}`,
          topic: 'digest',
          payload: JSON.stringify({
            topic: 'digest',
            channel: 'CDIGEST',
            periodStart: start,
            periodEnd: MONDAY_26,
          }),
        },
      ],
      audit: [
        {
          actor: 'hallpass',
          action: 'digest.queued',
          details: JSON.stringify({ channel: 'CDIGEST', periodEnd: MONDAY_26, periodStart: start }),
        },
      ],
    });
  });

  it('queues nothing more when restarted in the same week, by a new process', () => {
    h.clock.set(MONDAY_26 + 60_000);
    scheduler().start();
    h.clock.set(Date.parse('2026-10-30T12:00:00Z'));
    scheduler(anotherCore()).start();
    const after = state(h.db);
    expect(after.digests).toHaveLength(1);
    expect(after.outbox).toHaveLength(1);
    expect(after.audit).toHaveLength(1);
  });

  it('queues a period once when two schedulers on one database tick together', () => {
    h.clock.set(MONDAY_26);
    const a = scheduler();
    const b = scheduler(anotherCore());
    const results = [a.queue(MONDAY_26), b.queue(MONDAY_26), a.queue(MONDAY_26)];
    expect(results.filter(Boolean)).toHaveLength(1);
    expect(state(h.db).outbox).toHaveLength(1);
    expect(state(h.db).audit).toHaveLength(1);
  });

  it('queues each new week as its own period', () => {
    h.clock.set(MONDAY_26);
    scheduler().start();
    const next = Date.parse('2026-11-02T08:00:00Z');
    h.clock.set(next + 1000);
    scheduler(anotherCore()).start();
    expect(state(h.db).digests.map((d) => (d as { period_key: string }).period_key)).toEqual([
      KEY_19,
      KEY_26,
    ]);
  });

  it('runs on its cron schedule and stops cleanly', async () => {
    const everySecond = coreHarness(
      WEEK_CONFIG.replace("schedule: '0 9 * * 1'", "schedule: '* * * * * *'"),
    );
    try {
      const core = new Core({
        db: everySecond.db,
        clock: { now: () => Date.now() },
        config: everySecond.config,
        directory: new StaticDirectory(),
      });
      const s = scheduler(core);
      s.start();
      const count = () =>
        (everySecond.db.$client.prepare('SELECT count(*) AS n FROM digests').get() as { n: number })
          .n;
      const started = count();
      const deadline = Date.now() + 5000;
      while (count() === started && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      expect(count()).toBeGreaterThan(started);
      await s.stop();
    } finally {
      everySecond.close();
    }
  });

  it('does nothing without a digest section', () => {
    const plain = coreHarness(BASE_CONFIG);
    try {
      const s = new DigestScheduler(plain.core);
      schedulers.push(s);
      s.start();
      expect(s.queue(MONDAY_26)).toBe(false);
      expect(state(plain.db).digests).toEqual([]);
    } finally {
      plain.close();
    }
  });
});
