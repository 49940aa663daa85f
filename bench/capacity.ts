import { logger } from '../src/log';
import { median } from './measure';
import { fmt, percentile, type Row } from './report';
import {
  bareBoltTarget,
  composedTarget,
  LoadThread,
  type ComposedDb,
  type Kind,
  type LoadResult,
  type Target,
  SETTLE_TIMEOUT_MS,
  Unsettled,
} from './slack-path';

/** The ack must come within this, at the 99th percentile, for a rate to count as sustained. */
const P99_LIMIT_MS = 100;
/** Slack gives up on a request not acked within 3 s: later than that counts as dropped. */
const SLACK_GIVES_UP_MS = 3_000;
const START_RATE = 100;
/** One loopback load thread cannot send much faster than this; the search stops here. */
const MAX_RATE = 3_200;
const TARGET_RATE = 500;
/** Tries of each rate in a full run; its verdict is their median p99 (quick runs try once). */
export const TRIES_PER_RATE = 3;
/** Closed-loop clients that file the requests an Approve trial clicks on (not measured). */
const FILING_CLIENTS = 20;
/**
 * Filings sent before the process is let finish them. `/jit` acks before its request is filed,
 * so closed-loop clients outrun the filings; more than the store lets wait (1,000 changes by
 * default) would be refused as busy, and the trial would find fewer requests than it clicks.
 */
const FILING_CHUNK = 500;

interface Trial {
  rate: number;
  p99: number;
  dropped: number;
  /** From the last answer until the work the trial queued (grants, Slack deliveries) was done. */
  behindMs: number;
  /** Whether that work was done at all within the bench's wait for it. */
  settled: boolean;
}

interface Search {
  /** The highest rate that held, or 0 when even the first did not. */
  sustained: number;
  /** The lowest rate that did not hold (undefined when the search reached MAX_RATE). */
  failedAt?: Trial;
  atSustained?: Trial;
  trials: number;
}

function judge(
  rate: number,
  result: LoadResult,
  behindMs: number,
  settled: boolean,
  unrecorded: number,
): Trial {
  const sorted = [...result.latencies].sort((a, b) => a - b);
  const late = sorted.filter((ms) => ms > SLACK_GIVES_UP_MS).length;
  return {
    rate,
    p99: percentile(sorted, 99),
    dropped: result.failures + late + unrecorded,
    behindMs,
    settled,
  };
}

/** How long a trial's last filings or decisions may take to be recorded once its work is done. */
const RECORD_WAIT_MS = 5_000;

/**
 * How many of a trial's commands were never recorded, as `missing` counts them. `/jit` and
 * Approve both ack first: a filing or a decision the store refused (too many changes waiting)
 * was still answered 200, its reply saying "busy, try again", and is dropped all the same,
 * while the last of a trial's may still be on their way.
 */
