import type { WebhookSourceConfig } from '../config/rules';
import { abortReason } from '../providers/abort';
import { parseOnCallAnswer } from './answer';

const MAX_BYTES = 1 << 20;

/** Asks a webhook who is on call: `GET url`, with the secret as a bearer token when set. */
export async function webhookOnCall(
  config: WebhookSourceConfig,
  signal: AbortSignal,
): Promise<string[]> {
  let res: Response;
  try {
    res = await fetch(config.url, {
      headers: {
        Accept: 'application/json',
        ...(config.secret ? { Authorization: `Bearer ${config.secret}` } : {}),
      },
      signal,
      redirect: 'error',
    });
  } catch (err) {
    if (signal.aborted) throw new Error(`on-call webhook ${abortReason(signal)}`);
    throw new Error(`on-call webhook could not be reached (${(err as Error).message})`);
  }
  if (!res.ok) {
    await res.body?.cancel();
    throw new Error(`on-call webhook answered HTTP ${res.status}`);
  }
  let text: string;
  try {
    text = await res.text();
  } catch {
    throw new Error(
      `on-call webhook ${signal.aborted ? abortReason(signal) : 'broke off its answer'}`,
    );
  }
  if (text.length > MAX_BYTES) throw new Error('on-call webhook answered more than 1 MiB');
  return parseOnCallAnswer(text, 'on-call webhook');
}
