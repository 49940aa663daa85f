import { auditBench } from './audit';
import { digestBench } from './digest';
import { footprintBench } from './footprint';
import { lagBench } from './lag';
import { failoverBench } from './failover';
import { postgresBench } from './postgres';
import { load, table, writeResults, writeSection, type Row } from './report';
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
  { name: 'postgres', run: postgresBench },
  { name: 'failover', run: (quick) => failoverBench({ rounds: quick ? 3 : 5 }) },
];

/** `--only a,b`: the steps to run, or undefined for all of them. */
function selected(argv: readonly string[]): string[] | undefined {
  const at = argv.indexOf('--only');
  if (at < 0) return undefined;
  const names = (argv[at + 1] ?? '').split(',').filter(Boolean);
  const unknown = names.filter((name) => !STEPS.some((step) => step.name === name));
  if (names.length === 0 || unknown.length > 0)
    throw new Error(
      `--only takes step names separated by commas (${STEPS.map((s) => s.name).join(', ')}); not: ${unknown.join(', ') || '(none given)'}`,
    );
  return names;
}

async function main(): Promise<void> {
  const quick = process.argv.includes('--quick');
  const only = selected(process.argv);
  const loadAtStart = load();
  const rows: Row[] = [];
  const steps = STEPS.filter((s) => !only || only.includes(s.name));
  for (const step of steps) {
    process.stderr.write(`bench: ${step.name}…\n`);
    rows.push(...(await step.run(quick)));
  }
  console.log(table(rows));
  if (only)
    writeSection(
      rows,
      quick,
      loadAtStart,
      steps.map((s) => s.name),
    );
  else writeResults(rows, quick, loadAtStart);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
