/**
 * Reads one connection's round trips back as the statements they run. A transaction's round trip
 * prepares each statement the first time its connection sends it (`PREPARE hx_1 AS …`) and runs it
 * by name with its values (`EXECUTE hx_1('a', NULL)`); read back, a PREPARE is dropped and an
 * EXECUTE is the statement it names with its values written in, so a test can say what ran.
 */
export class RoundTripText {
  private readonly prepared = new Map<string, string>();

  read(trip: string): string {
    const statements: string[] = [];
    for (const statement of trip.split(';\n')) {
      const prepare = /^PREPARE (\w+) AS ([\s\S]*)$/.exec(statement);
      if (prepare) {
        this.prepared.set(prepare[1]!, prepare[2]!);
        continue;
      }
      const execute = /^EXECUTE (\w+)(?:\(([\s\S]*)\))?$/.exec(statement);
      const text = execute && this.prepared.get(execute[1]!);
      if (!text) {
        statements.push(statement);
        continue;
      }
      const values = execute[2]?.match(/NULL|E?'(?:[^']|'')*'/g) ?? [];
      statements.push(text.replace(/\$(\d+)/g, (_, n: string) => values[Number(n) - 1] ?? '?'));
    }
    return statements.join(';\n');
  }
}
