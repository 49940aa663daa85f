import type { Logger } from '../log';
import type { Store } from '../store';

/** How often the database is pinged, and how long a ping may take before it counts as down. */
const INTERVAL_MS = 2_000;
const TIMEOUT_MS = 2_000;

/**
 * Whether this process can reach its database right now, checked every couple of seconds and
 * on every health check. A replica that cannot reach it says so on /healthz (so the load
 * balancer stops sending it traffic) and answers Slack 503 rather than ack what it cannot record.
 */
export class DatabaseWatch {
  private reachable = true;
  private timer?: NodeJS.Timeout;

  constructor(
    private readonly store: Store,
    private readonly logger: Logger,
  ) {}

  get up(): boolean {
    return this.reachable;
  }

  start(): void {
    const loop = () => {
      void this.check().finally(() => {
        if (this.timer) this.timer = setTimeout(loop, INTERVAL_MS).unref();
      });
    };
    this.timer = setTimeout(loop, INTERVAL_MS).unref();
  }

  stop(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** Pings now; resolves with whether the database answered in time. */
  async check(): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer within ${TIMEOUT_MS} ms`)), TIMEOUT_MS);
    });
    let up: boolean;
    let error: string | undefined;
    try {
      await Promise.race([this.store.ping(), late]);
      up = true;
    } catch (err) {
      up = false;
      error = err instanceof Error ? err.message : String(err);
    } finally {
      clearTimeout(timer);
    }
    if (up !== this.reachable) {
      if (up) this.logger.info('the database answers again', { store: this.store.description });
      else
        this.logger.error('the database does not answer', { store: this.store.description, error });
    }
    this.reachable = up;
    return up;
  }
}
