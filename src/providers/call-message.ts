import { z } from 'zod';
import type { GrantResult, ProviderCallContext } from './types';

export type CallAction = 'grant' | 'revoke' | 'check';

/**
 * What the webhook POSTs and the command reads on stdin: one JSON object per call. `state` is
 * there only when an earlier grant returned one (a re-grant after an extension, or a revoke).
 */
export function callMessage(action: CallAction, ctx: ProviderCallContext<unknown>): string {
  return JSON.stringify({
    action,
    grantId: ctx.grantId,
    requestId: ctx.requestId,
    resource: { id: ctx.resource.id, target: ctx.resource.target },
    user: { slackId: ctx.user.slackId, email: ctx.user.email ?? null },
    startsAt: ctx.startsAt.toISOString(),
    expiresAt: ctx.expiresAt.toISOString(),
    ...(ctx.state === undefined ? {} : { state: ctx.state }),
  });
}

const answerSchema = z.looseObject({
  state: z.unknown().optional(),
  credentials: z.union([z.string().min(1), z.looseObject({ text: z.string().min(1) })]).optional(),
  present: z.boolean().optional(),
});

export type Answer = z.infer<typeof answerSchema>;

/**
 * Reads the answer of a webhook body or a command's stdout. Text that does not start with `{`
 * (empty, `OK`, log lines) is not an answer and means "nothing to report"; text that does must be
 * a valid answer, so that credentials are never dropped silently because of a typo.
 */
export function parseAnswer(text: string, source: string): Answer {
  const trimmed = text.trim();
  if (!trimmed.startsWith('{')) return {};
  let json: unknown;
  try {
    json = JSON.parse(trimmed);
  } catch (err) {
    throw new Error(`${source} answer is not valid JSON${whereParsingStopped(err)}`);
  }
  const parsed = answerSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new Error(
      `${source} answer has a bad ${issue?.path.join('.') || 'shape'}: ${issue?.message}`,
    );
  }
  return parsed.data;
}

/**
 * Where JSON.parse gave up, never its message: V8 quotes the text around the bad token, and an
 * answer refused here may carry credentials that were never registered for scrubbing.
 */
function whereParsingStopped(err: unknown): string {
  const message = err instanceof Error ? err.message : '';
  if (/unexpected end of json input/i.test(message)) return ': it ends early';
  const position = /at position (\d+)/.exec(message)?.[1];
  return position === undefined ? '' : `: at character ${position}`;
}

export function grantResultOf(answer: Answer): GrantResult {
  const { state, credentials } = answer;
  return {
    ...(state === undefined ? {} : { state }),
    ...(credentials === undefined
      ? {}
      : {
          credentials: { text: typeof credentials === 'string' ? credentials : credentials.text },
        }),
  };
}

export function presenceOf(answer: Answer, source: string): boolean {
  if (answer.present === undefined) {
    throw new Error(`${source} answered check without a boolean "present"`);
  }
  return answer.present;
}
