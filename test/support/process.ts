import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';

const ROOT = join(__dirname, '..', '..');
const TSX = join(ROOT, 'node_modules', '.bin', 'tsx');

/**
 * How the bot is started: `tsx` runs src/main.ts without a build; `npm start` is the README's
 * way (package.json's prestart builds dist/ when out of date, then start runs `node dist/main.js`);
 * `node` runs `node dist/main.js` alone, as deployed (after `ensureBuilt`).
 */
export type Launch = 'tsx' | 'npm start' | 'node';

const LAUNCH: Record<Launch, [string, string[]]> = {
  tsx: [TSX, [join(ROOT, 'src', 'main.ts')]],
  'npm start': ['npm', ['start']],
  node: [process.execPath, [join(ROOT, 'dist', 'main.js')]],
};

/** What `npm start` runs first: compiles dist/ when it is missing or older than src/. */
export async function ensureBuilt(): Promise<void> {
  await promisify(execFile)(process.execPath, [join(ROOT, 'scripts', 'ensure-built.js')], {
    cwd: ROOT,
  });
}

export interface Finished extends BotExit {
  stdout: string;
  stderr: string;
}

/**
 * Runs the built bot, `node dist/main.js`, from `cwd` with exactly `env` (plus PATH) until it
 * exits; one still running after `timeoutMs` is killed and the promise rejects.
 */
export function runBuilt(
  env: Record<string, string>,
  cwd = ROOT,
  timeoutMs = 20_000,
): Promise<Finished> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(ROOT, 'dist', 'main.js')], {
      cwd,
      env: { PATH: process.env.PATH ?? '', ...env },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      if (signal === 'SIGKILL')
        reject(new Error(`node dist/main.js was still running after ${timeoutMs} ms:\n${stderr}`));
      else resolve({ code, signal, stdout, stderr });
    });
  });
}

/**
 * Runs the `hallpass` command line from source (`tsx src/cli/main.ts <args>`) as its own
 * process, with exactly `env` (plus PATH), until it exits; one still running after `timeoutMs`
 * is killed and the promise rejects. What an operator runs next to the bot (`hallpass grants
 * close …`), without needing the build that bin/hallpass.js runs.
 */
export function runHallpassCli(
  args: string[],
  env: Record<string, string>,
  // A guard against a hang, not a timing: compiling the CLI with tsx takes seconds on a busy machine.
  timeoutMs = 90_000,
): Promise<Finished> {
  return new Promise((resolve, reject) => {
    const child = spawn(TSX, [join(ROOT, 'src', 'cli', 'main.ts'), ...args], {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? '', ...env },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      if (signal === 'SIGKILL')
        reject(new Error(`hallpass ${args.join(' ')} was still running after ${timeoutMs} ms`));
      else resolve({ code, signal, stdout, stderr });
    });
  });
}

export interface ProcessInfo {
  pid: number;
  ppid: number;
  /** `ps`'s state letter: `Z` is a zombie, exited but not yet reaped. */
  state: string;
  args: string[];
}

/** The processes of process group `pgid`, from /proc (Linux). */
export function processesInGroup(pgid: number): ProcessInfo[] {
  const found: ProcessInfo[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    let stat: string;
    let cmdline: string;
    try {
      stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      cmdline = readFileSync(`/proc/${name}/cmdline`, 'utf8');
    } catch {
      continue; // it exited while we looked
    }
    // `pid (comm) state ppid pgrp …`; comm may hold spaces and parentheses.
    const [state, ppid, pgrp] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (Number(pgrp) !== pgid) continue;
    found.push({
      pid: Number(name),
      ppid: Number(ppid),
      state: state!,
      args: cmdline.split('\0').slice(0, -1),
    });
  }
  return found;
}

