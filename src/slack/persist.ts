import { isStoreBusy } from '../store/errors';

/** How long a write that must follow a message Slack accepted keeps being tried. */
export const PERSIST_WITHIN_MS = 20_000;

/**
 * Runs `write` until it succeeds, while the database is busy or out of reach, for up to
 * `withinMs`. For what must be written after Slack accepted a message (where it was posted, that
 * its outbox row is sent): failing at once would have the delivery retried, perhaps by another
 * replica that cannot know the message is already in Slack, and posted twice. The outbox row's
 * lease outlasts `withinMs`, so nobody else takes the row meanwhile.
 */
export async function persist<T>(
  write: () => Promise<T>,
  withinMs = PERSIST_WITHIN_MS,
): Promise<T> {
  const deadline = Date.now() + withinMs;
  for (let wait = 50; ; wait = Math.min(wait * 2, 1_000)) {
    try {
      return await write();
    } catch (err) {
      if (!isStoreBusy(err) || Date.now() + wait > deadline) throw err;
    }
    await new Promise((resolve) => setTimeout(resolve, wait));
  }
}
