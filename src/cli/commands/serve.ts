/** `bastion serve`: the local dashboard (run reports and the attack playground). */
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { numberOption, stringOption } from '../args.js';
import type { Command } from '../command.js';

/** The `bastion serve` command. */
export const serveCommand: Command = {
  name: 'serve',
  onInterrupt: 'stop',
  summary: 'Serve the local dashboard: run reports and a live attack playground (127.0.0.1 only by default)',
  usage: 'serve [--runs DIR] [--port N] [--host ADDRESS] [--attack-timeout SECONDS] [--queue N] [--models N]',
  description:
    'Lists the runs under the runs folder (folders with results.json, summary.json or eval.json) and shows their reports, ' +
    'and serves a playground: pick a test image, upload a PNG/JPEG or draw one; choose a classifier and optionally a purifier ' +
    '(checkpoints found under the runs folder and the model cache), an attack and eps; see the adversarial image, the ' +
    'perturbation, the purified image and the predictions change live. Binds to 127.0.0.1 unless --host is given; there is ' +
    'no authentication, so only bind to another address on a network you trust. Attacks run on a worker thread, one at a ' +
    'time, so pages stay responsive; attacks beyond --queue waiting ones are refused (503), and one running past ' +
    '--attack-timeout is stopped (504). Stop with Ctrl-C.',
  options: {
    runs: { type: 'string', valueName: 'DIR', description: 'runs folder (default runs/ in the current folder, else beside the checkout)' },
    port: { type: 'string', valueName: 'N', description: 'TCP port (default 8080; 0 picks a free one)' },
    host: { type: 'string', valueName: 'ADDRESS', default: '127.0.0.1', description: 'address to listen on' },
    'attack-timeout': { type: 'string', valueName: 'SECONDS', description: 'time limit of one playground attack (default 60)' },
    queue: { type: 'string', valueName: 'N', description: 'playground attacks allowed to wait (default 16)' },
    models: { type: 'string', valueName: 'N', description: 'loaded models kept in memory, least recently used dropped first (default 4)' },
  },
  examples: ['bastion serve', 'bastion serve --runs runs --port 9000'],
  async run({ values, print, signal }) {
    const { packageRoot } = await import('../../tensor/native.js');
    const { startDashboard } = await import('../../report/server.js');
    const given = stringOption(values, 'runs');
    const runsDir = resolve(given ?? (existsSync('runs') ? 'runs' : join(packageRoot, 'runs')));
    if (!given) await mkdir(runsDir, { recursive: true });
    const host = stringOption(values, 'host', '127.0.0.1') as string;
    const port = numberOption(values, 'port', 8080, { min: 0, max: 65535, integer: true });
    const attackTimeout = numberOption(values, 'attack-timeout', 60, { min: 0.1, max: 86_400 });
    const maxQueuedAttacks = numberOption(values, 'queue', 16, { min: 0, max: 10_000, integer: true });
    const maxLoadedModels = numberOption(values, 'models', 4, { min: 1, max: 1000, integer: true });
    const dashboard = await startDashboard({
      runsDir, port, host, attackTimeoutMs: attackTimeout * 1000, maxQueuedAttacks, maxLoadedModels,
      log: (line) => process.stderr.write(`${line}\n`),
    });
    print(`dashboard: ${dashboard.url} (runs: ${runsDir}); playground: ${dashboard.url}play; Ctrl-C to stop`);
    if (!['127.0.0.1', 'localhost', '::1'].includes(host)) print(`warning: listening on ${host}, reachable from other machines, without authentication`);
    // Ctrl-C reaches us as the command's signal (src/cli/main.ts); SIGTERM directly.
    await new Promise<void>((resolveStop) => {
      const stop = (): void => {
        signal?.removeEventListener('abort', stop);
        process.off('SIGTERM', stop);
        resolveStop();
      };
      if (signal?.aborted === true) stop();
      signal?.addEventListener('abort', stop);
      process.on('SIGTERM', stop);
    });
    await dashboard.close();
    print('dashboard stopped');
    return { url: dashboard.url, runsDir };
  },
};
