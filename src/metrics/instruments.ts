import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** Jobs whose runs are counted: an alert fires when the sweeper stops passing. */
export type JobName = 'sweeper' | 'reconcile' | 'digest';

/** Seconds, from a second to a day: how long an approver takes. */
const DECISION_BUCKETS = [1, 10, 30, 60, 300, 900, 1800, 3600, 4 * 3600, 12 * 3600, 24 * 3600];
/** Seconds past expiry before a revoke was confirmed: the exact timer makes most well under 1. */
const LAG_BUCKETS = [0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300, 900, 3600];
/** Seconds a provider call took, up to the longest timeout worth setting. */
const CALL_BUCKETS = [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

/**
 * Every metric Hallpass exports, on a registry of its own (several bots in one test process
 * must not share counters). Names follow Prometheus conventions: `_total` counters, base units.
 */
export class Instruments {
  readonly registry = new Registry();
  private readonly registers = [this.registry];

  readonly requestsFiled = new Counter({
    name: 'hallpass_requests_filed_total',
    help: 'Requests filed, by kind (access or extension).',
    labelNames: ['kind'] as const,
    registers: this.registers,
  });
  readonly requestsDecided = new Counter({
    name: 'hallpass_requests_decided_total',
    help: 'Requests that reached an outcome: approved, auto_approved, denied, cancelled or expired.',
    labelNames: ['outcome', 'kind'] as const,
    registers: this.registers,
  });
  readonly decisionSeconds = new Histogram({
    name: 'hallpass_decision_latency_seconds',
    help: 'From a request being filed to an approver approving or denying it (auto-approvals excluded).',
    labelNames: ['kind'] as const,
    buckets: DECISION_BUCKETS,
    registers: this.registers,
  });
  readonly grantsEnded = new Counter({
    name: 'hallpass_grants_ended_total',
    help: 'Grants whose revoke the provider confirmed, by why they ended.',
    labelNames: ['reason'] as const,
    registers: this.registers,
  });
  readonly revocationLagSeconds = new Histogram({
    name: 'hallpass_revocation_lag_seconds',
    help: 'For grants that ran out: seconds from expires_at to the confirmed revoke.',
    buckets: LAG_BUCKETS,
    registers: this.registers,
  });
  readonly providerCallSeconds = new Histogram({
    name: 'hallpass_provider_call_duration_seconds',
    help: 'Provider calls (grant, revoke, check) by provider instance and outcome (ok or error).',
    labelNames: ['provider', 'call', 'outcome'] as const,
    buckets: CALL_BUCKETS,
    registers: this.registers,
  });
  readonly providerFailures = new Counter({
    name: 'hallpass_provider_call_failures_total',
    help: 'Provider calls that failed or timed out, by provider instance and call.',
    labelNames: ['provider', 'call'] as const,
    registers: this.registers,
  });
  readonly slackErrors = new Counter({
    name: 'hallpass_slack_api_errors_total',
    help: 'Slack Web API calls answered with ok=false, an HTTP error or no answer, by method and error.',
    labelNames: ['method', 'error'] as const,
    registers: this.registers,
  });
  readonly slackRateLimited = new Counter({
    name: 'hallpass_slack_api_ratelimited_total',
    help: 'Slack Web API calls answered 429 (rate limited), by method.',
    labelNames: ['method'] as const,
    registers: this.registers,
  });
  readonly jobRuns = new Counter({
    name: 'hallpass_job_runs_total',
    help: 'Runs of the sweeper, the reconciler and the digest scheduler, by outcome.',
    // Not `job`: Prometheus gives that label to every target, and would rename this one.
    labelNames: ['task', 'outcome'] as const,
    registers: this.registers,
  });
  readonly jobLastRun = new Gauge({
    name: 'hallpass_job_last_run_timestamp_seconds',
    help: 'Unix time of the last finished run of each job on this replica (only the leader runs them).',
    labelNames: ['task'] as const,
    registers: this.registers,
  });
}

let processRegistry: Registry | undefined;

/**
 * The process's own metrics (CPU, memory, event loop lag, file descriptors), once per process:
 * their collectors observe the whole process and are never taken down again.
 */
export function processMetrics(): Registry {
  if (!processRegistry) {
    processRegistry = new Registry();
    collectDefaultMetrics({ register: processRegistry, prefix: 'hallpass_' });
  }
  return processRegistry;
}
