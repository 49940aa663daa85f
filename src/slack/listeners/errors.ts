import { webApi } from '@slack/bolt';
import { DomainError } from '../../core';
import type { ErrorCode } from '../../core/errors';
import type { Logger } from '../../log';
import { isStoreBusy } from '../../store/errors';

const { ErrorCode } = webApi;

function slackFailure(err: unknown, doing: string): string | undefined {
  if (typeof err !== 'object' || err === null || !('code' in err)) return undefined;
  const failed = err as webApi.WebAPICallError;
  switch (failed.code) {
    case ErrorCode.RateLimitedError:
      return `Slack is rate limiting Hallpass, so it could not ${doing}. Try again in ${failed.retryAfter} seconds.`;
    case ErrorCode.HTTPError:
      return `Slack had a problem (HTTP ${failed.statusCode}), so Hallpass could not ${doing}. Try again in a moment.`;
    case ErrorCode.RequestError:
      return `Hallpass could not reach Slack to ${doing}. Try again in a moment.`;
    case ErrorCode.PlatformError:
      return failed.data.error === 'expired_trigger_id'
        ? `Slack's window to ${doing} closed before Hallpass got to it. Try again.`
        : `Slack refused to let Hallpass ${doing} (${failed.data.error}).`;
    default:
      return undefined;
  }
}

/** Refusals of someone acting on what is not theirs to act on: worth a warning for the admins. */
const REFUSALS: ReadonlySet<ErrorCode> = new Set([
  'not_yours',
  'not_approver',
  'self_approval',
  'not_allowed',
  'self_review',
]);

/**
 * What to tell the person when handling their action failed. DomainError messages come from
 * the core, written for them (refusals are also logged as warnings, naming `actor`); a busy
 * database and Slack failures say what to do; anything else is logged in full and the person is
 * told where to look.
 */
export function explainFailure(
  err: unknown,
  logger: Logger,
  doing: string,
  actor?: string,
): string {
  if (err instanceof DomainError) {
    if (REFUSALS.has(err.code)) {
      logger.warn('slack action refused', { doing, actor, code: err.code, reason: err.message });
    }
    return err.message;
  }
  if (isStoreBusy(err)) {
    logger.warn('database busy; the action was not recorded', { doing, actor, error: err });
    return `Hallpass's database is busy or out of reach, so it could not ${doing}; nothing was changed. Try again in a minute.`;
  }
  const slack = slackFailure(err, doing);
  if (slack) {
    logger.warn('slack api call failed', { doing, error: err });
    return slack;
  }
  logger.error('slack listener failed', { doing, error: err });
  return `Something went wrong in Hallpass, so it could not ${doing}. Try again; if it keeps failing, ask your Hallpass admins to check its logs.`;
}

/** For failures nobody is waiting on an answer for (a redraw, a search): only the log line. */
export function logFailure(err: unknown, logger: Logger, doing: string): void {
  if (err instanceof DomainError) logger.info('slack listener refused', { doing, error: err });
  else explainFailure(err, logger, doing);
}
