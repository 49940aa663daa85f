import { createHmac } from 'node:crypto';
import { z } from 'zod';
import { registerSecret } from '../log';
import { excerptHead } from '../secrets/scrub';
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
import { WebhookPoster, type PostAnswer } from './webhook-post';

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
  // Its origin and path: a token in the query may be rotated under a live grant.
  placeOf: (config) => {
    const url = new URL(config.url);
    return { url: `${url.origin}${url.pathname}` };
  },
  create(config) {
    registerSecret(config.secret);
    const poster = new WebhookPoster(config.url);
    const call = (action: CallAction, ctx: ProviderCallContext<WebhookTarget>) =>
      postSigned(poster, config, action, ctx);
    return {
      guarantees: config.guarantees,
      grant: async (ctx) => grantResultOf(await call('grant', ctx)),
      revoke: async (ctx) => {
        await call('revoke', ctx);
      },
      check: async (ctx) => presenceOf(await call('check', ctx), 'webhook'),
      close: async () => poster.close(),
    };
  },
};

async function postSigned(
  poster: WebhookPoster,
  config: WebhookConfig,
  action: CallAction,
  ctx: ProviderCallContext<WebhookTarget>,
) {
  const body = callMessage(action, ctx);
  // Wall time, not the injected Clock: the receiver compares it with its own clock.
  const timestamp = String(Math.floor(Date.now() / 1000));
  let answer: PostAnswer;
  try {
    answer = await poster.post(
      body,
      {
        ...config.headers,
        'content-type': 'application/json',
        'user-agent': 'hallpass',
        'x-hallpass-timestamp': timestamp,
        'x-hallpass-signature': webhookSignature(config.secret, timestamp, body),
      },
      ctx.signal,
    );
  } catch (err) {
    if (ctx.signal.aborted) throw new Error(`webhook ${action} ${abortReason(ctx.signal)}`);
    throw new Error(`webhook ${action} request failed: ${describeNetworkError(err)}`);
  }
  if (answer.status < 200 || answer.status > 299) {
    const excerpt = excerptHead(answer.text, BODY_EXCERPT);
    throw new Error(`webhook answered ${answer.status}${excerpt ? `: ${excerpt}` : ''}`);
  }
  return parseAnswer(answer.text, 'webhook');
}

/** The system error's code says why (ECONNREFUSED, ENOTFOUND, a TLS error…), then its message. */
function describeNetworkError(err: unknown): string {
  const { code, message } = err as { code?: unknown; message?: unknown };
  const text = typeof message === 'string' ? message : String(err);
  return typeof code === 'string' ? `${code} (${text})` : text;
}
