import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describeApi } from '../src/api';

/** Writes docs/openapi.json from the API's schemas (`npm run openapi`); a test checks it is current. */
const file = join(__dirname, '..', 'docs', 'openapi.json');
writeFileSync(file, `${JSON.stringify(describeApi(), null, 2)}\n`);
process.stdout.write(`wrote ${file}\n`);
