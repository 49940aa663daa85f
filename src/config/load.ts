import { readFileSync } from 'node:fs';
import { parseDocument } from 'yaml';
import type { z } from 'zod';
import { registerSecret } from '../secrets/scrub';
import { writtenSecrets } from './env-only';
import { registerConfigSecrets } from './secrets';
import { interpolateEnv } from './interpolate';
import { configSchema, type Config } from './schema';

/** A configuration problem, rendered as one line: `resources[2].maxDuration: must be >= minDuration`. */
export class ConfigError extends Error {
  constructor(
    readonly problems: string[],
    /** Variables that were unset when checking with `allowUnset`: worth a warning alongside. */
    readonly unset: string[] = [],
  ) {
    super(problems.join('\n'));
    this.name = 'ConfigError';
  }
}

/** The configuration file could not be read at all; its one problem names the file. */
export class ConfigUnreadable extends ConfigError {
  constructor(
    readonly path: string,
    /** The system's error code (`ENOENT`, `EACCES`, `EISDIR`…). */
    readonly code: string,
  ) {
    super([`${path}: cannot read configuration (${code})`]);
    this.name = 'ConfigUnreadable';
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

export interface ParseOptions {
  /**
   * Check a file whose secrets are not in this environment (CI, a laptop): an unset `${NAME}` is
   * reported in `unset` and checked as the text `${NAME}` instead of being a problem.
   */
  allowUnset?: boolean;
}

export interface Parsed {
  config: Config;
  unset: string[];
  /** With `allowUnset`: where values held an unset reference (as `formatPath` writes them). */
  unsetAt: string[];
}

/**
 * `problems` without those about a value that held an unset `${NAME}`: checked as that text, such
 * a value says nothing about what the variable will hold where the bot runs (the warning about it
 * stands instead).
 */
export function withoutUnset(problems: readonly string[], unsetAt: readonly string[]): string[] {
  return problems.filter((problem) => {
    const at = problem.slice(0, problem.indexOf(': '));
    return !unsetAt.some(
      (path) => at === path || at.startsWith(`${path}.`) || at.startsWith(`${path}[`),
    );
  });
}

/** The document as plain values; the YAML library throws on alias bombs and the like. */
function toJS(doc: ReturnType<typeof parseDocument>): unknown {
  try {
    return doc.toJS();
  } catch (err) {
    throw new ConfigError([`yaml: ${err instanceof Error ? err.message : String(err)}`]);
  }
}

export function parseConfigText(
  text: string,
  env: NodeJS.ProcessEnv,
  options: ParseOptions = {},
): Parsed {
  const doc = parseDocument(text);
  if (doc.errors.length > 0) {
    throw new ConfigError(doc.errors.map((e) => `yaml: ${e.message.split('\n')[0]}`));
  }
  const raw = toJS(doc);
  const written = writtenSecrets(raw);
  const { value, missing, missingAt, used } = interpolateEnv(raw, env, options.allowUnset);
  const unsetAt = options.allowUnset ? missingAt.map(formatPath) : [];
  // Every value taken from the environment is treated as a secret in every text that leaves.
  used.forEach(registerSecret);
  const problems = [
    ...written,
    ...(options.allowUnset
      ? []
      : missing.map(
          (name) => `environment variable ${name} is not set (referenced as \${${name}})`,
        )),
  ];
  const parsed = configSchema.safeParse(value ?? {});
  if (!parsed.success) {
    const found = [...problems, ...withoutUnset(formatIssues(parsed.error.issues), unsetAt)];
    // Only problems of values that held an unset reference: the file is checked as well as it can
    // be here, but it cannot be parsed into a configuration to check further.
    if (found.length === 0)
      throw new ConfigError(
        [
          `${unsetAt.join(', ')}: these values name unset variables and do not parse as written; set the variables to check the file`,
        ],
        missing,
      );
    throw new ConfigError(found, options.allowUnset ? missing : []);
  }
  if (problems.length > 0) throw new ConfigError(problems);
  // Also the secrets written in the file: the CLI calls providers too (grants reconcile).
  registerConfigSecrets(parsed.data);
  return { config: parsed.data, unset: missing, unsetAt };
}

export function parseConfig(text: string, env: NodeJS.ProcessEnv): Config {
  return parseConfigText(text, env).config;
}

export function loadConfig(path: string, env: NodeJS.ProcessEnv): Config {
  return loadConfigText(path, env).config;
}

export function loadConfigText(
  path: string,
  env: NodeJS.ProcessEnv,
  options: ParseOptions = {},
): Parsed {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigUnreadable(path, (err as NodeJS.ErrnoException).code ?? String(err));
  }
  return parseConfigText(text, env, options);
}
