/**
 * Reads a Dockerfile's stages as plain steps, so a test can carry them out in folders on this
 * machine (which cannot run containers): each stage's WORKDIR becomes a folder, COPY copies from
 * the build context or an earlier stage, RUN runs with `sh -c` there, ENV, USER, HEALTHCHECK and
 * CMD are kept for the run. Only the instructions Hallpass's Dockerfile uses are understood;
 * anything else throws, so the test cannot silently skip a step.
 */

export type Step =
  | { kind: 'copy'; from?: string; sources: string[]; dest: string }
  | { kind: 'run'; command: string };

export interface Stage {
  name?: string;
  base: string;
  workdir: string;
  env: Record<string, string>;
  steps: Step[];
  user?: string;
  volumes: string[];
  healthcheck?: string[];
  cmd?: string[];
}

/** Instructions joined across `\` line ends, comments and blank lines dropped. */
function instructions(text: string): string[] {
  const out: string[] = [];
  let current = '';
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (current === '' && (line === '' || line.startsWith('#'))) continue;
    if (line.endsWith('\\')) {
      current += `${line.slice(0, -1)} `;
      continue;
    }
    out.push(current + line);
    current = '';
  }
  return out;
}

function execForm(text: string): string[] {
  const parsed = JSON.parse(text) as unknown;
  if (!Array.isArray(parsed) || !parsed.every((p) => typeof p === 'string')) {
    throw new Error(`expected the exec form ["…"], got: ${text}`);
  }
  return parsed;
}

export function parseDockerfile(text: string): Stage[] {
  const stages: Stage[] = [];
  for (const line of instructions(text)) {
    const [keyword = '', ...words] = line.split(/\s+/);
    const rest = line.slice(keyword.length).trim();
    const stage = stages.at(-1);
    if (keyword === 'FROM') {
      stages.push({
        base: words[0]!,
        name: words[2],
        workdir: '/',
        env: {},
        steps: [],
        volumes: [],
      });
      continue;
    }
    if (!stage) throw new Error(`${keyword} before FROM`);
    switch (keyword) {
      case 'WORKDIR':
        stage.workdir = rest;
        break;
      case 'ENV':
        for (const pair of words) {
          const eq = pair.indexOf('=');
          if (eq < 1) throw new Error(`ENV wants KEY=value: ${line}`);
          stage.env[pair.slice(0, eq)] = pair.slice(eq + 1);
        }
        break;
      case 'COPY': {
        const from = words[0]?.startsWith('--from=') ? words.shift()!.slice(7) : undefined;
        if (words.some((w) => w.startsWith('--')))
          throw new Error(`unsupported COPY flag: ${line}`);
        stage.steps.push({ kind: 'copy', from, sources: words.slice(0, -1), dest: words.at(-1)! });
        break;
      }
      case 'RUN':
        stage.steps.push({ kind: 'run', command: rest });
        break;
      case 'USER':
        stage.user = rest;
        break;
      case 'VOLUME':
        stage.volumes.push(...words);
        break;
      case 'EXPOSE':
        break;
      case 'HEALTHCHECK': {
        const at = rest.indexOf('CMD ');
        stage.healthcheck = execForm(rest.slice(at + 4));
        break;
      }
      case 'CMD':
        stage.cmd = execForm(rest);
        break;
      default:
        throw new Error(`unsupported instruction: ${keyword}`);
    }
  }
  return stages;
}
