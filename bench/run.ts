import { auditBench } from './audit';
import { digestBench } from './digest';
import { footprintBench } from './footprint';
import { lagBench } from './lag';
import { load, table, writeResults, type Row } from './report';
import { slackPathBench } from './slack-path';
import { sweeperBench } from './sweeper';

interface Step {
  name: string;
  run(quick: boolean): Promise<Row[]>;
}

/** Each bench is one step; a new one is added here. */
const STEPS: Step[] = [
  {
    name: 'audit',
    run: (quick) =>
      auditBench({
        appendEvents: quick ? 5_000 : 20_000,
        verifyEvents: quick ? 300_000 : 1_000_000,
        rounds: quick ? 3 : 5,
      }),
  },
  {
    name: 'sweeper',
    run: (quick) =>
      sweeperBench({
        active: quick ? 20_000 : 100_000,
        expired: quick ? 2_000 : 10_000,
        rounds: 3,
      }),
  },
  { name: 'lag', run: (quick) => lagBench({ grants: 1_000, rounds: quick ? 1 : 3 }) },
  {
    name: 'digest',
    run: (quick) => digestBench({ events: quick ? 200_000 : 1_000_000, rounds: quick ? 1 : 3 }),
  },
  { name: 'slack-path', run: slackPathBench },
  { name: 'footprint', run: footprintBench },
];

async function main(): Promise<void> {
  const quick = process.argv.includes('--quick');
  const loadAtStart = load();
  const rows: Row[] = [];
  for (const step of STEPS) {
    process.stderr.write(`bench: ${step.name}…\n`);
    rows.push(...(await step.run(quick)));
  }
  console.log(table(rows));
  writeResults(rows, quick, loadAtStart);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
