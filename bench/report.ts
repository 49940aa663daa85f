import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { STEP_START } from './disk';

/** One measured figure, with the floor it was measured against in the same run. */
export interface Row {
  bench: string;
  figure: string;
  value: string;
  floor: string;
  ratio: string;
  target: string;
  met: boolean | null;
}

export function fmt(n: number, digits = 0): string {
  return n.toLocaleString('en-US', {
    maximumFractionDigits: digits,
    minimumFractionDigits: digits,
  });
}

export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1]!;
}

export function table(rows: readonly Row[]): string {
  const header = ['bench', 'figure', 'value', 'floor (same run)', 'ratio', 'target', 'met'];
  const lines = rows.map((r) => [
    r.bench,
    r.figure,
    r.value,
    r.floor,
    r.ratio,
    r.target,
    r.met === null ? '—' : r.met ? 'yes' : 'NO',
  ]);
  const all = [header, ...lines];
  return all
    .map(
      (cells, i) =>
        `| ${cells.join(' | ')} |${i === 0 ? `\n|${header.map(() => ' --- ').join('|')}|` : ''}`,
    )
    .join('\n');
}

/** The 1-minute load average: how busy the machine was with others' work too. */
export function load(): string {
  return fmt(loadavg()[0]!, 1);
}

export interface RunInfo {
  quick: boolean;
  loadAtStart: string;
  /** How each bench that ran takes turns with its floors, one line each. */
  methods: string[];
  steps: string[];
  wallMs: number;
}

/**
 * A full run: its table becomes the head of results.md, replacing the previous full run's. The
 * sections after it (runs of some steps, earlier runs that docs quote) stay as they are; to keep
 * the previous full run too, move it into a section of its own before running.
 */
export function writeResults(rows: readonly Row[], run: RunInfo): string {
  const file = join(__dirname, 'results.md');
  const cpu = cpus()[0]?.model ?? 'unknown CPU';
  const command = run.quick ? '`npm run bench -- --quick` (smaller sizes)' : '`npm run bench`';
  const text = [
    '# Benchmark results',
    '',
    `Measured ${new Date().toISOString()} on ${availableParallelism()} cores (${cpu}), Node.js ${process.version}, by ${command} (benches: ${run.steps.join(', ')}); load average ${run.loadAtStart} at the start, ${load()} at the end; ${fmt(run.wallMs / 60_000, 1)} min of wall time.`,
    '',
    `Each figure is measured in the same run as its floor: the least the same work can cost (what it must read or write, with bare statements, or the same calls without Hallpass; for growth rows, the same at the smallest size). The ratio says how close the figure comes to it. ${STEP_START} How a figure and its floor take turns, by bench:`,
    '',
    ...run.methods,
    '',
    table(rows),
    '',
  ].join('\n');
  const before = existsSync(file) ? readFileSync(file, 'utf8') : '';
  const sections = before.indexOf('\n## ');
  const updated = sections < 0 ? text : `${text}${before.slice(sections)}`;
  writeFileSync(file, updated);
  return updated;
}

/**
 * A run of some steps only (`--only a,b`): its table goes in a section of results.md of its own,
 * replacing the section of an earlier run of the same steps, and leaves the rest of the file,
 * measured in other runs, as it is.
 */
export function writeSection(
  rows: readonly Row[],
  run: {
    quick: boolean;
    loadAtStart: string;
    methods: readonly string[];
    steps: readonly string[];
  },
): string {
  const { quick, loadAtStart, steps } = run;
  const file = join(__dirname, 'results.md');
  const cpu = cpus()[0]?.model ?? 'unknown CPU';
  const command = `\`npm run bench -- ${quick ? '--quick ' : ''}--only ${steps.join(',')}\``;
  const title = `## Steps ${steps.join(', ')}`;
  const section = [
    title,
    '',
    `Measured ${new Date().toISOString()} on ${availableParallelism()} cores (${cpu}), Node.js ${process.version}, by ${command}${quick ? ' (smaller sizes)' : ''}; load average ${loadAtStart} at the start, ${load()} at the end. Only these steps ran: this table is a run of its own, apart from any other table in this file. ${STEP_START} How a figure and its floor take turns, by bench:`,
    '',
    ...run.methods,
    '',
    table(rows),
    '',
  ].join('\n');
  const text = existsSync(file) ? readFileSync(file, 'utf8') : '# Benchmark results\n';
  const start = text.indexOf(`\n${title}\n`);
  const next = start < 0 ? -1 : text.indexOf('\n## ', start + 1);
  const updated =
    start < 0
      ? `${text.trimEnd()}\n\n${section}`
      : `${text.slice(0, start + 1)}${section}${next < 0 ? '' : text.slice(next)}`;
  writeFileSync(file, updated);
  return updated;
}
