const VAR_RE = /\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g;

export interface Interpolated {
  value: unknown;
  missing: string[];
  /** Where a value held an unset reference: the paths of those strings in the tree. */
  missingAt: PropertyKey[][];
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
  const missingAt: PropertyKey[][] = [];
  const used = new Set<string>();
  const walk = (value: unknown, path: PropertyKey[]): unknown => {
    if (typeof value === 'string') {
      return value.replace(VAR_RE, (written: string, name: string) => {
        const found = env[name];
        if (found === undefined) {
          missing.add(name);
          missingAt.push(path);
          return keepMissing ? written : '';
        }
        used.add(found);
        return found;
      });
    }
    if (Array.isArray(value)) return value.map((v, i) => walk(v, [...path, i]));
    if (value && typeof value === 'object') {
      return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, walk(v, [...path, k])]));
    }
    return value;
  };
  const value = walk(node, []);
  return { value, missing: [...missing].sort(), missingAt, used: [...used] };
}
