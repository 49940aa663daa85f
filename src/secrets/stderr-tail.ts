import type { Readable } from 'node:stream';
import { keepTail, scrub } from './scrub';

/**
 * The end of what a child process writes to stderr, for error text. Decoded across reads: a
 * character split between two would otherwise become two U+FFFD, and a secret holding it would no
 * longer be recognised. Kept to its last `keep` characters without a piece of a secret at the cut.
 */
export class StderrTail {
  private text = '';

  constructor(stream: Readable, keep: number) {
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => {
      this.text = keepTail(this.text + chunk, keep);
    });
  }

  /** Its last `max` characters, scrubbed before they are cut. */
  excerpt(max: number): string {
    return scrub(this.text.trim()).slice(-max);
  }
}
