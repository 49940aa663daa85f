import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';

const ROOT = join(__dirname, '..', '..');
const TSX = join(ROOT, 'node_modules', '.bin', 'tsx');

export interface BotExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/**
 * `src/main.ts` running as its own process, as `npm start` runs it (through tsx instead of the
 * build). tsx runs the program in a child of its own, so signals go to the whole process group:
 * a SIGKILL must kill the bot itself, not only tsx. Every bot started here is tracked, and
 * `BotProcess.killAll()` ends whichever are still running (for afterEach).
 */
export class BotProcess {
  private static readonly running = new Set<BotProcess>();
  stdout = '';
  stderr = '';
  readonly exited: Promise<BotExit>;
  private exit?: BotExit;

  private constructor(private readonly child: ChildProcess) {
    BotProcess.running.add(this);
    child.stdout!.on('data', (chunk: Buffer) => (this.stdout += chunk.toString()));
    child.stderr!.on('data', (chunk: Buffer) => (this.stderr += chunk.toString()));
    this.exited = new Promise((resolve) =>
      child.on('exit', (code, signal) => {
        this.exit = { code, signal };
        BotProcess.running.delete(this);
        resolve(this.exit);
      }),
    );
  }

  /** Starts the bot with exactly `env` (plus PATH) and resolves once it listens, with its port. */
  static async start(env: Record<string, string>, timeoutMs = 20_000): Promise<BotProcess> {
    const child = spawn(TSX, [join(ROOT, 'src', 'main.ts')], {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? '', LOG_LEVEL: 'info', ...env },
      detached: true,
    });
    const bot = new BotProcess(child);
    try {
      await bot.waitForLog((line) => line.message === 'hallpass started', timeoutMs);
    } catch (err) {
      bot.signal('SIGKILL');
      await bot.exited;
      throw err;
    }
    return bot;
  }

  /** Kills every bot started here that is still running. */
  static async killAll(): Promise<void> {
    const bots = [...BotProcess.running];
    for (const bot of bots) bot.signal('SIGKILL');
    await Promise.all(bots.map((bot) => bot.exited));
  }

  /** Its complete JSON log lines so far. */
  get logs(): Record<string, unknown>[] {
    const lines = this.stdout.split('\n');
    lines.pop();
    return lines.filter((line) => line.startsWith('{')).map(parseLine);
  }

  get port(): number {
    const started = this.logs.find((line) => line.message === 'hallpass started');
    if (typeof started?.port !== 'number') throw new Error('the bot has not said its port');
    return started.port;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Sends `signal` to the bot's process group (tsx and the program it runs). */
  signal(signal: NodeJS.Signals): void {
    if (this.exit || this.child.pid === undefined) return;
    try {
      process.kill(-this.child.pid, signal);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
    }
  }

  /** SIGKILL: no shutdown code runs, as when the machine or the OOM killer stops the bot. */
  async kill(): Promise<BotExit> {
    this.signal('SIGKILL');
    return this.exited;
  }

  /** SIGSTOP: the bot is frozen, its sockets still open, nothing of it runs until SIGCONT or SIGKILL. */
  freeze(): void {
    this.signal('SIGSTOP');
  }

  /** Resolves with the first log line `matches` accepts, once the bot has written it. */
  async waitForLog(
    matches: (line: Record<string, unknown>) => boolean,
    timeoutMs = 10_000,
  ): Promise<Record<string, unknown>> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.logs.find(matches);
      if (found) return found;
      if (this.exit)
        throw new Error(
          `the bot exited (${JSON.stringify(this.exit)}) before the log line awaited:\n${this.stderr}${this.stdout}`,
        );
      if (Date.now() > deadline)
        throw new Error(
          `the bot did not log the line awaited in time:\n${this.stderr}${this.stdout}`,
        );
      await new Promise((r) => setTimeout(r, 20));
    }
  }
}

function parseLine(line: string): Record<string, unknown> {
  try {
    return JSON.parse(line) as Record<string, unknown>;
  } catch {
    return { message: line };
  }
}
