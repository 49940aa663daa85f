/**
 * An on-call source could not answer for now (unreachable, rate-limited, refused, past how long
 * a cached answer may stand in). Like DirectoryUnavailable: rules that need the answer refuse,
 * and nobody is let in on a guess.
 */
export class OnCallUnavailable extends Error {
  constructor(
    readonly source: string,
    message: string,
  ) {
    super(message);
    this.name = 'OnCallUnavailable';
  }
}

/**
 * Who is on call now, by the names under `oncall` in the configuration: the Slack user ids an
 * on-call source names (PagerDuty, a command, a webhook), cached briefly and failing closed.
 * Nobody on call is an answer (an empty list); only an outage throws OnCallUnavailable.
 */
export interface OnCall {
  onCallNow(source: string): Promise<readonly string[]>;
}

/** A fixed answer per source, for tests; a source it does not know cannot answer. */
export class StaticOnCall implements OnCall {
  constructor(private readonly bySource: Record<string, readonly string[]> = {}) {}
  async onCallNow(source: string): Promise<readonly string[]> {
    const found = this.bySource[source];
    if (!found)
      throw new OnCallUnavailable(source, `on-call source ${source} is not reachable here`);
    return found;
  }
}

/** Where on-call sources are not asked (the CLI): every answer is unknown, so rules fail closed. */
export const notAsked: OnCall = {
  onCallNow: async (source) => {
    throw new OnCallUnavailable(source, 'on-call sources are asked only by the running bot');
  },
};
