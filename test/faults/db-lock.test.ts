import { startBotWorld, type BotWorld } from './support/bot-world';
import { DbLock } from './support/db-lock';
import { scalar, waitFor } from './support/system';
import type { Sent } from './support/traffic';

/** The bot's SQLite busy timeout (src/store/sqlite/store.ts). */
const BUSY_TIMEOUT_MS = 5000;

/**
 * Another program holds the bot's database file while people use Hallpass: a long read (an
 * export), or the write lock for less or more than the bot's busy timeout. No request is lost,
 * the bot does not crash, and nothing is half-written; past the timeout the person is told to
 * try again, and nothing of theirs was recorded.
 */
describe('the database held by another program', () => {
  let world: BotWorld;
  let lock: DbLock;
  beforeEach(async () => {
    world = await startBotWorld();
    lock = new DbLock(world.file);
  });
  afterEach(async () => {
    lock?.close();
    await world?.stop();
  });

  const count = (sql: string, ...params: unknown[]) => scalar<number>(world.sql, sql, ...params);
  const filedFor = (sent: Sent) =>
    count('SELECT count(*) FROM requests WHERE client_key = ?', `command:${sent.triggerId}`);
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

  /** People asking for the sandbox at once; each gets a 2 s grant when it goes through. */
  function askAtOnce(users: string[]): Promise<Sent[]> {
    return Promise.all(
      users.map((user) => world.people.command(user, `request sandbox 2s drill for ${user} today`)),
    );
  }

  async function grantsFor(n: number): Promise<void> {
    await waitFor(async () => (await count('SELECT count(*) FROM grants')) === n, `${n} grants`);
  }

  it('a long read (an export) changes nothing: requests, approvals and expiries go through meanwhile', async () => {
    expect(lock.holdRead()).toBe(0);
    const gated = await world.people.command('UREQ', 'request prod-db 2s checking INC-11 now');
    const requestId = await waitFor(
      () => scalar<string>(world.sql, "SELECT id FROM requests WHERE resource_id = 'prod-db'"),
      'the request',
    );
    await world.people.approve('ULEAD', requestId);
    const auto = await askAtOnce(['UA1', 'UA2']);
    await grantsFor(3);
    await world.converged();
    expect(await gated.reply()).toContain(requestId);
    for (const sent of auto) expect(await sent.reply()).toMatch(/needs no approval/);
    // The export still reads the file as it was when it began.
    expect(lock.requestsSeen()).toBe(0);
    lock.release();
  });

  it('the write lock for less than the busy timeout: the bot answers meanwhile, requests wait for it, then all go through', async () => {
    lock.holdWrite();
    let held = true;
    const released = sleep(BUSY_TIMEOUT_MS - 2000).then(() => {
      held = false;
      lock.release();
    });
    const sent = await askAtOnce(['UA1', 'UA2', 'UA3', 'UA4']);
    // The changes wait for the lock off the event loop: once they are waiting, /healthz still
    // answers while the lock is held (a blocking wait answered it only after the release).
    await sleep(500);
    expect((await fetch(`${world.bot.url}/healthz`)).status).toBe(200);
    expect(held).toBe(true);
    expect(await Promise.all(sent.map(filedFor))).toEqual([0, 0, 0, 0]);
    await released;
    expect(sent.map((s) => s.status)).toEqual([200, 200, 200, 200]);
    for (const s of sent) expect(await s.reply()).toMatch(/needs no approval/);
    expect(await Promise.all(sent.map(filedFor))).toEqual([1, 1, 1, 1]);
    await world.converged();
  });

  it('the write lock for longer than the busy timeout: those who waited too long are told to try again, nothing of theirs is recorded, the retry works, and a grant that expired meanwhile ends', async () => {
    const [holder] = await askAtOnce(['UHOLD']);
    expect(await holder!.reply()).toMatch(/needs no approval/);
    await waitFor(
      async () => (await count("SELECT count(*) FROM grants WHERE status = 'active'")) === 1,
      'a running grant',
    );
    await world.outboxDrained();
    lock.holdWrite();
    const released = sleep(BUSY_TIMEOUT_MS + 3000).then(() => lock.release());
    const sent = await askAtOnce(['UA1', 'UA2', 'UA3']);
    await released;
    expect(sent.map((s) => s.status)).toEqual([200, 200, 200]);
    const replies = await Promise.all(sent.map((s) => s.reply()));
    const refused = sent.filter((_, i) => !/needs no approval/.test(replies[i]!));
    expect(refused.length).toBeGreaterThan(0);
    for (const [i, s] of sent.entries()) {
      const ok = /needs no approval/.test(replies[i]!);
      expect({ reply: replies[i], filed: await filedFor(s) }).toEqual({
        reply: ok
          ? expect.any(String)
          : expect.stringMatching(/database is busy.*nothing was changed.*try again/i),
        filed: ok ? 1 : 0,
      });
    }

    const again = await askAtOnce(refused.map((_, i) => `UB${i + 1}`));
    for (const s of again) expect(await s.reply()).toMatch(/needs no approval/);
    await grantsFor(4);
    await world.converged();
    expect(world.bot.logs.some((l) => l.message === 'hallpass failed to start')).toBe(false);
    expect((await fetch(`${world.bot.url}/healthz`)).status).toBe(200);
  });

  it('the write lock taken as Slack accepts a post, held past the busy timeout: the post is not sent again', async () => {
    world.slack.beforeNextAnswer = () => {
      lock.holdWrite();
      setTimeout(() => lock.release(), BUSY_TIMEOUT_MS + 500);
    };
    const sent = await world.people.command('UREQ', 'request prod-db 2s checking INC-12 now');
    expect(await sent.reply()).toMatch(/is with the approvers in/);
    await waitFor(() => !lock.holding, 'the lock to be released', 15_000);
    await world.outboxDrained();
    await world.converged();
    expect(world.slack.postsTo('CDBA')).toHaveLength(1);
    expect(world.slack.postsTo('UREQ')).toHaveLength(1);
  });
});