async function unrecordedOf(missing: () => Promise<number>): Promise<number> {
  const deadline = Date.now() + RECORD_WAIT_MS;
  for (;;) {
    const left = await missing();
    if (left <= 0 || Date.now() > deadline) return Math.max(left, 0);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

function describeTrial(t: Trial): string {
  const behind = t.settled ? `done ${fmt(t.behindMs / 1000, 1)} s after` : 'not done';
  return `${fmt(t.rate)}/s: p99 ${fmt(t.p99, 1)} ms, ${fmt(t.dropped)} dropped, work ${behind}`;
}

const holds = (t: Trial) => t.p99 < P99_LIMIT_MS && t.dropped === 0 && t.settled;

/**
 * Waits for the work a trial queued. A rate whose work is not done within the wait does not
 * hold, however its acks did; the next trial still starts on an idle process.
 */
async function settledAfter(target: Target): Promise<boolean> {
  try {
    await target.settle();
    return true;
  } catch (err) {
    if (!(err instanceof Unsettled)) throw err;
    await target.settle();
    return false;
  }
}

/**
 * The highest fixed rate `target` acks `kind` at with p99 under 100 ms and nothing dropped:
 * after an uncounted warm-up trial, doubling from 100/s until a rate fails, then halving the gap
 * three times (to 1/8 of it), each rate judged by the median p99 of `repeats` tries.
 * Each trial sends `seconds` worth of requests on a fixed schedule (open loop: a request's
 * latency counts from when it was due, so a backlog shows), then lets the app finish its
 * background work before the next.
 */
async function searchRate(
  load: LoadThread,
  target: Target,
  kind: Kind,
  seconds: number,
  repeats: number,
  tag: string,
): Promise<Search> {
  let trials = 0;
  let sent = 0;
  const once = async (rate: number): Promise<Trial> => {
    const count = Math.round(rate * seconds);
    const ids =
      kind === 'approve'
        ? await filed(load, target, count, `${tag}-file-${sent}`)
        : Array.from({ length: count }, (_, i) => String(i));
    const recorded = kind === 'request' ? target.recorded?.bind(target) : undefined;
    // Each click decides its request: the bench's resource needs one approval.
    const undecided = kind === 'approve' ? target.undecided?.bind(target) : undefined;
    const before = (await recorded?.()) ?? 0;
    const result = await load.run({
      url: target.url,
      kind,
      ids,
      tag: `${tag}-${sent++}`,
      mode: { perSecond: rate },
    });
    const answered = Date.now();
    const settled = await settledAfter(target);
    const behindMs = Date.now() - answered;
    const missing = recorded
      ? async () => count - ((await recorded()) - before)
      : undecided && (() => undecided(ids));
    const unrecorded = missing ? await unrecordedOf(missing) : 0;
    const judged = judge(rate, result, behindMs, settled, unrecorded);
    // A search runs for many minutes: each trial is told as it ends.
    process.stderr.write(`  ${tag}: ${describeTrial(judged)}\n`);
    return judged;
  };
  // One trial decided a rate on its own before: a single pause of the machine could then fail a
  // rate that holds, and end the search low. Each rate is now tried `repeats` times, and judged
  // by the median p99 and the most requests any try dropped.
  const trial = async (rate: number, counted = true): Promise<Trial> => {
    const tries: Trial[] = [];
    for (let i = 0; i < repeats; i++) tries.push(await once(rate));
    if (counted) trials += repeats;
    return {
      rate,
      p99: median(tries.map((t) => t.p99)),
      dropped: Math.max(...tries.map((t) => t.dropped)),
      behindMs: median(tries.map((t) => t.behindMs)),
      settled: tries.every((t) => t.settled),
    };
  };
  // The first load an app sees also compiles its code paths and loads modules on first use: a
  // trial at the starting rate warms it up and is not counted.
  await trial(START_RATE, false);
  let good: Trial | undefined;
  let bad: Trial | undefined;
  for (let rate = START_RATE; rate <= MAX_RATE; rate *= 2) {
    const t = await trial(rate);
    if (!holds(t)) {
      bad = t;
      break;
    }
    good = t;
  }
  if (bad && good) {
    for (let i = 0; i < 3; i++) {
      const rate = Math.round((good.rate + bad.rate) / 2);
      const t = await trial(rate);
      if (holds(t)) good = t;
      else bad = t;
    }
  }
  return { sustained: good?.rate ?? 0, failedAt: bad, atSustained: good, trials };
}

/**
 * Files `count` requests (closed loop, not measured, `FILING_CHUNK` at a time) and returns their
 * ids for Approve.
 */
async function filed(
  load: LoadThread,
  target: Target,
  count: number,
  tag: string,
): Promise<string[]> {
  for (let from = 0; from < count; from += FILING_CHUNK) {
    const size = Math.min(FILING_CHUNK, count - from);
    const result = await load.run({
      url: target.url,
      kind: 'request',
      ids: Array.from({ length: size }, (_, i) => String(from + i)),
      tag: `${tag}-${from}`,
      mode: { clients: FILING_CLIENTS },
    });
    if (result.failures > 0) throw new Error(`${result.failures} filing requests failed`);
    await target.settle();
  }
  return target.approvable(count);
}

/**
 * `queues`: the app leaves work behind each ack, and how long after a trial's last answer that
 * work was done is told: a rate whose acks hold while the deliveries fall further behind is
 * not one the process keeps up with for long.
 */
function describe(s: Search, queues: boolean): string {
  const at = s.atSustained;
  const behind =
    at && queues ? `, its queued work done ${fmt(at.behindMs / 1000, 1)} s after the last ack` : '';
  const held = at ? `p99 ${fmt(at.p99, 1)} ms at it${behind}` : 'no rate held';
  const unsettled =
    s.failedAt?.settled === false
      ? `, its queued work not done ${fmt(SETTLE_TIMEOUT_MS / 1000)} s after the last ack`
      : '';
  const failed = s.failedAt
    ? `; ${fmt(s.failedAt.rate)}/s missed (p99 ${fmt(s.failedAt.p99, 1)} ms, ${fmt(s.failedAt.dropped)} dropped${unsettled})`
    : `; the load thread's ceiling of ${fmt(MAX_RATE)}/s was reached`;
  return `${fmt(s.sustained)} req/s (${held}${failed})`;
}

/**
 * Which app is searched first alternates by kind: the process whose requesters never opened
 * Home, bare Bolt, then the process whose requesters all did; the reverse for the next kind.
 */
const SEARCH_ORDER = ['mine', 'floor', 'opened'] as const;

const FIGURE: Record<Kind, string> = {
  request: '`/jit request`',
  approve: 'Approve click',
};

/** Another database for the process under test: its rows are labelled `bench`. */
export interface CapacityStore {
  bench: string;
  open(): Promise<ComposedDb>;
}

/**
 * Capacity: the highest fixed rate one replica (startHallpass: the Slack app, its jobs and the
 * outbox delivering to a fake Slack) acks `/jit request` and Approve at with p99 < 100 ms and
 * nothing dropped, beside the same search on a bare Bolt app that only acks, in the same run.
 * Home is drawn again on each change only for people who opened it, so the process is searched
 * both ways: requesters who never did, and requesters who all did (SEARCH_ORDER). With `store`,
 * the process runs on the database it opens, searched only with requesters who never opened
 * Home: what the store changes is the same either way, and each search takes minutes.
 */
export async function capacityBench(quick: boolean, store?: CapacityStore): Promise<Row[]> {
  const seconds = quick ? 2 : 4;
  const repeats = quick ? 1 : TRIES_PER_RATE;
  const wasSilent = logger.silent;
  logger.silent = true;
  const load = await LoadThread.start();
  const replica = await composedTarget(load.world, false, store?.open);
  const homesOpened = store ? undefined : await composedTarget(load.world, true);
  const bare = await bareBoltTarget(load.world);
  try {
    const rows: Row[] = [];
    for (const [i, kind] of (['request', 'approve'] as const).entries()) {
      const searchOn = (t: Target, name: string) =>
        searchRate(load, t, kind, seconds, repeats, name);
      const searches = {
        mine: () => searchOn(replica, `replica-${kind}`),
        floor: () => searchOn(bare, `bare-${kind}`),
        opened: homesOpened && (() => searchOn(homesOpened, `opened-${kind}`)),
      };
      const order = i % 2 === 0 ? SEARCH_ORDER : [...SEARCH_ORDER].reverse();
      const found: Partial<Record<keyof typeof searches, Search>> = {};
      for (const name of order) found[name] = await searches[name]?.();
      const floor = found.floor!;
      const row = (mine: Search, whose: string): Row => ({
        bench: store?.bench ?? 'capacity',
        figure: `${FIGURE[kind]}: highest fixed rate with ack p99 < ${P99_LIMIT_MS} ms and none dropped, one replica with its jobs, ${whose} (${seconds} s per trial, ${repeats} per rate, ${mine.trials} trials)`,
        value: describe(mine, true),
        floor: `${describe(floor, false)} (bare Bolt, ack only)`,
        ratio: floor.sustained > 0 ? `${fmt((mine.sustained / floor.sustained) * 100)}%` : '—',
        target: `≥ ${fmt(TARGET_RATE)} req/s`,
        met: mine.sustained >= TARGET_RATE,
      });
      rows.push(row(found.mine!, 'no requester has opened Home'));
      if (found.opened)
        rows.push(row(found.opened, 'every requester has opened Home, so it is drawn again'));
    }
    return rows;
  } finally {
    await bare.stop();
    await homesOpened?.stop();
    await replica.stop();
    await load.stop();
    logger.silent = wasSilent;
  }
}
