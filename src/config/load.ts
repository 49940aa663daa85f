import { readFileSync } from 'node:fs';
import { parseDocument } from 'yaml';
import type { z } from 'zod';
import { interpolateEnv } from './interpolate';
import { configSchema, type Config } from './schema';

/** A configuration problem, rendered as one line: `resources[2].maxDuration: must be >= minDuration`. */
export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(problems.join('\n'));
    this.name = 'ConfigError';
  }
}

export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const key of path) {
    if (typeof key === 'number') out += `[${key}]`;
    else out += out ? `.${String(key)}` : String(key);
  }
  return out || '(root)';
}

export function formatIssues(
  issues: readonly z.core.$ZodIssue[],
  prefix: PropertyKey[] = [],
): string[] {
  return issues.flatMap((issue) => {
    const path = [...prefix, ...issue.path];
    if (issue.code === 'unrecognized_keys') {
      return issue.keys.map((key) => `${formatPath([...path, key])}: unknown key`);
    }
    return [`${formatPath(path)}: ${issue.message}`];
  });
}

export function parseConfig(text: string, env: NodeJS.ProcessEnv): Config {
  const doc = parseDocument(text);
  if (doc.errors.length > 0) {
    throw new ConfigError(doc.errors.map((e) => `yaml: ${e.message.split('\n')[0]}`));
  }
  const { value, missing } = interpolateEnv(doc.toJS(), env);
  const problems = missing.map(
    (name) => `environment variable ${name} is not set (referenced as \${${name}})`,
  );
  const parsed = configSchema.safeParse(value ?? {});
  if (!parsed.success) throw new ConfigError([...problems, ...formatIssues(parsed.error.issues)]);
  if (problems.length > 0) throw new ConfigError(problems);
  return parsed.data;
}

export function loadConfig(path: string, env: NodeJS.ProcessEnv): Config {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new ConfigError([`${path}: cannot read configuration (${code ?? String(err)})`]);
  }
  return parseConfig(text, env);
}
