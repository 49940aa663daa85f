import { auditBench } from './audit';
import { sweeperBench } from './sweeper';
import { table, writeResults, type Row } from './report';

async function main(): Promise<void> {
  const quick = process.argv.includes('--quick');
  const rows: Row[] = [];
  const notes: string[] = [];
  const step = async (name: string, run: () => Promise<Row[]>) => {
    process.stderr.write(`bench: ${name}…\n`);
    rows.push(...(await run()));
  };
  await step('audit', () => auditBench(quick ? 100_000 : 1_000_000));
  await step('sweeper', () => sweeperBench(quick ? 20_000 : 100_000, quick ? 2_000 : 10_000));
  console.log(table(rows));
  writeResults(rows, notes);
}

void main();
