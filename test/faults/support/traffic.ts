import { ACTIONS } from '../../../src/slack/ids';
import type { FakeSlack } from '../../support/fake-slack';
import { buttonClick, nextTriggerId, SlackSender } from '../../support/slack-requests';

export const SIGNING_SECRET = 'faults-signing-secret-0123456789';
export const HOOK_SECRET = 'faults-webhook-secret-value';
export const BOT_TOKEN = 'xoxb-faults';

/** response_url paths handed out so far: one counter for every sender, so no two share a path. */
let replies = 0;

/** A person's request as Slack delivers it, and what Hallpass answered them. */
export interface Sent {
  /** The HTTP status of Slack's request to the bot (the ack). */
  status: number;
  /** The trigger id, which Hallpass turns into the request's client key. */
  triggerId: string;
  /** Resolves with what Hallpass told the person through the response_url. */
  reply(timeoutMs?: number): Promise<string>;
}

/**
 * People using Hallpass through Slack: signed `/jit` commands and button clicks sent to the
 * bot's endpoint, with a fresh response_url on FakeSlack each time so each answer is found.
 */
export class SlackTraffic {
  private readonly send: SlackSender;

  constructor(
    botUrl: string,
    private readonly fake: FakeSlack,
  ) {
    this.send = new SlackSender(`${botUrl}/slack/events`, SIGNING_SECRET);
  }

  /** `/jit <text>`; with `replyHangs`, Slack never answers the bot's post of the reply. */
  async command(
    userId: string,
    text: string,
    options: { replyHangs?: boolean } = {},
  ): Promise<Sent> {
    const { responseUrl, reply } = this.responseUrl();
    if (options.replyHangs)
      this.fake.fail(responseUrl.slice(this.fake.url.length), { kind: 'hang' });
    const triggerId = nextTriggerId();
    const { status } = await this.send.command({ userId, text, responseUrl, triggerId });
    return { status, triggerId, reply };
  }

  /** An approver's Approve on the request's message in the approver channel. */
  approve(userId: string, requestId: string, channelId = 'CDBA'): Promise<Sent> {
    return this.click(userId, ACTIONS.approve, requestId, channelId);
  }

  /** The holder's "revoke now" in their DM. */
  revoke(userId: string, grantId: string): Promise<Sent> {
    return this.click(userId, ACTIONS.revokeGrant, grantId, `D${userId.slice(1)}`);
  }

  async click(userId: string, actionId: string, value: string, channelId: string): Promise<Sent> {
    const { responseUrl, reply } = this.responseUrl();
    const triggerId = nextTriggerId();
    const payload = buttonClick({
      userId,
      actionId,
      value,
      triggerId,
      source: { kind: 'message', responseUrl, channelId },
    });
    const { status } = await this.send.interaction(payload);
    return { status, triggerId, reply };
  }

  /** A response_url and a way to read what was posted to it. */
  responseUrl(): { responseUrl: string; reply: (timeoutMs?: number) => Promise<string> } {
    replies += 1;
    const method = `response/${replies}`;
    return {
      responseUrl: `${this.fake.url}${method}`,
      reply: async (timeoutMs = 15_000) => {
        const call = await this.fake.waitFor(
          (calls) => calls.find((c) => c.method === method),
          timeoutMs,
        );
        return String(call.args.text);
      },
    };
  }
}

/** The hallpass.yml of the fault cases: short durations and retries so faults play out in seconds. */
export function faultConfig(options: {
  hookUrl: string;
  providerTimeout?: string;
  alertAfterAttempts?: number;
  /**
   * The reconciler's cron (`reconcile.schedule`), e.g. every second so that moving the injected
   * clock past `recheckAfter` gets the read-backs done at once; the product's default otherwise.
   */
  reconcileSchedule?: string;
  /** How long user group members are trusted (`directory.groupTtl`); the product's default otherwise. */
  groupTtl?: string;
}): string {
  const reconcile = options.reconcileSchedule
    ? `reconcile: { schedule: '${options.reconcileSchedule}' }`
    : '';
  const directory = options.groupTtl ? `directory: { groupTtl: ${options.groupTtl} }` : '';
  return `
timezone: UTC
admins: [UADMIN]
requests: { approverChannel: CAPPROVALS }
sweeper:
  schedule: '* * * * * *'
  retryBase: 1s
  retryMax: 2s
  warnBefore: 10s
  alertAfterAttempts: ${options.alertAfterAttempts ?? 3}
${reconcile}
${directory}
providers:
  hook:
    type: webhook
    url: '${options.hookUrl}'
    secret: '\${HOOK_SECRET}'
    timeout: ${options.providerTimeout ?? '1s'}
resources:
  - id: prod-db
    name: Production database
    provider: hook
    minDuration: 1s
    defaultDuration: 1h
    maxDuration: 4h
    approvers: { users: [ULEAD], usergroups: [SONCALL] }
    approverChannel: CDBA
  - id: sandbox
    name: Sandbox
    provider: hook
    minDuration: 1s
    defaultDuration: 1h
    maxDuration: 4h
    approvalsRequired: 0
`;
}

/** Who is in the user groups the fault config names. */
export const USERGROUPS = { SONCALL: ['UONCALL'] };
