/** `bastion info`: the engine, its libtorch build, threads and devices. */
import type { Command } from '../command.js';

export const infoCommand: Command = {
  name: 'info',
  summary: 'Show the engine: libtorch version, threads, CUDA, BLAS/oneDNN build, bfloat16 support',
  usage: 'info [--verbose]',
  options: { verbose: { type: 'boolean', description: 'also print libtorch\'s build configuration' } },
  async run({ values, print }) {
    const { engineInfo } = await import('../../tensor/runtime.js');
    const info = engineInfo();
    print(`libtorch ${info.torch}, ${info.threads} threads, CUDA ${info.cuda ? 'available' : 'not available'}, oneDNN ${info.mkldnn ? 'yes' : 'no'}, bfloat16 ${info.bfloat16 ? 'in hardware' : 'emulated (slow)'}`);
    if (values['verbose'] === true) print(info.build.trim());
    return { torch: info.torch, threads: info.threads, cuda: info.cuda, mkldnn: info.mkldnn, bfloat16: info.bfloat16, node: process.version };
  },
};
