/**
 * Another process on the same SQLite file, for test/store/store-port.test.ts: opens the store,
 * says `ready`, waits for a line on stdin, then counts up until the count reaches the target
 * (argv: file, grant id, target), and finally prints every count it wrote as JSON. After its first
 * count it says `started` and waits for a second line, so the parent's first count falls between
 * two of its own however the machine schedules the two processes.
 */
import { createInterface } from 'node:readline';
import { openStore } from '../../src/store';
import { countUp } from './rows';

async function main(): Promise<void> {
  const [file, grantId, target] = process.argv.slice(2);
  if (!file || !grantId || !target) throw new Error('usage: count-up-process <file> <grant> <n>');
  const store = await openStore({ file });
  const lines = createInterface({ input: process.stdin });
  const heard: string[] = [];
  let wake: (() => void) | undefined;
  lines.on('line', (line) => {
    heard.push(line);
    wake?.();
  });
  const hear = async (count: number) => {
    while (heard.length < count) await new Promise<void>((resolve) => (wake = resolve));
  };
  process.stdout.write('ready\n');
  await hear(1);
  const wrote: number[] = [];
  for (;;) {
    const count = await countUp(store, grantId, Number(target));
    if (count === undefined) break;
    if (wrote.push(count) === 1) {
      process.stdout.write('started\n');
      await hear(2);
      lines.close();
    }
    // Let the event loop turn between changes, as a bot serving requests would.
    await new Promise((resolve) => setImmediate(resolve));
  }
  await store.close();
  process.stdout.write(`${JSON.stringify(wrote)}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
