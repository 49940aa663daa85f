/**
 * Reads one statement as pg_stat_statements keeps it, to say what it was without repeating any
 * value in it. pg_stat_statements replaces constants by `$1`, `$2`… only in planned statements
 * (SELECT, INSERT, UPDATE, DELETE, MERGE); utility statements (`ALTER ROLE … PASSWORD '…'`,
 * `COPY`, `CREATE TABLE … AS`, `SELECT … INTO`) keep their text as typed, and every statement
 * keeps its comments. So: the command is built from a fixed list of keywords only, the text is
 * kept only for planned statements, without comments, and only if no literal is left in it.
 */

type TokenKind = 'word' | 'quoted' | 'param' | 'number' | 'string' | 'symbol';

interface Token {
  kind: TokenKind;
  text: string;
  /** Upper-cased text of a word, for keyword tests. */
  upper: string;
  /** Whitespace or a comment came before it. */
  spaced: boolean;
}

export interface StatementShape {
  /** E.g. `SELECT`, `CREATE TABLE AS`, `ALTER ROLE`; `OTHER` when not recognised. */
  command: string;
  /** Normalized text without comments, for planned statements with no literal left. */
  text?: string;
  /** Tables a planned statement reads or writes, where its text names them plainly. */
  tables: string[];
}

const MAX_TEXT = 1000;
const PLANNED = new Set([
  'SELECT',
  'INSERT',
  'UPDATE',
  'DELETE',
  'MERGE',
  'WITH',
  'VALUES',
  'TABLE',
]);
const QUERY_START = new Set([...PLANNED]);
/** First words of utility commands, named as they are (the command tag's first word). */
const UTILITY = new Set(
  (
    'ABORT ALTER ANALYZE ANALYSE BEGIN CALL CHECKPOINT CLOSE CLUSTER COMMENT COMMIT COPY CREATE ' +
    'DEALLOCATE DECLARE DISCARD DO DROP END EXECUTE EXPLAIN FETCH GRANT IMPORT LISTEN LOAD LOCK ' +
    'MOVE NOTIFY PREPARE REASSIGN REFRESH REINDEX RELEASE RESET REVOKE ROLLBACK SAVEPOINT ' +
    'SECURITY SET SHOW START TRUNCATE UNLISTEN VACUUM'
  ).split(' '),
);
/** Words between CREATE/ALTER/DROP and the kind of object, left out of the command. */
const MODIFIERS = new Set(
  'OR REPLACE TEMP TEMPORARY UNLOGGED GLOBAL LOCAL UNIQUE TRUSTED PROCEDURAL RECURSIVE CONSTRAINT'.split(
    ' ',
  ),
);
/** Kinds of object, one or two words, that may follow CREATE, ALTER or DROP in the command. */
const OBJECT_KINDS = [
  'ACCESS METHOD',
  'DEFAULT PRIVILEGES',
  'EVENT TRIGGER',
  'FOREIGN DATA',
  'FOREIGN TABLE',
  'LARGE OBJECT',
  'MATERIALIZED VIEW',
  'OPERATOR CLASS',
  'OPERATOR FAMILY',
  'TEXT SEARCH',
  'USER MAPPING',
  ...(
    'AGGREGATE CAST COLLATION CONVERSION DATABASE DOMAIN EXTENSION FUNCTION GROUP INDEX LANGUAGE ' +
    'OPERATOR OWNED POLICY PROCEDURE PUBLICATION ROLE ROUTINE RULE SCHEMA SEQUENCE SERVER ' +
    'STATISTICS SUBSCRIPTION SYSTEM TABLE TABLESPACE TRANSFORM TRIGGER TYPE USER VIEW'
  ).split(' '),
];
/** Words that cannot be a table's name where one is expected (reserved, or a clause's next word). */
const NOT_A_NAME = new Set(
  (
    'ALL ANALYSE ANALYZE AND ANY ARRAY AS ASC ASYMMETRIC BOTH CASE CAST CHECK COLLATE COLUMN ' +
    'CONSTRAINT CREATE CROSS CURRENT_CATALOG CURRENT_DATE CURRENT_ROLE CURRENT_TIME ' +
    'CURRENT_TIMESTAMP CURRENT_USER DEFAULT DEFERRABLE DESC DISTINCT DO ELSE END EXCEPT FALSE ' +
    'FETCH FOR FOREIGN FROM FULL GRANT GROUP HAVING IN INITIALLY INNER INTERSECT INTO JOIN KEY ' +
    'LATERAL LEADING LEFT LIMIT LOCALTIME LOCALTIMESTAMP NATURAL NOT NOWAIT NULL OF OFFSET ON ' +
    'ONLY OR ORDER OUTER PLACING PRIMARY REFERENCES RETURNING RIGHT ROWS SELECT SESSION_USER SET ' +
    'SKIP SOME SYMMETRIC TABLE TABLESAMPLE THEN TO TRAILING TRUE UNION UNIQUE USER USING VALUES ' +
    'VARIADIC WHEN WHERE WINDOW WITH'
  ).split(' '),
);

