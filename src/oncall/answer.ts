import { z } from 'zod';

/** What a command or webhook source answers: Slack user ids or emails of who is on call now. */
export const onCallAnswer = z.strictObject({
  users: z.array(z.string().trim().min(1)).max(1000),
});

/** The entries of an answer, or an Error that says what was wrong with it (never the text itself). */
export function parseOnCallAnswer(text: string, what: string): string[] {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new Error(`${what} did not answer JSON (expected {"users": ["U012…", "a@example.com"]})`);
  }
  const parsed = onCallAnswer.safeParse(json);
  if (!parsed.success) {
    throw new Error(
      `${what} answered JSON of the wrong shape (expected {"users": ["U012…", "a@example.com"]})`,
    );
  }
  return parsed.data.users;
}
