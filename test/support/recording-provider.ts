import type { ProviderLookup } from '../../src/jobs/provider-call';
import type {
  GrantResult,
  Provider,
  ProviderCallContext,
  ProviderGuarantees,
} from '../../src/providers/types';

export interface RecordedProviderCall {
  action: 'grant' | 'revoke' | 'check';
  grantId: string;
  userId: string;
  startsAt: number;
  expiresAt: number;
  state: unknown;
}

type Behaviour = 'ok' | 'fail' | 'hang';

/**
 * An in-memory provider that keeps a set of (user, resource) accesses, so tests can see what is
 * present, script failures and hangs, and count concurrent calls.
 */
export class RecordingProvider implements Provider {
  readonly calls: RecordedProviderCall[] = [];
  readonly present = new Set<string>();
  readonly plan: Behaviour[] = [];
  /** Shared access is keyed on the Slack user (see `key`), whatever their email. */
  readonly sharedPer = 'slack-user';
  credentials?: string;
  inFlight = 0;
  maxInFlight = 0;
  checkLies = false;
  /** Runs as each call arrives, before it is applied: a test holds a call here to race another. */
  onCall?: (call: RecordedProviderCall) => Promise<void>;

  /**
   * Holds the next `action` call for `grantId` before it is applied, as a slow target does, until
   * the returned function lets it go.
   */
  holdNext(action: RecordedProviderCall['action'], grantId: string): () => void {
    let letGo!: () => void;
    const released = new Promise<void>((resolve) => (letGo = resolve));
    this.onCall = async (call) => {
      if (call.action !== action || call.grantId !== grantId) return;
      this.onCall = undefined;
      await released;
    };
    return letGo;
  }

  constructor(
    readonly guarantees: ProviderGuarantees = {
      enforcesExpiry: false,
      endsOpenSessions: true,
      isolation: 'shared',
    },
  ) {}

  private key(ctx: ProviderCallContext<unknown>): string {
    return this.guarantees.isolation === 'per-grant'
      ? ctx.grantId
      : `${ctx.user.slackId}/${ctx.resource.id}`;
  }

  private async step(
    action: RecordedProviderCall['action'],
    ctx: ProviderCallContext<unknown>,
  ): Promise<void> {
    const call = {
      action,
      grantId: ctx.grantId,
      userId: ctx.user.slackId,
      startsAt: ctx.startsAt.getTime(),
      expiresAt: ctx.expiresAt.getTime(),
      state: ctx.state,
    };
    this.calls.push(call);
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    try {
      await new Promise((r) => setImmediate(r));
      await this.onCall?.(call);
      const behaviour = action === 'check' ? 'ok' : (this.plan.shift() ?? 'ok');
      if (behaviour === 'fail') throw new Error(`${action} refused by the test`);
      if (behaviour === 'hang') {
        await new Promise<void>((_, reject) =>
          ctx.signal.addEventListener('abort', () => reject(new Error('aborted')), { once: true }),
        );
      }
    } finally {
      this.inFlight--;
    }
  }

  async grant(ctx: ProviderCallContext<unknown>): Promise<GrantResult> {
    await this.step('grant', ctx);
    this.present.add(this.key(ctx));
    return {
      state: { key: this.key(ctx) },
      credentials: this.credentials ? { text: this.credentials } : undefined,
    };
  }

  async revoke(ctx: ProviderCallContext<unknown>): Promise<void> {
    await this.step('revoke', ctx);
    if (!this.checkLies) this.present.delete(this.key(ctx));
  }

  async check(ctx: ProviderCallContext<unknown>): Promise<boolean> {
    await this.step('check', ctx);
    return this.present.has(this.key(ctx));
  }

  callsOf(action: RecordedProviderCall['action']): RecordedProviderCall[] {
    return this.calls.filter((c) => c.action === action);
  }
}

export function lookupOf(providers: Record<string, Provider>, timeoutMs = 1000): ProviderLookup {
  return {
    get: (name) => (providers[name] ? { provider: providers[name]!, timeoutMs } : undefined),
  };
}