export function readStatement(sql: string): StatementShape {
  const tokens = tokenize(sql);
  const body = preparedBody(tokens) ?? tokens;
  const first = body.find((t) => t.text !== '(');
  const verb = first?.kind === 'word' ? first.upper : '';
  if (PLANNED.has(verb) && !selectsInto(body)) {
    const safe = tokens.every((t) => t.kind !== 'string' && t.kind !== 'number');
    return {
      command: plannedCommand(body, verb),
      ...(safe ? { text: render(tokens) } : {}),
      tables: tablesOf(body),
    };
  }
  return { command: utilityCommand(body, verb), tables: [] };
}

/**
 * pg_stat_statements does not count PREPARE itself; a prepared statement it counts when executed
 * keeps the text `PREPARE name [(types)] AS <statement>`, normalized like any planned statement.
 */
function preparedBody(tokens: Token[]): Token[] | undefined {
  if (tokens[0]?.upper !== 'PREPARE') return undefined;
  let at = 2;
  if (tokens[at]?.text === '(') at = matchingParen(tokens, at);
  return tokens[at]?.upper === 'AS' ? tokens.slice(at + 1) : undefined;
}

/** PostgreSQL's lexical structure, as far as telling names, parameters and literals apart. */
function tokenize(sql: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  let spaced = false;
  const push = (kind: TokenKind, end: number) => {
    const text = sql.slice(i, end);
    tokens.push({ kind, text, upper: kind === 'word' ? text.toUpperCase() : text, spaced });
    spaced = false;
    i = end;
  };
  while (i < sql.length) {
    const c = sql[i]!;
    const next = sql[i + 1];
    if (/\s/.test(c)) {
      spaced = true;
      i++;
    } else if (c === '-' && next === '-') {
      const eol = sql.indexOf('\n', i);
      i = eol === -1 ? sql.length : eol;
      spaced = true;
    } else if (c === '/' && next === '*') {
      i = commentEnd(sql, i);
      spaced = true;
    } else if (c === "'") {
      push('string', quotedEnd(sql, i, "'"));
    } else if (c === '"') {
      push('quoted', quotedEnd(sql, i, '"'));
    } else if (c === '$' && /[0-9]/.test(next ?? '')) {
      push('param', runEnd(sql, i + 1, /[0-9]/));
    } else if (c === '$') {
      const tag = /^\$([A-Za-z_\u0080-\uffff][A-Za-z0-9_\u0080-\uffff]*)?\$/.exec(sql.slice(i));
      if (tag) {
        const close = sql.indexOf(tag[0], i + tag[0].length);
        push('string', close === -1 ? sql.length : close + tag[0].length);
      } else push('symbol', i + 1);
    } else if (/[0-9]/.test(c) || (c === '.' && /[0-9]/.test(next ?? ''))) {
      push('number', numberEnd(sql, i));
    } else if (/[A-Za-z_\u0080-\uffff]/.test(c)) {
      push('word', runEnd(sql, i + 1, /[A-Za-z0-9_$\u0080-\uffff]/));
    } else if (/[+\-*/<>=~!@#%^&|`?]/.test(c)) {
      push('symbol', operatorEnd(sql, i));
    } else {
      push('symbol', i + 1);
    }
  }
  return tokens;
}

function runEnd(sql: string, from: number, char: RegExp): number {
  let end = from;
  while (end < sql.length && char.test(sql[end]!)) end++;
  return end;
}

/** Past the closing quote; a doubled quote is part of the text. Unterminated: the end. */
function quotedEnd(sql: string, start: number, quote: string): number {
  let end = start + 1;
  while (end < sql.length) {
    if (sql[end] === quote && sql[end + 1] === quote) end += 2;
    else if (sql[end] === quote) return end + 1;
    else end++;
  }
  return end;
}

/** Block comments nest in PostgreSQL. */
function commentEnd(sql: string, start: number): number {
  let depth = 0;
  let end = start;
  while (end < sql.length) {
    if (sql.startsWith('/*', end)) {
      depth++;
      end += 2;
    } else if (sql.startsWith('*/', end)) {
      depth--;
      end += 2;
      if (depth === 0) return end;
    } else end++;
  }
  return end;
}

/** Digits, a point, an exponent, and the hex/underscore forms of PostgreSQL 16. */
function numberEnd(sql: string, start: number): number {
  let end = start;
  while (end < sql.length) {
    const c = sql[end]!;
    if (/[0-9A-Za-z_.]/.test(c)) end++;
    else if ((c === '+' || c === '-') && /[eE]/.test(sql[end - 1]!)) end++;
    else break;
  }
  return end;
}

/** An operator runs on, but `--` and `/*` start a comment even inside one. */
function operatorEnd(sql: string, start: number): number {
  let end = start + 1;
  while (
    end < sql.length &&
    /[+\-*/<>=~!@#%^&|`?]/.test(sql[end]!) &&
    !sql.startsWith('--', end) &&
    !sql.startsWith('/*', end)
  ) {
    end++;
  }
  return end;
}

/** The text again, comments gone and each run of blanks one space. */
function render(tokens: Token[]): string {
  let text = '';
  for (const token of tokens) {
    const piece = (text && token.spaced ? ' ' : '') + token.text;
    if (text.length + piece.length > MAX_TEXT) return `${text} …`;
    text += piece;
  }
  return text;
}

/** `SELECT … INTO t` creates a table: a utility statement, kept with its literals. */
function selectsInto(tokens: Token[]): boolean {
  return tokens.some(
    (t, i) => t.upper === 'INTO' && !['INSERT', 'MERGE'].includes(tokens[i - 1]?.upper ?? ''),
  );
}

/** A WITH statement is named by its main statement, the first one outside parentheses. */
function plannedCommand(tokens: Token[], verb: string): string {
  if (verb === 'VALUES' || verb === 'TABLE') return 'SELECT';
  if (verb !== 'WITH') return verb;
  let depth = 0;
  for (const token of tokens) {
    if (token.text === '(') depth++;
    else if (token.text === ')') depth--;
    else if (depth === 0 && token.upper !== 'WITH' && QUERY_START.has(token.upper)) {
      return plannedCommand(tokens, token.upper);
    }
  }
  return 'SELECT';
}

function utilityCommand(tokens: Token[], verb: string): string {
  if (verb === 'SELECT' || verb === 'WITH' || verb === 'VALUES' || verb === 'TABLE')
    return 'SELECT INTO';
  if (!UTILITY.has(verb)) return 'OTHER';
  if (!['CREATE', 'ALTER', 'DROP'].includes(verb)) {
    return verb === 'REFRESH' ? 'REFRESH MATERIALIZED VIEW' : verb;
  }
  const words = tokens.filter((t) => t.kind === 'word').map((t) => t.upper);
  let at = words.indexOf(verb) + 1;
  while (MODIFIERS.has(words[at] ?? '')) at++;
  const pair = `${words[at] ?? ''} ${words[at + 1] ?? ''}`;
  const kind = OBJECT_KINDS.find((k) => k === pair) ?? OBJECT_KINDS.find((k) => k === words[at]);
  if (!kind) return verb;
  if (verb === 'CREATE' && kind === 'TABLE' && hasTopLevel(tokens, 'AS')) return 'CREATE TABLE AS';
  return `${verb} ${kind}`;
}

function hasTopLevel(tokens: Token[], word: string): boolean {
  let depth = 0;
  for (const token of tokens) {
    if (token.text === '(') depth++;
    else if (token.text === ')') depth--;
    else if (depth === 0 && token.upper === word) return true;
  }
  return false;
}

/**
 * The names after FROM, JOIN, UPDATE, INSERT/MERGE INTO and USING, in the statement itself and in
 * parenthesised subqueries; not inside function calls (`extract(year FROM d)`), not functions in
 * FROM, not the statement's own WITH names. Anything less plain is left out.
 */
function tablesOf(tokens: Token[]): string[] {
  const ctes = cteNames(tokens);
  const found = new Set<string>();
  const inQuery: boolean[] = [true];
  for (let i = 0; i < tokens.length; i++) {
    const token = tokens[i]!;
    if (token.text === '(') {
      inQuery.push(QUERY_START.has(tokens[i + 1]?.upper ?? ''));
      continue;
    }
    if (token.text === ')') {
      if (inQuery.length > 1) inQuery.pop();
      continue;
    }
    if (!inQuery[inQuery.length - 1] || token.kind !== 'word') continue;
    if (namesTables(token.upper, tokens[i - 1]?.upper ?? '', i)) {
      i = readTableList(tokens, i + 1, token.upper, ctes, found) - 1;
    }
  }
  return [...found];
}

/** Whether `word`, after `before`, at `index`, is followed by table names. */
function namesTables(word: string, before: string, index: number): boolean {
  switch (word) {
    case 'FROM':
      return before !== 'DISTINCT'; // IS [NOT] DISTINCT FROM x compares values
    case 'JOIN':
    case 'USING':
      return true;
    case 'UPDATE':
      return !['FOR', 'KEY', 'DO'].includes(before); // row locks; ON CONFLICT DO UPDATE SET
    case 'INTO':
      return before === 'INSERT' || before === 'MERGE';
    case 'TABLE':
      return index === 0; // the statement `TABLE t`
    default:
      return false;
  }
}

/** Reads `name [alias], name [alias], …` from `at`; returns where it stopped. */
function readTableList(
  tokens: Token[],
  at: number,
  clause: string,
  ctes: Set<string>,
  found: Set<string>,
): number {
  let i = at;
  for (;;) {
    if (tokens[i]?.upper === 'ONLY') i++;
    const name = readName(tokens, i);
    if (!name) return i;
    i = name.end;
    // A name followed by `(` in FROM is a function; after INTO it is the column list.
    if (clause !== 'INTO' && tokens[i]?.text === '(') return i;
    if (!(name.parts.length === 1 && ctes.has(name.parts[0]!))) found.add(name.parts.join('.'));
    if (clause !== 'FROM' && clause !== 'USING') return i;
    if (tokens[i]?.upper === 'AS') i++;
    if (readName(tokens, i)?.parts.length === 1) i++;
    if (tokens[i]?.text === '(') i = matchingParen(tokens, i);
    if (tokens[i]?.text !== ',') return i;
    i++;
  }
}

/** `a`, `s.a`, `"S"."A"`: unquoted parts folded to lower case as PostgreSQL does. */
function readName(tokens: Token[], at: number): { parts: string[]; end: number } | undefined {
  const parts: string[] = [];
  let i = at;
  for (;;) {
    const token = tokens[i];
    if (token?.kind === 'quoted') parts.push(token.text);
    else if (token?.kind === 'word' && !NOT_A_NAME.has(token.upper))
      parts.push(token.text.toLowerCase());
    else return parts.length > 0 ? { parts, end: i } : undefined;
    i++;
    if (tokens[i]?.text !== '.') return { parts, end: i };
    i++;
  }
}

function matchingParen(tokens: Token[], open: number): number {
  let depth = 0;
  for (let i = open; i < tokens.length; i++) {
    if (tokens[i]!.text === '(') depth++;
    else if (tokens[i]!.text === ')' && --depth === 0) return i + 1;
  }
  return tokens.length;
}

/** Names a WITH clause defines: `name [(cols)] AS [NOT] [MATERIALIZED] (`. */
function cteNames(tokens: Token[]): Set<string> {
  const names = new Set<string>();
  tokens.forEach((token, i) => {
    if (token.kind !== 'word' && token.kind !== 'quoted') return;
    if (!['WITH', 'RECURSIVE', ','].includes(tokens[i - 1]?.upper ?? '')) return;
    let j = i + 1;
    if (tokens[j]?.text === '(') j = matchingParen(tokens, j);
    if (tokens[j]?.upper !== 'AS') return;
    j++;
    if (tokens[j]?.upper === 'NOT') j++;
    if (tokens[j]?.upper === 'MATERIALIZED') j++;
    if (tokens[j]?.text === '(')
      names.add(token.kind === 'word' ? token.text.toLowerCase() : token.text);
  });
  return names;
}
