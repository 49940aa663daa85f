interface Turn {
  /** The person's newest draw, started or not: the next one goes after it. */
  last: Promise<void>;
  /** A draw queued and not yet started: it reads the state after any change made until it does. */
  queued?: Promise<void>;
}

/**
 * Draws each person's Home one at a time. Deliveries of different subjects run side by side, and
 * two may change what one person's Home shows (two of their requests); drawn at once, the draw
 * that read the state first could reach Slack last and leave the Home without the other's
 * change. A redraw asked for while one is in progress waits for the next draw, which starts after
 * it, reads the state then, and serves every redraw asked for meanwhile.
 */
export class HomeDraws {
  private readonly turns = new Map<string, Turn>();

  /** `draw` publishes one person's Home from the state when it is called; it never throws. */
  constructor(private readonly draw: (userId: string) => Promise<void>) {}

  /** Resolves once a draw of `userId`'s Home that started after this call has finished. */
  redraw(userId: string): Promise<void> {
    const turn = this.turns.get(userId) ?? { last: Promise.resolve() };
    if (turn.queued) return turn.queued;
    const start = () => {
      turn.queued = undefined;
      return this.draw(userId);
    };
    // A draw that broke its promise and threw must not hold back the person's later ones.
    const next = turn.last.then(start, start);
    turn.queued = next;
    turn.last = next;
    this.turns.set(userId, turn);
    const forget = () => {
      if (turn.last === next) this.turns.delete(userId);
    };
    next.then(forget, forget);
    return next;
  }
}
