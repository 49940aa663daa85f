import type { PagerDutySourceConfig } from '../config/rules';
import { abortReason } from '../providers/abort';

/** The most PagerDuty returns per page of `GET /oncalls`. */
const PAGE_LIMIT = 100;
/** A runaway `more: true` stops here: 50 pages of 100 on-call entries. */
const MAX_PAGES = 50;

interface OnCallEntry {
  escalation_level?: number;
  user?: { id?: string; email?: string };
}

interface OnCallsPage {
  oncalls?: OnCallEntry[];
  more?: boolean;
}

/**
 * The emails of whoever a PagerDuty schedule or escalation policy has on call now, through the
 * REST API v2 (`GET /oncalls`, one page after another while `more`). An escalation policy counts
 * its levels up to `escalationLevel`; a schedule counts everyone it has on call.
 */
export async function pagerDutyOnCall(
  config: PagerDutySourceConfig,
  signal: AbortSignal,
): Promise<string[]> {
  const emails = new Set<string>();
  for (let page = 0, offset = 0; page < MAX_PAGES; page++) {
    const body = await getPage(config, offset, signal);
    for (const entry of body.oncalls ?? []) {
      if (config.escalationPolicy && (entry.escalation_level ?? 1) > config.escalationLevel)
        continue;
      if (entry.user?.email) emails.add(entry.user.email.toLowerCase());
    }
    if (!body.more) return [...emails];
    offset += PAGE_LIMIT;
  }
  throw new Error(`PagerDuty kept answering more: true after ${MAX_PAGES} pages of on-calls`);
}

async function getPage(
  config: PagerDutySourceConfig,
  offset: number,
  signal: AbortSignal,
): Promise<OnCallsPage> {
  const url = new URL('/oncalls', config.apiUrl);
  if (config.schedule) url.searchParams.append('schedule_ids[]', config.schedule);
  if (config.escalationPolicy)
    url.searchParams.append('escalation_policy_ids[]', config.escalationPolicy);
  url.searchParams.append('include[]', 'users');
  url.searchParams.set('limit', String(PAGE_LIMIT));
  url.searchParams.set('offset', String(offset));
  let res: Response;
  try {
    res = await fetch(url, {
      headers: {
        Accept: 'application/vnd.pagerduty+json;version=2',
        Authorization: `Token token=${config.token}`,
      },
      signal,
      redirect: 'error',
    });
  } catch (err) {
    if (signal.aborted) throw new Error(`PagerDuty ${abortReason(signal)}`);
    throw new Error(`PagerDuty could not be reached (${(err as Error).message})`);
  }
  if (!res.ok) {
    // Its error bodies only echo the request; the status says what to do.
    await res.body?.cancel();
    throw new Error(statusProblem(res));
  }
  try {
    return (await res.json()) as OnCallsPage;
  } catch {
    if (signal.aborted) throw new Error(`PagerDuty ${abortReason(signal)}`);
    throw new Error('PagerDuty answered something that is not JSON');
  }
}

function statusProblem(res: Response): string {
  switch (res.status) {
    case 401:
      return 'PagerDuty refused the token (401): check the token of this on-call source';
    case 403:
      return 'PagerDuty says the token may not read on-calls (403): use a key with read access';
    case 404:
      return 'PagerDuty does not know the schedule or escalation policy (404): check its id';
    case 429: {
      const reset = res.headers.get('ratelimit-reset');
      return `PagerDuty rate-limited the lookup (429${reset ? `, resets in ${reset}s` : ''})`;
    }
    default:
      return `PagerDuty answered HTTP ${res.status}`;
  }
}
