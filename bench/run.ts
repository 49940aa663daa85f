import { APP_HOME_SIZES, appHomeBench } from './app-home';
import { auditBench } from './audit';
import { capacityBench, TRIES_PER_RATE } from './capacity';
import { flushDisk } from './disk';
import { digestBench } from './digest';
import { footprintBench } from './footprint';
import { LAG_SIZES, lagBench, lagRounds, SMALL_ROW_ROUNDS } from './lag';
import { failoverBench } from './failover';
import { postgresBench, postgresDigestBench } from './postgres';
import { BURST_SIZES, OUTBOX_SIZES, outboxBench, outboxBurstBench } from './outbox';
import { load, table, writeResults, writeSection, type Row } from './report';
import { SETTLE_TIMEOUT_MS, slackPathBench } from './slack-path';
import { IDLE_SIZES, sweeperBench } from './sweeper';

interface Step {
  name: string;
  /** How its figures and floors take turns, for the header of results.md. */
  method(quick: boolean): string;
  run(quick: boolean): Promise<Row[]>;
}

const rounds = (quick: boolean, full: number, fast: number) => (quick ? fast : full);

/** Rounds of the SQLite lag rows of 10,000 grants and of the slow receiver's row. */
const LARGE_LAG_ROUNDS = 5;

/** Each bench is one step; a new one is added here. */
const STEPS: Step[] = [
  {
    name: 'audit',
    method: (q) =>
      `append and verify alternate with their floors round by round, which goes first alternating (${rounds(q, 5, 3)} rounds, medians).`,
    run: (quick) =>
      auditBench({
        appendEvents: quick ? 5_000 : 20_000,
        verifyEvents: quick ? 300_000 : 1_000_000,
        rounds: quick ? 3 : 5,
      }),
  },
  {
    name: 'sweeper',
    method: () =>
      'revoke alternates with its floor, each round on a fresh copy of the seeded database (3 rounds, medians); each idle-tick row interleaves a pass and the same probes as bare statements in a fixed order, 50 times (medians).',
    run: (quick) =>
      sweeperBench({
        active: quick ? 20_000 : 100_000,
        expired: quick ? 2_000 : 10_000,
        rounds: 3,
        idleSizes: IDLE_SIZES(quick),
      }),
  },
  {
    name: 'lag',
    method: (q) =>
      `each size: an uncounted warm-up pair, then ${q ? '1 round' : `${SMALL_ROW_ROUNDS} rounds (${LARGE_LAG_ROUNDS} at 10,000 grants and in the row whose receiver answers after 20 ms)`} alternating which goes first, Hallpass (the sweeper started, real clock and webhook, the store opened as the process opens it, WAL checkpoints on their own thread) or the same calls straight at the receiver; the median of each percentile. A round ends once the receiver has seen every revoke and the database records them all. The receiver answers at once, except in the row where it answers each call after 20 ms, as a target system across a network would. The webhook declares nothing, so Hallpass treats its access as shared and reads each revoke back before its lane moves on, except in the last row, where it declares per-grant access: Hallpass then sends every due revoke before any read-back, and the floor makes the same calls in that order. Each side also says how long the main thread was on a CPU between the first revoke's arrival and the p99's (medians), read by the receiver's thread from Linux's schedstat at those two arrivals: when that is nearly all of the time between them, the thread was what held the calls back, and the p99 ratio is the ratio of the work each side did on it.`,
    run: async (quick) => [
      ...(await lagBench({
        grants: LAG_SIZES,
        rounds: quick ? () => 1 : lagRounds(LARGE_LAG_ROUNDS),
      })),
      ...(await lagBench({
        grants: [1_000],
        rounds: () => (quick ? 1 : LARGE_LAG_ROUNDS),
        answerAfterMs: 20,
      })),
      ...(await lagBench({
        grants: [1_000],
        rounds: quick ? () => 1 : lagRounds(LARGE_LAG_ROUNDS),
        isolation: 'per-grant',
      })),
    ],
  },
  {
    name: 'digest',
    method: (q) =>
      `the digest, then the read of its week, in a fixed order (${rounds(q, 3, 1)} rounds, medians); the chain watch's catch-up alternates with one walk of the same rows (${rounds(q, 3, 1)} rounds, fresh copies, medians); the CSV export is timed once, then the read of the same rows once (no rounds).`,
    run: (quick) => digestBench({ events: quick ? 200_000 : 1_000_000, rounds: quick ? 1 : 3 }),
  },
  {
    name: 'slack-path',
    method: (q) =>
      `the request path and bare Bolt alternate which goes first, ${rounds(q, 3, 1)} rounds after an uncounted warm-up round of each (medians); the two rows "with the process's jobs" run one round of the whole process after each pair (medians), their floor being the request path's rows above, measured at other moments.`,
    run: slackPathBench,
  },
  {
    name: 'capacity',
    method: (q) =>
      `one search per app and kind: after an uncounted warm-up trial at 100/s, fixed rates from 100/s doubling until one misses, then the gap halved three times, ${q ? 2 : 4} s of requests per trial on a fixed schedule, ${q ? 'one trial per rate' : `${TRIES_PER_RATE} trials per rate, judged by their median p99 and the most any dropped`}; the whole process (startHallpass) twice, once with requesters who never opened Home and once with requesters who all did (so every change to their requests draws it again), against bare Bolt, searched in that order for \`/jit request\` and in the reverse order for Approve. After each trial the bench waits until the process has done what the trial queued (no pending outbox row, no grant activating); how long that took after the last answer, at the rate that held, is told beside it (median of its trials), and a rate at which any trial's work was not done within ${SETTLE_TIMEOUT_MS / 1000} s does not hold. A \`/jit request\` acked but never recorded, and an Approve click whose request is still pending, count as dropped (both ack first; a change the store refused as busy is answered "try again").`,
    run: capacityBench,
  },
  {
    name: 'app-home',
    method: () =>
      'three series, by pending requests, by history and by the live grants the person holds; every size drawn in turn, 50 times (medians); the floor of each row is the smallest size of its series, so the ratio is how the cost grows.',
    run: (quick) => appHomeBench({ ...APP_HOME_SIZES(quick), draws: 50 }),
  },
  {
    name: 'outbox',
    method: (q) =>
      `each size seeded once (the burst rows: that many due, then 1,000 of them delivered and replaced), then claimed in turn, ${rounds(q, 50, 20)} times (medians; in a burst, each claim's rows delivered and replaced after it, untimed); the floor of each row is the smallest size, so the ratio is how the cost grows.`,
    run: async (quick) => [
      ...(await outboxBench({ sizes: OUTBOX_SIZES, claims: quick ? 20 : 50 })),
      ...(await outboxBurstBench({ sizes: BURST_SIZES, claims: quick ? 20 : 50 })),
    ],
  },
  {
    name: 'footprint',
    method: (q) =>
      `start-up alternates with the same start on an empty database, ${rounds(q, 3, 1)} rounds after an uncounted first start (medians); memory alternates with a bare node process holding the same database open (${rounds(q, 3, 1)} rounds, medians).`,
    run: footprintBench,
  },
  {
    name: 'postgres',
    method: () =>
      "the same kinds of rows on the PostgreSQL store, each row's rounds stated in its figure (bench/postgres.ts). Each database the step creates, empty or a copy, is checkpointed before it is used. Grants, requests and audit rows are seeded through SQLite and copied in, then vacuumed and analysed as autovacuum would have in service, except the lag rows' grants, copied in as they fall due. The request path's store lets 10,000 changes wait rather than the default 1,000 (HALLPASS_DATABASE_QUEUE): its 50 clients do not wait for the filing that follows each ack. The capacity search runs as in its own step, with requesters who never opened Home only, the process keeping the default queue: a filing or an Approve click it refused as busy counts as dropped.",
    run: postgresBench,
  },
  {
    name: 'postgres-digest',
    method: (q) =>
      `the digest step's rows over the dense week on the PostgreSQL store (the chain watch's pass made on a copy of the seeded database for the verified head): the digest, then the read of its week, in a fixed order, each on a fresh copy (TEMPLATE, checkpointed before it is used: PostgreSQL leaves a copy's pages dirty in its shared buffers), ${rounds(q, 3, 1)} rounds, medians.`,
    run: postgresDigestBench,
  },
  {
    name: 'failover',
    method: (q) => `${rounds(q, 5, 3)} rounds (bench/failover.ts).`,
    run: (quick) => failoverBench({ rounds: quick ? 3 : 5 }),
  },
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
  const started = Date.now();
  const rows: Row[] = [];
  const steps = STEPS.filter((s) => !only || only.includes(s.name));
  const methods: string[] = [];
  for (const step of steps) {
    process.stderr.write(`bench: ${step.name}… (${flushDisk()})\n`);
    rows.push(...(await step.run(quick)));
    methods.push(`- **${step.name}**: ${step.method(quick)}`);
  }
  console.log(table(rows));
  if (only)
    writeSection(rows, {
      quick,
      loadAtStart,
      methods,
      steps: steps.map((s) => s.name),
    });
  else
    writeResults(rows, {
      quick,
      loadAtStart,
      methods,
      steps: steps.map((s) => s.name),
      wallMs: Date.now() - started,
    });
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
