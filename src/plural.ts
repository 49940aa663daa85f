/** `1 grant`, `2 grants`; `many` for words whose plural is not the singular plus s. */
export function plural(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}
