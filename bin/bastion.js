#!/usr/bin/env node
// The `bastion` executable: runs the compiled CLI (npm run build compiles src/ into dist/).
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const entry = join(root, 'dist', 'src', 'cli', 'main.js');
if (!existsSync(entry)) {
  process.stderr.write('bastion: not built yet; run `npm run build` in ' + root + '\n');
  process.exit(1);
}
// A closed pipe (e.g. `bastion models | head`) ends the output, not the process with a stack trace.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (error) => {
    if (error.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw error;
  });
}
const { main } = await import(entry);
process.exitCode = await main(process.argv.slice(2), root);
