import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fixtureWeek, WEEK_CONFIG, type FixtureWeek } from '../audit/fixture-week';
import { STORE_KINDS } from '../support/stores';
import { tempDir } from '../support/tmp';
import { cliEnv, runCli } from './run';

const plain = (stdout: string) =>
  stdout
    .trimEnd()
    .split('\n')
    .map((l) => l.replace(/\s+/g, ' '));

describe.each(STORE_KINDS)('hallpass audit show <request-id> (%s)', (kind) => {
  let w: FixtureWeek;
  let env: NodeJS.ProcessEnv;
  const dir = tempDir();
  beforeAll(async () => {
    w = await fixtureWeek(kind);
    const config = join(dir.dir, 'hallpass.yml');
    writeFileSync(config, WEEK_CONFIG);
    env = cliEnv(w.location, { HALLPASS_CONFIG: config });
  });
  afterAll(async () => {
    await w.close();
    dir.cleanup();
  });

  it('tells a denied request’s story, which has no grant', async () => {
    const id = w.requests.r4!;
    const result = await runCli(['audit', 'show', id], env);
    expect(result.code).toBe(0);
    expect(plain(result.stdout)).toEqual([
      `Request ${id}: UREQ asked for prod-db, 1h; now denied (no grant)`,
      '2026-10-21T10:00:00.000Z UREQ UREQ requested prod-db for 1h: "investigating INC-42 slow queries"',
      '2026-10-21T10:15:00.000Z UDBA UDBA denied it',
    ]);
  });

  it('tells a cancelled request’s story', async () => {
    const result = await runCli(['audit', 'show', w.requests.r11!], env);
    expect(plain(result.stdout).slice(-1)).toEqual([
      expect.stringMatching(/ UREQ UREQ cancelled the request$/),
    ]);
    expect(plain(result.stdout)[0]).toMatch(/; now cancelled \(no grant\)$/);
  });

  it('tells the whole grant story for a request that made a grant', async () => {
    const byRequest = await runCli(['audit', 'show', w.requests.r6!], env);
    const byGrant = await runCli(['audit', 'show', w.grants.r6!], env);
    expect(byRequest).toEqual(byGrant);
    expect(byRequest.stdout).toMatch(/^Grant gr_/);
  });

  it('says so for an unknown request', async () => {
    expect(await runCli(['audit', 'show', 'req_nope'], env)).toEqual({
      code: 1,
      stdout: '',
      stderr: 'hallpass: no request req_nope (hallpass grants list shows them)\n',
    });
  });
});
