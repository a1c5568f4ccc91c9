// A test report whose failing test quotes the secret read from the file named (as an assertion message would).
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';

const v = readFileSync(process.argv[2], 'utf8');
const xml = (s) => s.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;');
const message = `expected token ${v} (base64 ${Buffer.from(v).toString('base64')}) to be accepted`;
mkdirSync('reports', { recursive: true });
writeFileSync(
  'reports/junit.xml',
  `<?xml version="1.0"?>\n<testsuites><testsuite name="auth" tests="1" failures="1"><testcase classname="auth" name="logs in with ${xml(v)}"><failure message="${xml(message)}">${xml(message)}</failure></testcase></testsuite></testsuites>\n`,
);
