#!/usr/bin/env bash
# Sets up Bastion on a Debian/Ubuntu machine: installs the system packages it needs when they
# are missing, installs npm dependencies, and builds the native addon and the TypeScript.
#
#   libtorch-dev          the engine (libtorch 1.13, C++ headers and libraries)
#   libopenblas0-openmp   BLAS for libtorch's dense layers (the reference BLAS is ~20x slower)
#   dataset-fashion-mnist Fashion-MNIST, one of the papers' data sets
#   python3-torch         PyTorch, for the side-by-side benchmarks and the interop tests
#   python3-torchvision   torchvision classifiers, exported to ONNX/TorchScript by the import tests
#   libonnx-testdata      ONNX's own backend test data (the ONNX conformance test)
#   chromium              headless browser for the dashboard test
#
# Set BASTION_SKIP_APT=1 to skip the package step (e.g. when using LIBTORCH=/path).
set -euo pipefail
cd "$(dirname "$0")"

packages=(libtorch-dev libopenblas0-openmp dataset-fashion-mnist python3-torch python3-torchvision libonnx-testdata chromium g++ make python3)
if [ "${BASTION_SKIP_APT:-0}" != "1" ]; then
  missing=()
  for p in "${packages[@]}"; do
    dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
  done
  if [ "${#missing[@]}" -gt 0 ]; then
    echo "setup: installing ${missing[*]}"
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
fi

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "setup: npm ci"
  # onnxruntime-node (dev only, the reference in the import tests) must not fetch its CUDA build from
  # outside the npm registry (.npmrc says the same to plain `npm ci`).
  ONNXRUNTIME_NODE_INSTALL=skip npm ci --no-audit --no-fund --loglevel=error
fi
echo "setup: building the native addon and the TypeScript"
npm run --silent build:native >/dev/null
npm run --silent build:ts
echo "setup: done ($(node bin/bastion.js info))"
