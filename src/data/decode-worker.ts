/**
 * Worker thread of {@link DecodePool}: reads, decodes and resizes image files off the main thread
 * so that decoding an image folder (or prefetching batches of a lazily decoded one) never blocks
 * training. Messages: in `{ id, path, spec }`, out `{ id, data }` or `{ id, error: { file, problem, hint } }`.
 */
import { parentPort } from 'node:worker_threads';
import { BastionError, DataError } from '../util/errors.js';
import { decodeFileToSpec, type ImageSpec } from './image-decode.js';

interface Task {
  id: number;
  path: string;
  spec: ImageSpec;
}

const port = parentPort;
if (port === null) throw new Error('decode-worker.js must run as a worker thread');
port.on('message', (task: Task) => {
  try {
    const data = decodeFileToSpec(task.path, task.spec);
    port.postMessage({ id: task.id, data }, [data.buffer as ArrayBuffer]);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    let file = task.path;
    let problem: string;
    if (error instanceof DataError) {
      file = error.file;
      problem = error.message.startsWith(`${file}: `) ? error.message.slice(file.length + 2) : error.message;
    } else if (code === 'ENOENT') problem = 'file not found (it vanished while the folder was being read)';
    else problem = error instanceof Error ? error.message : String(error);
    port.postMessage({ id: task.id, error: { file, problem, hint: error instanceof BastionError ? error.hint : undefined } });
  }
});
