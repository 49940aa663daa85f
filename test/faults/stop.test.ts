import { startBotWorld, type BotWorld } from './support/bot-world';
import { scalar, waitFor } from './support/system';

/**
 * A graceful stop (SIGTERM, as a deploy or `systemctl stop` sends) while Slack does not answer:
 * the bot finishes what it can, gives up on Slack after its call timeout, and exits cleanly,
 * rather than waiting for the supervisor's SIGKILL.
 */
describe('the bot stopped with SIGTERM while Slack does not answer', () => {
  let world: BotWorld;
  beforeEach(async () => (world = await startBotWorld()));
  afterEach(() => world?.stop());

  it('gives up on the hung reply after the call timeout and exits 0; the request stays filed', async () => {
    const sent = await world.people.command(
      'UREQ',
      'request prod-db 2s investigating INC-13 slow queries',
      { replyHangs: true },
    );
    expect(sent.status).toBe(200);
    await waitFor(() => scalar<string>(world.sql, 'SELECT id FROM requests'), 'the request');
    await world.outboxDrained();

    // Without a bound the stop would wait on the reply for minutes, past this test's timeout.
    world.bot.signal('SIGTERM');
    expect(await world.bot.exited).toEqual({ code: 0, signal: null });
    expect(world.bot.logs.map((l) => l.message)).toContain('could not answer /jit');
    expect(await scalar(world.sql, "SELECT count(*) FROM requests WHERE status = 'pending'")).toBe(
      1,
    );
    await world.converged();
  }, 60_000);
});
