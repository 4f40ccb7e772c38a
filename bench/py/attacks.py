"""PyTorch side of bench/attacks.ts: PGD-40 and FGSM written as a PyTorch user writes them, on the
same simple CNN, weights and images as the Bastion side (read from the safetensors file named by
BASTION_BENCH_ATTACK_FILE). Registered into worker.py's FACTORIES by `register`.

Each case's `run(units)` attacks units // 256 batches and returns the success count of the last
batch, so the harness can check that both sides computed the same thing.
"""
import json
import os
import struct

import numpy as np
import torch
import torch.nn.functional as F

from worker import simple_cnn

BATCH = 256
EPSILONS = [0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5, 0.7, 1.0]
DTYPES = {'F32': np.float32, 'I64': np.int64, 'U8': np.uint8}


def read_safetensors(path):
    """The tensors of a safetensors file (8-byte header length, JSON header, raw data)."""
    with open(path, 'rb') as f:
        raw = f.read()
    (length,) = struct.unpack('<Q', raw[:8])
    header = json.loads(raw[8:8 + length])
    data = raw[8 + length:]
    out = {}
    for name, entry in header.items():
        if name == '__metadata__':
            continue
        start, end = entry['data_offsets']
        array = np.frombuffer(data[start:end], dtype=DTYPES[entry['dtype']]).reshape(entry['shape'])
        out[name] = torch.from_numpy(array.copy())
    return out


def load(channels_last):
    """The shared model (eval mode, parameters left trainable as a user leaves them) and batch."""
    tensors = read_safetensors(os.environ['BASTION_BENCH_ATTACK_FILE'])
    model = simple_cnn()
    names = {'conv1': 0, 'conv2': 3, 'fc1': 7, 'fc2': 9}
    model.load_state_dict({f'{names[k.split(".")[0]]}.{k.split(".")[1]}': v for k, v in tensors.items() if k.split('.')[0] in names})
    model.eval()
    x, y = tensors['x'], tensors['y']
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
        x = x.contiguous(memory_format=torch.channels_last)
    return model, x, y


def pgd(logits_of, x, y, eps=0.3, alpha=0.01, steps=40):
    """L-inf PGD with a random start and no early stop, keeping per sample the best iterate
    (successful first, then highest loss): Bastion's algorithm. `logits_of` maps images to logits."""
    lower, upper = (x - eps).clamp(0, 1), (x + eps).clamp(0, 1)
    adv = torch.min(torch.max(x + torch.empty_like(x).uniform_(-eps, eps), lower), upper)
    best = x.clone()
    best_loss = torch.full((x.shape[0],), float('-inf'))
    best_success = torch.zeros(x.shape[0], dtype=torch.bool)
    for t in range(steps + 1):
        if t < steps:
            adv.requires_grad_(True)
            logits = logits_of(adv)
            loss = F.cross_entropy(logits, y, reduction='none')
            grad, = torch.autograd.grad(loss.sum(), adv)
            adv = adv.detach()
        else:
            with torch.no_grad():
                logits = logits_of(adv)
                loss = F.cross_entropy(logits, y, reduction='none')
        with torch.no_grad():
            success = logits.argmax(1) != y
            better = (success & ~best_success) | ((success == best_success) & (loss > best_loss))
            best = torch.where(better[:, None, None, None], adv, best)
            best_loss = torch.where(better, loss, best_loss)
            best_success = best_success | success
            if t < steps:
                adv = torch.min(torch.max(adv + alpha * grad.sign(), lower), upper)
    return best


class PGD:
    """PGD-40, L-inf eps 0.3, step 0.01 (`pgd`), then the final success mask.
    With bf16, the whole attack runs under torch.autocast('cpu', dtype=torch.bfloat16)."""

    def __init__(self, channels_last, bf16=False):
        self.model, self.x, self.y = load(channels_last)
        self.bf16 = bf16

    def attack(self, x, y):
        best = pgd(self.model, x, y)
        with torch.no_grad():
            return best, self.model(best).argmax(1) != y

    def run(self, units):
        for _ in range(max(1, units // BATCH)):
            with torch.autocast('cpu', dtype=torch.bfloat16, enabled=self.bf16):
                _, success = self.attack(self.x, self.y)
        return {'success': int(success.sum())}


class FGSMSeparate:
    """Ten FGSM runs, one per epsilon: gradient, step, clip, success mask."""

    def __init__(self, channels_last):
        self.model, self.x, self.y = load(channels_last)

    def run(self, units):
        for _ in range(max(1, units // BATCH)):
            counts = []
            for eps in EPSILONS:
                x = self.x.clone().requires_grad_(True)
                grad, = torch.autograd.grad(F.cross_entropy(self.model(x), self.y), x)
                with torch.no_grad():
                    adv = (self.x + eps * grad.sign()).clamp(0, 1)
                    counts.append(int((self.model(adv).argmax(1) != self.y).sum()))
        return {'success': counts}


class FGSMSweep:
    """One gradient, then the ten epsilons: step, clip, success mask each."""

    def __init__(self, channels_last):
        self.model, self.x, self.y = load(channels_last)

    def run(self, units):
        for _ in range(max(1, units // BATCH)):
            x = self.x.clone().requires_grad_(True)
            grad, = torch.autograd.grad(F.cross_entropy(self.model(x), self.y), x)
            counts = []
            with torch.no_grad():
                direction = grad.sign()
                for eps in EPSILONS:
                    adv = (self.x + eps * direction).clamp(0, 1)
                    counts.append(int((self.model(adv).argmax(1) != self.y).sum()))
        return {'success': counts}


def register(factories):
    factories.update({
        'pgd40-default': lambda: PGD(False),
        'pgd40-channels-last': lambda: PGD(True),
        'pgd40-bf16-default': lambda: PGD(False, bf16=True),
        'pgd40-bf16-channels-last': lambda: PGD(True, bf16=True),
        'fgsm10-separate-default': lambda: FGSMSeparate(False),
        'fgsm10-separate-channels-last': lambda: FGSMSeparate(True),
        'fgsm10-sweep-default': lambda: FGSMSweep(False),
    })
