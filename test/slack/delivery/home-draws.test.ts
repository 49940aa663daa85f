import { HomeDraws } from '../../../src/slack/delivery/home-draws';

/**
 * A draw that records whose Home it drew and what `state` was when it started, and that ends only
 * when the test says (`finish`), so draws in progress can be seen.
 */
function drawing() {
  const world = {
    state: 0,
    drawn: [] as { userId: string; state: number }[],
    running: 0,
    mostAtOnce: 0,
    ends: [] as ((failed?: Error) => void)[],
    draw: (userId: string) => {
      world.drawn.push({ userId, state: world.state });
      world.running++;
      world.mostAtOnce = Math.max(world.mostAtOnce, world.running);
      return new Promise<void>((resolve, reject) => {
        world.ends.push((failed) => {
          world.running--;
          if (failed) reject(failed);
          else resolve();
        });
      });
    },
    /** Ends the oldest draw in progress. */
    finish: (failed?: Error) => world.ends.shift()!(failed),
  };
  return world;
}

/** Lets the promise callbacks queued so far run. */
const settled = () => new Promise((resolve) => setImmediate(resolve));

describe('HomeDraws', () => {
  it('draws a Home asked for when a round takes it, and tells when it is drawn', async () => {
    const world = drawing();
    const draws = new HomeDraws(world.draw);
    draws.ask('U1');
    expect(world.drawn).toEqual([]);
    expect(draws.unfinished).toBe(1);
    let done = false;
    const [first] = draws.take(8);
    void first!.then(() => (done = true));
    expect(world.drawn).toEqual([{ userId: 'U1', state: 0 }]);
    await settled();
    expect(done).toBe(false);
    expect(draws.unfinished).toBe(1);
    world.finish();
    await first;
    expect(draws.unfinished).toBe(0);
    expect(draws.take(8)).toEqual([]);
  });

  it('serves every ask of a person that waits with one draw, from the state when it starts', () => {
    const world = drawing();
    const draws = new HomeDraws(world.draw);
    draws.ask('U1');
    world.state = 1;
    draws.ask('U1');
    draws.ask('U1');
    expect(draws.take(8)).toHaveLength(1);
    expect(world.drawn).toEqual([{ userId: 'U1', state: 1 }]);
  });

  it('draws the oldest asks first, no more than a round has places for', () => {
    const world = drawing();
    const draws = new HomeDraws(world.draw);
    for (const userId of ['U1', 'U2', 'U3']) draws.ask(userId);
    // Asked again, U1 keeps its place: a busy person does not push the others back.
    draws.ask('U1');
    expect(draws.take(2)).toHaveLength(2);
    expect(world.drawn.map((d) => d.userId)).toEqual(['U1', 'U2']);
    expect(draws.take(2)).toHaveLength(1);
    expect(world.drawn.map((d) => d.userId)).toEqual(['U1', 'U2', 'U3']);
  });

  it('draws a change asked for during a draw after it, never beside it, from the state then', async () => {
    const world = drawing();
    const draws = new HomeDraws(world.draw);
    draws.ask('U1');
    const [first] = draws.take(8);
    world.state = 1;
    draws.ask('U1');
    draws.ask('U2');
    // U1 keeps its place while its draw is in progress; the round goes on to U2.
    expect(draws.take(8)).toHaveLength(1);
    expect(world.drawn.map((d) => d.userId)).toEqual(['U1', 'U2']);
    world.finish();
    world.finish();
    await first;
    const [second] = draws.take(8);
    expect(world.drawn.at(-1)).toEqual({ userId: 'U1', state: 1 });
    world.finish();
    await second;
    expect(world.mostAtOnce).toBe(2);
    expect(draws.unfinished).toBe(0);
  });

  it('goes on drawing after a draw that threw', async () => {
    const world = drawing();
    const draws = new HomeDraws(world.draw);
    draws.ask('U1');
    const [broken] = draws.take(8);
    draws.ask('U1');
    world.finish(new Error('boom'));
    await broken;
    expect(draws.take(8)).toHaveLength(1);
    expect(world.drawn).toHaveLength(2);
  });
});
