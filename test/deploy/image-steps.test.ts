import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import {
  chmodSync,
  cpSync,
  existsSync,
  mkdirSync,
  readFileSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { createServer } from 'node:net';
import { join, relative } from 'node:path';
import { initialConfig } from '../../src/cli/init';
import { parseDockerfile, type Stage } from '../support/dockerfile';
import { FakeSlack } from '../support/fake-slack';
import { tempDir } from '../support/tmp';

const ROOT = join(__dirname, '..', '..');
const STEP_TIMEOUT_MS = 10 * 60_000;

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/**
 * The Dockerfile's stages carried out in folders, as `docker build` would in the image: each
 * stage's WORKDIR is a folder of its own, COPY takes from the repository (the build context) or
 * an earlier stage, and every RUN runs there. Containers cannot run on these machines; the
 * steps, the production install and the start command are what this proves.
 */
function buildStages(stages: Stage[], into: string): Map<Stage, string> {
  const dirs = new Map<Stage, string>();
  stages.forEach((stage, i) => {
    const dir = join(into, `stage-${i}`);
    mkdirSync(dir, { recursive: true });
    dirs.set(stage, dir);
    const inStage = (s: Stage, path: string) =>
      join(dirs.get(s)!, path.startsWith('/') ? relative(s.workdir, path) : path);
    for (const step of stage.steps) {
      if (step.kind === 'copy') {
        const source = step.from ? stages.find((s) => s.name === step.from) : undefined;
        if (step.from && !source) throw new Error(`no stage ${step.from}`);
        for (const path of step.sources) {
          const from = source ? inStage(source, path) : join(ROOT, path);
          const dest = step.dest.endsWith('/')
            ? join(inStage(stage, step.dest), path.split('/').at(-1)!)
            : inStage(stage, step.dest);
          cpSync(from, dest, { recursive: true });
        }
        continue;
      }
      const run = spawnSync('sh', ['-c', step.command], {
        cwd: dir,
        env: { PATH: process.env.PATH, HOME: process.env.HOME, ...stage.env },
        encoding: 'utf8',
        timeout: STEP_TIMEOUT_MS,
      });
      if (run.status !== 0) {
        throw new Error(
          `RUN ${step.command} failed (${run.status}):\n${run.stdout}\n${run.stderr}`,
        );
      }
    }
  });
  return dirs;
}

describe('the Docker image’s steps, run in a clean copy', () => {
  const stages = parseDockerfile(readFileSync(join(ROOT, 'Dockerfile'), 'utf8'));
  const runtime = stages.at(-1)!;
  let tmp: ReturnType<typeof tempDir>;
  let app: string;
  let fake: FakeSlack;
  let bot: ChildProcess | undefined;

  beforeAll(() => {
    tmp = tempDir();
    // The unprivileged user the image runs as must be able to reach its folder.
    chmodSync(tmp.dir, 0o755);
    app = buildStages(stages, tmp.dir).get(runtime)!;
  }, 2 * STEP_TIMEOUT_MS);
  beforeEach(async () => (fake = await new FakeSlack().start()));
  afterEach(async () => {
    if (bot && bot.exitCode === null && bot.signalCode === null) bot.kill('SIGKILL');
    await fake.stop();
  });
  afterAll(() => tmp?.cleanup());

  it('is multi-stage, non-root, with the bot as its command and a health check', () => {
    expect(stages.length).toBeGreaterThan(1);
    expect(runtime.user).toBe('1000:1000');
    expect(runtime.cmd).toEqual(['node', 'dist/main.js']);
    expect(runtime.volumes).toEqual([runtime.env.HALLPASS_DB!.replace(/\/[^/]+$/, '')]);
    expect(runtime.healthcheck?.join(' ')).toContain('/healthz');
    // Production dependencies only, and no sources: the compiler is not needed to run it.
    expect(existsSync(join(app, 'node_modules', 'typescript'))).toBe(false);
    expect(existsSync(join(app, 'src'))).toBe(false);
    expect(existsSync(join(app, 'dist', 'main.js'))).toBe(true);
  });

  it('starts as the image would, answers /healthz, and stops cleanly on SIGTERM', async () => {
    const port = await freePort();
    const inApp = (value: string) => value.replace(/^\/app(?=\/|$)/, app);
    const env: Record<string, string> = {
      PATH: process.env.PATH ?? '',
      ...Object.fromEntries(Object.entries(runtime.env).map(([k, v]) => [k, inApp(v)])),
      // What `docker run -e … -p` would add: the secrets, Slack (here the fake), the port.
      SLACK_BOT_TOKEN: 'xoxb-image-steps',
      SLACK_SIGNING_SECRET: 'image-steps-signing-secret',
      SLACK_API_URL: fake.url,
      PORT: String(port),
      HOST: '127.0.0.1',
    };
    // The configuration a new user makes with `hallpass init`, mounted where the image reads it.
    writeFileSync(
      env.HALLPASS_CONFIG!,
      initialConfig({
        admin: 'UADMIN1',
        approverChannel: 'CAPPROVE',
        channel: 'GSECRET',
        timezone: 'UTC',
      }),
    );
    const [uid, gid] = runtime.user!.split(':').map(Number);
    const [command, ...args] = runtime.cmd!;
    const started = spawn(command!, args, { cwd: app, env, uid, gid });
    bot = started;
    let stdout = '';
    let stderr = '';
    started.stdout!.on('data', (c: Buffer) => (stdout += c.toString()));
    started.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
    const exited = new Promise<{ code: number | null; signal: string | null }>((resolve) =>
      started.on('exit', (code, signal) => resolve({ code, signal })),
    );

    const [check, ...checkArgs] = runtime.healthcheck!;
    const healthy = () =>
      spawnSync(check!, checkArgs, { cwd: app, env, uid, gid, timeout: 5_000 }).status === 0;
    const deadline = Date.now() + 60_000;
    while (!healthy()) {
      if (started.exitCode !== null) throw new Error(`the bot exited:\n${stderr}\n${stdout}`);
      if (Date.now() > deadline) throw new Error(`never healthy:\n${stderr}\n${stdout}`);
      await new Promise((r) => setTimeout(r, 250));
    }
    const health = await fetch(`http://127.0.0.1:${port}/healthz`);
    expect(await health.json()).toEqual({ status: 'ok', database: 'ok', leader: true });
    // Not root, and the database where the volume is, owned by the image's user.
    const status = readFileSync(`/proc/${started.pid}/status`, 'utf8');
    expect(status).toMatch(/^Uid:\s+1000\s/m);
    expect(statSync(env.HALLPASS_DB!).uid).toBe(1000);

    started.kill('SIGTERM'); // what `docker stop` sends PID 1
    expect(await exited).toEqual({ code: 0, signal: null });
    const messages = stdout
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => (JSON.parse(l) as { message: string }).message);
    expect(messages).toContain('hallpass started');
    expect(messages).toContain('stopping');
    expect(stderr).toBe('');
  }, 120_000);
});
