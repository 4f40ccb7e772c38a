"""PyTorch side of bench/import.ts: torchvision's ResNet-18 (random, seeded weights, built by
test/fixtures/export_torchvision.py's `build`, so both sides hold the same weights: the Bastion side
imports the ONNX file that script exported from this very model) in PyTorch eager, default NCHW
layout, one request per line (worker.py's protocol).

Cases, for SIZE in 32 and 224 (batch from BASTION_BENCH_IMPORT_BATCH_<SIZE>, classes from
BASTION_BENCH_IMPORT_CLASSES_<SIZE>):
  import-forward-SIZE     forward pass without autograd, argmax
  import-inputgrad-SIZE   gradient of the cross-entropy with respect to the input
  import-check-SIZE       logits on the shared batch (BASTION_BENCH_IMPORT_DIR/resnet18-SIZE.input.bin)
"""
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

import worker

sys.path.insert(0, os.path.join(os.path.dirname(__file__), '..', '..', 'test', 'fixtures'))
from export_torchvision import build  # noqa: E402


class Case:
    def __init__(self, size, mode):
        batch = int(os.environ[f'BASTION_BENCH_IMPORT_BATCH_{size}'])
        classes = int(os.environ[f'BASTION_BENCH_IMPORT_CLASSES_{size}'])
        self.model = build('resnet18', classes, size)
        for p in self.model.parameters():
            p.requires_grad_(False)
        path = os.path.join(os.environ['BASTION_BENCH_IMPORT_DIR'], f'resnet18-{size}.input.bin')
        self.x = torch.from_numpy(np.fromfile(path, dtype='<f4').reshape(batch, 3, size, size).copy())
        self.y = torch.arange(batch) % classes
        self.batch = batch
        self.mode = mode

    def run(self, units):
        if self.mode == 'check':
            with torch.no_grad():
                return {'logits': self.model(self.x).flatten().tolist()}
        for _ in range(max(1, units // self.batch)):
            if self.mode == 'forward':
                with torch.no_grad():
                    self.model(self.x).argmax(1)
            else:
                x = self.x.clone().requires_grad_(True)
                torch.autograd.grad(F.cross_entropy(self.model(x), self.y), x)[0].sign()
        return None


def register(factories):
    for size in (32, 224):
        for mode in ('forward', 'inputgrad', 'check'):
            factories[f'import-{mode}-{size}'] = (lambda s, m: lambda: Case(s, m))(size, mode)


if __name__ == '__main__':
    register(worker.FACTORIES)
    worker.main()
