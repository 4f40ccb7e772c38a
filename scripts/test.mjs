#!/usr/bin/env node
// Runs the test suites: every dist/test/**/*.test.js (compiled from test/**/*.test.ts) with
// node:test, one file at a time (the machine's cores go to libtorch inside each test).
// Helper modules under test/ are not test files and are not run. Extra arguments (e.g. a
// folder such as dist/test/attacks) restrict the run to files under those paths.
import { readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { spawnSync } from 'node:child_process';

function collect(dir, out) {
  for (const name of readdirSync(dir).sort()) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) collect(path, out);
    else if (name.endsWith('.test.js')) out.push(path);
  }
  return out;
}

const roots = process.argv.slice(2).length > 0 ? process.argv.slice(2) : ['dist/test'];
const files = roots.flatMap((root) => (statSync(root).isDirectory() ? collect(root, []) : [root])).map((f) => resolve(f));
if (files.length === 0) {
  console.error('test: no *.test.js files found; run `npm run build:ts` first');
  process.exit(1);
}
const result = spawnSync(process.execPath, ['--test', '--test-concurrency=1', ...files], { stdio: 'inherit' });
process.exit(result.status ?? 1);
