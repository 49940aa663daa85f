import { createHmac } from 'node:crypto';
import { z } from 'zod';
import { registerSecret } from '../log';
import { abortReason } from './abort';
import {
  callMessage,
  grantResultOf,
  parseAnswer,
  presenceOf,
  type CallAction,
} from './call-message';
import { declaredGuarantees } from './guarantees';
import type { ProviderAdapter, ProviderCallContext } from './types';

const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const RESERVED_HEADER = /^(content-type|content-length|host|x-hallpass-.*)$/i;
const BODY_EXCERPT = 200;

const webhookConfig = z.strictObject({
  url: z.url({ protocol: /^https?$/ }),
  secret: z.string().min(8, 'must be at least 8 characters (16 or more recommended)'),
  headers: z
    .record(
      z.string(),
      z.string().refine((value) => !/[\r\n]/.test(value), 'must not contain line breaks'),
    )
    .default({})
    .superRefine((headers, ctx) => {
      for (const name of Object.keys(headers)) {
        const problem = !HEADER_NAME.test(name)
          ? 'is not a valid header name'
          : RESERVED_HEADER.test(name)
            ? 'is set by Hallpass and cannot be overridden'
            : undefined;
        if (problem) ctx.addIssue({ code: 'custom', path: [name], message: problem });
      }
    }),
  guarantees: declaredGuarantees,
});

/** The receiver decides what a target means, so any object is passed on as it is. */
const webhookTarget = z.record(z.string(), z.unknown());

export type WebhookConfig = z.infer<typeof webhookConfig>;
export type WebhookTarget = z.infer<typeof webhookTarget>;

/** `v1=` + hex HMAC-SHA256(secret, `${timestamp}.${body}`): what the receiver recomputes. */
export function webhookSignature(secret: string, timestamp: string, body: string): string {
  return `v1=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`;
}

export const webhookAdapter: ProviderAdapter<WebhookConfig, WebhookTarget> = {
  type: 'webhook',
  configSchema: webhookConfig,
  targetSchema: webhookTarget,
  create(config) {
    registerSecret(config.secret);
    const call = (action: CallAction, ctx: ProviderCallContext<WebhookTarget>) =>
      postSigned(config, action, ctx);
    return {
      guarantees: config.guarantees,
      grant: async (ctx) => grantResultOf(await call('grant', ctx)),
      revoke: async (ctx) => {
        await call('revoke', ctx);
      },
      check: async (ctx) => presenceOf(await call('check', ctx), 'webhook'),
    };
  },
};

async function postSigned(
  config: WebhookConfig,
  action: CallAction,
  ctx: ProviderCallContext<WebhookTarget>,
) {
  const body = callMessage(action, ctx);
  // Wall time, not the injected Clock: the receiver compares it with its own clock.
  const timestamp = String(Math.floor(Date.now() / 1000));
  let response: Response;
  let text: string;
  try {
    response = await fetch(config.url, {
      method: 'POST',
      body,
      signal: ctx.signal,
      redirect: 'manual',
      headers: {
        ...config.headers,
        'content-type': 'application/json',
        'user-agent': 'hallpass',
        'x-hallpass-timestamp': timestamp,
        'x-hallpass-signature': webhookSignature(config.secret, timestamp, body),
      },
    });
    text = await response.text();
  } catch (err) {
    if (ctx.signal.aborted) throw new Error(`webhook ${action} ${abortReason(ctx.signal)}`);
    throw new Error(`webhook ${action} request failed: ${describeFetchError(err)}`);
  }
  if (response.status < 200 || response.status > 299) {
    const excerpt = text.slice(0, BODY_EXCERPT);
    throw new Error(`webhook answered ${response.status}${excerpt ? `: ${excerpt}` : ''}`);
  }
  return parseAnswer(text, 'webhook');
}

/** fetch says only "fetch failed"; the cause says why (ECONNREFUSED, ENOTFOUND, a TLS error…). */
function describeFetchError(err: unknown): string {
  const cause = (err as { cause?: { code?: string; message?: string } }).cause;
  if (cause?.code) return `${cause.code}${cause.message ? ` (${cause.message})` : ''}`;
  return cause?.message ?? (err as Error).message ?? String(err);
}
