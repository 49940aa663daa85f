const VAR_RE = /\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g;

export interface Interpolated {
  value: unknown;
  missing: string[];
  /** The values put in: secrets by policy (whatever lives in the environment stays out of text). */
  used: string[];
}

/**
 * Replaces `${NAME}` in every string of a parsed YAML tree with the environment variable NAME.
 * An unset one becomes '' (and is reported), or stays as written with `keepMissing`.
 */
export function interpolateEnv(
  node: unknown,
  env: NodeJS.ProcessEnv,
  keepMissing = false,
): Interpolated {
  const missing = new Set<string>();
  const used = new Set<string>();
  const walk = (value: unknown): unknown => {
    if (typeof value === 'string') {
      return value.replace(VAR_RE, (written: string, name: string) => {
        const found = env[name];
        if (found === undefined) {
          missing.add(name);
          return keepMissing ? written : '';
        }
        used.add(found);
        return found;
      });
    }
    if (Array.isArray(value)) return value.map(walk);
    if (value && typeof value === 'object') {
      return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, walk(v)]));
    }
    return value;
  };
  return { value: walk(node), missing: [...missing].sort(), used: [...used] };
}
