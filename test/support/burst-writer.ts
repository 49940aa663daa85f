/**
 * A second process that writes to a Hallpass SQLite database as fast as it can, through the real
 * core: requests filed and auto-approved, each a transaction with its audit events. Run with tsx:
 * `tsx test/support/burst-writer.ts <db file>`. It prints `committed N` after every 20 requests
 * and stops on SIGTERM.
 */
import { parseConfig } from '../../src/config/load';
import { Core } from '../../src/core';
import { systemClock } from '../../src/core/clock';
import { StaticDirectory } from '../../src/core/directory';
import { openStore } from '../../src/store';
import { BASE_CONFIG } from './core';

async function main(file: string): Promise<void> {
  const store = await openStore({ file }, { busyTimeoutMs: 5000 });
  const core = new Core({
    store,
    clock: systemClock,
    config: parseConfig(BASE_CONFIG, {}),
    directory: new StaticDirectory(),
  });
  let stopping = false;
  process.on('SIGTERM', () => (stopping = true));
  for (let n = 1; !stopping; n++) {
    // A requester per request: no filing limit is reached however long the burst runs.
    await core.createRequest({
      requester: `UB${n}`,
      resourceId: 'auto',
      duration: '30m',
      justification: 'burst of writes during a backup',
    });
    if (n % 20 === 0) process.stdout.write(`committed ${n}\n`);
  }
  await store.close();
}

void main(process.argv[2]!).then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`${String(err)}\n`);
    process.exit(1);
  },
);
