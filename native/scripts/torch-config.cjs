#!/usr/bin/env node
// Prints one piece of the libtorch build configuration for binding.gyp.
// Usage: node torch-config.cjs include|libdir|libs|defines
//
// Default: Debian's libtorch-dev (headers in /usr/include, libraries on the system path).
// LIBTORCH=/path selects a PyTorch-distributed libtorch (the unzipped `libtorch/` folder, or a
// Python site-packages `torch/` folder); its C++ ABI flag is read from its CMake config, and its
// CUDA libraries are linked (with --no-as-needed, so their kernels register) when present.
'use strict';
const fs = require('fs');
const path = require('path');

const root = process.env.LIBTORCH ? path.resolve(process.env.LIBTORCH) : '';
const what = process.argv[2];

function fail(message) {
  process.stderr.write(`torch-config: ${message}\n`);
  process.exit(1);
}

if (root && !fs.existsSync(path.join(root, 'include', 'ATen', 'ATen.h'))) {
  fail(`LIBTORCH=${root} does not look like a libtorch folder (no include/ATen/ATen.h). ` +
    'Point it at the unzipped libtorch/ directory from pytorch.org, or unset it to use Debian\'s libtorch-dev.');
}
if (!root && !fs.existsSync('/usr/include/ATen/ATen.h')) {
  fail('libtorch headers not found in /usr/include. Install them with `sudo apt-get install libtorch-dev`, ' +
    'or set LIBTORCH=/path/to/libtorch.');
}

const libdir = root ? path.join(root, 'lib') : '';
const hasCuda = root !== '' && fs.existsSync(path.join(libdir, 'libtorch_cuda.so'));

function cxx11Abi() {
  if (!root) return 1; // Debian builds with the new ABI.
  const cmake = path.join(root, 'share', 'cmake', 'Torch', 'TorchConfig.cmake');
  try {
    const text = fs.readFileSync(cmake, 'utf8');
    const m = /_GLIBCXX_USE_CXX11_ABI=(\d)/.exec(text);
    if (m) return Number(m[1]);
  } catch { /* fall through */ }
  return 0; // pytorch.org's default libtorch zip uses the pre-C++11 ABI.
}

switch (what) {
  case 'include':
    console.log(root
      ? [path.join(root, 'include'), path.join(root, 'include', 'torch', 'csrc', 'api', 'include')].join(' ')
      : '/usr/include/torch/csrc/api/include');
    break;
  case 'libdir':
    console.log(libdir);
    break;
  case 'libs': {
    const libs = [];
    if (root) libs.push(`-L${libdir}`, `-Wl,-rpath,${libdir}`);
    if (hasCuda) libs.push('-Wl,--no-as-needed', '-ltorch_cuda', '-lc10_cuda', '-Wl,--as-needed');
    libs.push('-ltorch', '-ltorch_cpu', '-lc10');
    console.log(libs.join(' '));
    break;
  }
  case 'defines':
    console.log(`_GLIBCXX_USE_CXX11_ABI=${cxx11Abi()}${hasCuda ? ' BASTION_WITH_CUDA=1' : ''}`);
    break;
  default:
    fail('usage: torch-config.cjs include|libdir|libs|defines');
}
