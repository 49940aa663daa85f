import type { Core } from '../core';
import type { Logger } from '../log';
import { describeError } from './provider-call';

export interface ChainWatchPass {
  /** Rows verified in this pass. */
  checked: number;
  steps: number;
  /** The longest step, in ms of wall time: how long the thread was held at most. */
  longestStepMs: number;
  head: number;
  broken?: { seq: number; problem: string };
}

/**
 * The leader's continuous check of the audit chain: every `audit.verifyEvery` it verifies the
 * rows appended since the verified head, `audit.verifyStep` rows at a time with the thread free
 * between two steps, and moves the head on. A row that does not match is audited and alerted to
 * the admins and the digest channel at once (once per break). The digest and `hallpass audit
 * verify --since-verified` then walk only what came after the head.
 */
export class ChainWatch {
  private timer?: NodeJS.Timeout;
  private running?: Promise<ChainWatchPass>;
  private stopped = false;
  /** The head this process last saw recorded: the checkpoint must not go back below it. */
  private notBelow = 0;

  constructor(private readonly deps: { core: Core; logger: Logger }) {}

  /** Starts watching; the first pass runs right after, without holding up the start. */
  start(): void {
    this.stopped = false;
    this.schedule(0);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.running?.catch(() => undefined);
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => void this.tick(), ms);
    this.timer.unref();
  }

  private async tick(): Promise<void> {
    try {
      await this.run();
    } catch (err) {
      this.deps.logger.error('audit chain watch failed; trying again later', {
        error: describeError(err),
      });
    }
    this.schedule(this.deps.core.config.audit.verifyEvery);
  }

  /** One pass: steps until the newest row is verified (or a break, or a stop). */
  run(): Promise<ChainWatchPass> {
    this.running ??= this.pass().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  private async pass(): Promise<ChainWatchPass> {
    const { core, logger } = this.deps;
    const pass: ChainWatchPass = { checked: 0, steps: 0, longestStepMs: 0, head: this.notBelow };
    for (;;) {
      const started = performance.now();
      const step = await core.verifyChainStep(core.config.audit.verifyStep, this.notBelow);
      pass.longestStepMs = Math.max(pass.longestStepMs, performance.now() - started);
      pass.steps++;
      pass.checked += step.checked;
      pass.head = this.notBelow = step.head.seq;
      if (step.broken) {
        pass.broken = step.broken;
        if (step.alerted) logger.error('the audit chain is broken', { ...step.broken });
        return pass;
      }
      if (step.caughtUp || this.stopped) return pass;
      // Let requests and other jobs run between two steps.
      await new Promise((resolve) => setImmediate(resolve));
    }
  }
}
