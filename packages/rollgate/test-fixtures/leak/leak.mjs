// A pipeline stage that prints the secrets it read from the files named on its command line, in every form.
import { readFileSync } from 'node:fs';
import { forms } from './forms.mjs';

for (const file of process.argv.slice(2)) {
  for (const [label, line] of forms(readFileSync(file, 'utf8'))) console.log(`${file} ${label}: ${line}`);
}