/** Whether `pid` is a process that has not exited (a zombie has). */
export function isRunning(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

export interface BotExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/**
 * The bot running as its own process: by default `src/main.ts` through tsx instead of the build,
 * or through `npm start`. tsx (like npm) runs the program in a child of its own, so signals go to
 * the whole process group: a SIGKILL must kill the bot itself, not only tsx. Every bot started
 * here is tracked, and `BotProcess.killAll()` ends whichever are still running (for afterEach).
 */
export class BotProcess {
  private static readonly running = new Set<BotProcess>();
  stdout = '';
  stderr = '';
  readonly exited: Promise<BotExit>;
  private exit?: BotExit;
  private killedOnPurpose = false;

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
  static async start(
    env: Record<string, string>,
    timeoutMs = 90_000,
    launch: Launch = 'tsx',
  ): Promise<BotProcess> {
    const bot = BotProcess.spawn(env, launch);
    try {
      await bot.waitForLog((line) => line.message === 'hallpass started', timeoutMs);
    } catch (err) {
      bot.signal('SIGKILL');
      await bot.exited;
      throw err;
    }
    return bot;
  }

  /**
   * Starts the bot without waiting for it to listen: for a start that is expected to fail, read
   * `exited` and `stderr`. Tracked like any other, so `killAll()` ends it if it did start.
   */
  static spawn(env: Record<string, string>, launch: Launch = 'tsx'): BotProcess {
    const [command, args] = LAUNCH[launch];
    const child = spawn(command, args, {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? '', LOG_LEVEL: 'info', ...env },
      detached: true,
    });
    return new BotProcess(child);
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

  /** The process started (tsx or npm), which leads the process group of the bot. */
  get pid(): number {
    if (this.child.pid === undefined) throw new Error('the process did not start');
    return this.child.pid;
  }

  /** Sends `signal` to the process started alone, as a supervisor (Docker, systemd) would. */
  signalLeader(signal: NodeJS.Signals): void {
    if (!this.exit) this.child.kill(signal);
  }

  /**
   * Why the bot stopped when nobody sent it a signal: its exit and the end of its stderr, for a
   * test to show. Undefined while it runs, or when it stopped because it was told to.
   */
  get crash(): string | undefined {
    if (!this.exit || this.killedOnPurpose) return undefined;
    return `exited ${JSON.stringify(this.exit)}:\n${this.stderr.slice(-2000)}`;
  }

  /** Sends `signal` to the bot's process group (tsx and the program it runs). */
  signal(signal: NodeJS.Signals): void {
    this.killedOnPurpose = true;
    if (this.exit || this.child.pid === undefined) return;
    try {
      process.kill(-this.child.pid, signal);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
    }
  }

  /**
   * Sends `signal` to the bot program alone (src/main.ts or dist/main.js), not to the tsx or npm
   * process that runs it, which then exits with the program's code. tsx passes on a signal sent
   * to itself only if the program reports it within 30 ms, and otherwise kills the program
   * (exit 143): a busy machine misses that, so a graceful stop that must end with 0 signals here.
   */
  signalProgram(signal: NodeJS.Signals): void {
    this.killedOnPurpose = true;
    if (this.exit) return;
    const group = processesInGroup(this.pid);
    const runsMain = group.filter(
      (p) => p.state !== 'Z' && p.args.some((arg) => /(src\/main\.ts|dist\/main\.js)$/.test(arg)),
    );
    // The program is the innermost process running main: tsx (and npm) wrap it, and it may
    // have children of its own (tsx's esbuild service).
    const wrappers = new Set(runsMain.map((p) => p.ppid));
    const program = runsMain.find((p) => !wrappers.has(p.pid));
    if (!program) {
      const seen = group.map((p) => `${p.pid} ${p.state} ${p.args.join(' ')}`).join('\n');
      throw new Error(
        `the bot program is not running; its process group:\n${seen}\nstdout:\n${this.stdout.slice(-1500)}\nstderr:\n${this.stderr.slice(-1500)}`,
      );
    }
    process.kill(program.pid, signal);
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
