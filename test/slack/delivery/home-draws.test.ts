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
  it('draws a Home at once when none of that person is in progress, and resolves when drawn', async () => {
    const world = drawing();
    const draws = new HomeDraws(world.draw);
    let done = false;
    const first = draws.redraw('U1').then(() => (done = true));
    await settled();
    expect(world.drawn).toEqual([{ userId: 'U1', state: 0 }]);
    expect(done).toBe(false);
    world.finish();
    await first;
  });

  it('draws a change asked for during a draw after it, never beside it, from the state then', async () => {
    const world = drawing();
    const draws = new HomeDraws(world.draw);
    const first = draws.redraw('U1');
    await settled();
    world.state = 1;
    const second = draws.redraw('U1');
    await settled();
    expect(world.drawn).toHaveLength(1);
    world.finish();
    await first;
    await settled();
    expect(world.drawn).toEqual([
      { userId: 'U1', state: 0 },
      { userId: 'U1', state: 1 },
    ]);
    world.finish();
    await second;
    expect(world.mostAtOnce).toBe(1);
  });

  it('serves every redraw asked for during a draw with the one draw that follows it', async () => {
    const world = drawing();
    const draws = new HomeDraws(world.draw);
    void draws.redraw('U1');
    await settled();
    const waiting = [draws.redraw('U1'), draws.redraw('U1'), draws.redraw('U1')];
    world.finish();
    await settled();
    world.finish();
    await Promise.all(waiting);
    expect(world.drawn).toHaveLength(2);
  });

  it("draws different people's Homes side by side", async () => {
    const world = drawing();
    const draws = new HomeDraws(world.draw);
    const both = [draws.redraw('U1'), draws.redraw('U2')];
    await settled();
    expect(world.drawn.map((d) => d.userId)).toEqual(['U1', 'U2']);
    world.finish();
    world.finish();
    await Promise.all(both);
  });

  it('goes on drawing after a draw that threw', async () => {
    const world = drawing();
    const draws = new HomeDraws(world.draw);
    const broken = draws.redraw('U1');
    await settled();
    const next = draws.redraw('U1');
    world.finish(new Error('boom'));
    await expect(broken).rejects.toThrow('boom');
    await settled();
    expect(world.drawn).toHaveLength(2);
    world.finish();
    await next;
  });
});
