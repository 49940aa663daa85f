import { Counter, Gauge } from 'prom-client';
import type { AuditRow, RequestRow } from '../core';
import type { Logger } from '../log';
import type { SlackCallObserver } from '../slack/slack-fetch';
import type { ChangeQueueCounts, OperationalGauges } from '../store';
import { countCommitted, Filings } from './committed';
import { Instruments, processMetrics, type JobName } from './instruments';

export { measuredProviders } from './providers';
export type { JobName } from './instruments';

export interface MetricsSources {
  /** The state to show, read from the store on each scrape. */
  gauges: (now: number) => Promise<OperationalGauges>;
  /** A decided request filed elsewhere, read for its kind and filing time. */
  requestOf: (id: string) => Promise<RequestRow | undefined>;
  /** Whether this replica runs the jobs that must run once. */
  leading: () => boolean;
  /** This process's changes waiting for the database, and refused past its queue's bound. */
  changeQueue: () => ChangeQueueCounts;
  now: () => number;
  logger: Logger;
}

/** One store read serves every gauge of a scrape; a scrape within a second reuses it. */
const SNAPSHOT_TTL_MS = 1000;

/**
 * Hallpass's /metrics: counters fed by committed audit events, provider calls and Slack calls;
 * gauges read from the store when Prometheus scrapes.
 */
export class HallpassMetrics {
  private readonly m = new Instruments();
  private readonly filings: Filings;
  private snapshot?: { at: number; read: Promise<OperationalGauges | undefined> };
  /** Counting runs after a commit, off its path; tests wait for it to settle. */
  private counting: Promise<void> = Promise.resolve();

  constructor(private readonly sources: MetricsSources) {
    this.filings = new Filings(sources.requestOf);
    const registers = [this.m.registry];
    const gauge = (
      name: string,
      help: string,
      value: (g: OperationalGauges, now: number) => number,
    ) =>
      new Gauge({
        name,
        help,
        registers,
        collect: async function (this: Gauge) {
          const read = await snapshot();
          if (read) this.set(value(read.gauges, read.now));
        },
      });
    const snapshot = () => this.read();
    new Gauge({
      name: 'hallpass_grants',
      help: 'Grants not over yet, by status (activating, active, revoking).',
      labelNames: ['status'] as const,
      registers,
      collect: async function (this: Gauge<'status'>) {
        const read = await snapshot();
        if (!read) return;
        for (const [status, n] of Object.entries(read.gauges.inFlight)) this.set({ status }, n);
      },
    });
    gauge(
      'hallpass_grants_overdue',
      'Grants still active or revoking after their expiry.',
      (g) => g.overdue.count,
    );
    gauge(
      'hallpass_grants_overdue_oldest_seconds',
      'Seconds since the expiry of the longest-overdue grant not yet revoked (0 when none).',
      (g, now) =>
        g.overdue.oldestExpiresAt === null ? 0 : (now - g.overdue.oldestExpiresAt) / 1000,
    );
    gauge(
      'hallpass_grant_retries_pending',
      'Grants whose last provider call failed, waiting for a retry.',
      (g) => g.retrying,
    );
    gauge(
      'hallpass_outbox_pending',
      'Slack notifications waiting to be delivered.',
      (g) => g.outbox.pending,
    );
    gauge(
      'hallpass_outbox_oldest_pending_seconds',
      'Age of the oldest notification waiting to be delivered (0 when none).',
      (g, now) => (g.outbox.oldestPendingAt === null ? 0 : (now - g.outbox.oldestPendingAt) / 1000),
    );
    gauge(
      'hallpass_outbox_dead',
      'Slack notifications given up on after their retries (see the notification.failed audit events).',
      (g) => g.outbox.dead,
    );
    new Gauge({
      name: 'hallpass_database_up',
      help: '1 when the last scrape could read the database, else 0.',
      registers,
      collect: async function (this: Gauge) {
        this.set((await snapshot()) ? 1 : 0);
      },
    });
    new Gauge({
      name: 'hallpass_database_changes_waiting',
      help: "This replica's changes waiting for their turn on the database.",
      registers,
      collect: function (this: Gauge) {
        this.set(sources.changeQueue().waiting);
      },
    });
    // The store counts refusals since it opened; the counter catches up on each scrape.
    let refusedSeen = 0;
    new Counter({
      name: 'hallpass_database_changes_refused_total',
      help: 'Changes refused before they began because too many already waited (HALLPASS_DATABASE_QUEUE): each one a request or job step told the database is busy.',
      registers,
      collect: function (this: Counter) {
        const refused = sources.changeQueue().refused;
        this.inc(refused - refusedSeen);
        refusedSeen = refused;
      },
    });
    new Gauge({
      name: 'hallpass_leader',
      help: '1 on the replica that runs the sweeper, the reconciler and the digest.',
      registers,
      collect: function (this: Gauge) {
        this.set(sources.leading() ? 1 : 0);
      },
    });
  }

  /** For Core.onCommit: counts what the change recorded, without holding the caller up. */
  committed = (events: readonly AuditRow[]): void => {
    if (events.length === 0) return;
    this.counting = this.counting
      .then(() => countCommitted(this.m, events, this.filings))
      .catch((err: unknown) => {
        this.sources.logger.warn('metrics could not count a change', { error: String(err) });
      });
  };

  /** Resolves once every committed change heard of so far is counted. */
  settled(): Promise<void> {
    return this.counting;
  }

  /** For the Slack client: a failed call to Slack. */
  slackFailed: SlackCallObserver = ({ method, error }) => {
    if (error === 'ratelimited') this.m.slackRateLimited.inc({ method });
    else this.m.slackErrors.inc({ method, error });
  };

  /** A job finished a run. */
  jobRan(job: JobName, outcome: string): void {
    this.m.jobRuns.inc({ task: job, outcome });
    this.m.jobLastRun.set({ task: job }, this.sources.now() / 1000);
  }

  get instruments(): Instruments {
    return this.m;
  }

  /** The text Prometheus scrapes, and its content type. */
  async exposition(): Promise<{ contentType: string; body: string }> {
    const own = await this.m.registry.metrics();
    const process = await processMetrics().metrics();
    return { contentType: this.m.registry.contentType, body: `${own}\n${process}` };
  }

  private read(): Promise<{ gauges: OperationalGauges; now: number } | undefined> {
    const now = this.sources.now();
    if (!this.snapshot || now - this.snapshot.at > SNAPSHOT_TTL_MS) {
      this.snapshot = {
        at: now,
        read: this.sources.gauges(now).catch((err: unknown) => {
          this.sources.logger.warn('metrics could not read the database', { error: String(err) });
          return undefined;
        }),
      };
    }
    const { at, read } = this.snapshot;
    return read.then((gauges) => gauges && { gauges, now: at });
  }
}
