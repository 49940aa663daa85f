/**
 * The Homes waiting to be drawn again, one entry per person, drawn by the outbox dispatcher in
 * its rounds beside the rows it delivers (OutboxDispatcher.round). A Home shows the current
 * state, so every change of a person that reaches the dispatcher while their draw waits is
 * served by that one draw: under a backlog the draws grow with the people it touches, not with
 * its changes. One person's draws never run side by side: two drawn at once, the one that read
 * the state first could reach Slack last and leave the Home without the other's change.
 * The asks are kept in memory, not in the outbox: a Home is a picture, not a record, and one a
 * stopped process did not draw is drawn again at the person's next change or when they open it.
 */
export class HomeDraws {
  /** People whose Home waits for a draw, oldest ask first (a Set keeps insertion order). */
  private readonly waiting = new Set<string>();
  private readonly drawing = new Set<string>();

  /** `draw` publishes one person's Home from the state when it is called; it never throws. */
  constructor(private readonly draw: (userId: string) => Promise<void>) {}

  /** Asks for a draw of `userId`'s Home that starts after this call; one already waiting serves it. */
  ask(userId: string): void {
    this.waiting.add(userId);
  }

  /** Homes asked for and not yet drawn, including those being drawn. */
  get unfinished(): number {
    return this.waiting.size + this.drawing.size;
  }

  /**
   * Starts the draws of up to `most` people, oldest ask first, passing over anyone whose draw is
   * in progress (they keep their place). Each promise resolves once its draw is done.
   */
  take(most: number): Promise<void>[] {
    const started: Promise<void>[] = [];
    for (const userId of this.waiting) {
      if (started.length >= most) break;
      if (this.drawing.has(userId)) continue;
      this.waiting.delete(userId);
      this.drawing.add(userId);
      const done = () => void this.drawing.delete(userId);
      // A draw that broke its promise and threw must not hold back the person's later ones.
      started.push(this.draw(userId).then(done, done));
    }
    return started;
  }
}
