import { join } from 'node:path';
import { startHallpass, type RunningHallpass } from '../../../src/app';
import { parseEnv } from '../../../src/config/env';
import { parseConfig } from '../../../src/config/load';
import { logger } from '../../../src/log';
import { openStore, type Store } from '../../../src/store';
import { sqliteInspector, type SqlInspector } from '../../support/sql-inspector';
import { FakeSlack } from '../../support/fake-slack';
import { tempDir } from '../../support/tmp';
import { WebhookReceiver } from '../../support/webhook-receiver';
import { OffsetClock } from './clock';
import { assertConverged, type ConvergenceCheck } from './converged';
import { SlackLedger } from './slack-ledger';
import {
  BOT_TOKEN,
  faultConfig,
  HOOK_SECRET,
  SIGNING_SECRET,
  SlackTraffic,
  USERGROUPS,
} from './traffic';

/** Hallpass composed in this process as main.ts composes it, around fakes that fail on demand. */
export interface FaultSystem {
  fake: FakeSlack;
  slack: SlackLedger;
  receiver: WebhookReceiver;
  clock: OffsetClock;
  hallpass: RunningHallpass;
  /** Plain SQL on the bot's database, on a connection of its own. */
  sql: SqlInspector;
  people: SlackTraffic;
  /** Waits for the system to settle and checks it converged (see assertConverged). */
  converged(options?: Partial<ConvergenceCheck>): Promise<void>;
  stop(): Promise<void>;
}

export async function startSystem(
  options: Omit<Parameters<typeof faultConfig>[0], 'hookUrl'> = {},
): Promise<FaultSystem> {
  const fake = await new FakeSlack().start();
  fake.usergroups = USERGROUPS;
  const slack = new SlackLedger(fake);
  const receiver = await new WebhookReceiver(HOOK_SECRET).start();
  const tmp = tempDir('hallpass-faults-');
  const clock = new OffsetClock();
  const file = join(tmp.dir, 'hallpass.db');
  const parsed = parseEnv({
    SLACK_BOT_TOKEN: BOT_TOKEN,
    SLACK_SIGNING_SECRET: SIGNING_SECRET,
    SLACK_API_URL: fake.url,
    HALLPASS_DB: file,
    PORT: '0',
    HOST: '127.0.0.1',
  });
  if (!('env' in parsed)) throw new Error(parsed.problems.join('\n'));
  const config = parseConfig(faultConfig({ hookUrl: receiver.url, ...options }), { HOOK_SECRET });
  let hallpass: RunningHallpass;
  try {
    hallpass = await startHallpass({ env: parsed.env, config, configDir: tmp.dir, logger, clock });
  } catch (err) {
    await Promise.all([receiver.stop(), fake.stop()]);
    tmp.cleanup();
    throw err;
  }
  const sql = sqliteInspector(file);
  const reader: Store = await openStore({ file }, { readonly: true });
  return {
    fake,
    slack,
    receiver,
    clock,
    hallpass,
    sql,
    people: new SlackTraffic(`http://127.0.0.1:${hallpass.port}`, fake),
    converged: (check) =>
      assertConverged({ sql, store: reader, receiver, slack, now: () => clock.now(), ...check }),
    stop: async () => {
      // Hung calls are let go first, so nothing waits for an answer that never comes.
      fake.clearFaults();
      receiver.clearFaults();
      await hallpass.stop();
      await reader.close();
      await sql.close();
      await Promise.all([receiver.stop(), fake.stop()]);
      tmp.cleanup();
    },
  };
}

/** Polls `probe` until it returns something truthy. */
export async function waitFor<T>(
  probe: () => T | undefined | null | false | Promise<T | undefined | null | false>,
  what: string,
  timeoutMs = 15_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = await probe();
    if (found) return found;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** One value from the bot's database. */
export function scalar<T = unknown>(
  sql: SqlInspector,
  text: string,
  ...params: unknown[]
): Promise<T> {
  return sql.value<T>(text, ...params);
}
