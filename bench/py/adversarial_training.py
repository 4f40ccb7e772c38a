"""PyTorch side of bench/adversarial-training.ts: one adversarial-training step of paper 004's
MNIST LeNet (Madry PGD-40, Madry + AAD, AAD's attention losses alone) written with torch.nn as a
PyTorch user writes it, on the weights and images of the Bastion side (BASTION_BENCH_AT_FILE
names a safetensors file with the LeNet's state dict under Bastion's names, the batch `x`, its
labels `y` and a fixed adversarial batch `x_adv`).

Run as the worker script: it registers its cases into worker.py's FACTORIES and then speaks
worker.py's protocol. Every timed case performs `units // 100` training steps of batch 100.
"""
import os

import torch
import torch.nn as nn
import torch.nn.functional as F

import worker
from attacks import pgd, read_safetensors

BATCH = 100
EPS, STEP, STEPS = 0.3, 0.01, 40
ALPHA = BETA = 0.01


class LeNet(nn.Module):
    """Paper 004's MNIST LeNet (Madry et al.'s network): conv 32 5x5 'same', max-pool 2, ReLU,
    conv 64 5x5 'same', max-pool 2, ReLU, dense 1024, ReLU, dropout 0.5, dense 10. `forward`
    also returns block 2's activation, the Grad-CAM layer."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 32, 5, padding=2)
        self.conv2 = nn.Conv2d(32, 64, 5, padding=2)
        self.fc1 = nn.Linear(64 * 7 * 7, 1024)
        self.drop = nn.Dropout(0.5)
        self.fc2 = nn.Linear(1024, 10)

    def forward(self, x):
        h = F.relu(F.max_pool2d(self.conv1(x), 2))
        block2 = F.relu(F.max_pool2d(self.conv2(h), 2))
        hidden = F.relu(self.fc1(block2.flatten(1)))
        return self.fc2(self.drop(hidden)), block2


def load(channels_last):
    tensors = read_safetensors(os.environ['BASTION_BENCH_AT_FILE'])
    model = LeNet()
    model.load_state_dict({k: v for k, v in tensors.items() if k.split('.')[0] in ('conv1', 'conv2', 'fc1', 'fc2')})
    x, y, x_adv = tensors['x'], tensors['y'], tensors['x_adv']
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
        x, x_adv = (t.contiguous(memory_format=torch.channels_last) for t in (x, x_adv))
    return model, x, y, x_adv


def softmax_distance(a, b):
    return ((a.softmax(1) - b.softmax(1)) ** 2).sum(1).add(1e-12).sqrt()


def aad_terms(model, x, x_adv, y):
    """Paper 004 eq. 7-9 as src/defenses/aad.ts reads them: one pass over [x; x_adv] with
    differentiable Grad-CAM maps of block 2 for the true label, hard masks at the per-map mean
    (bilinear upsampling to 28x28), L_r on the softmax L2 distances, L_p the per-image L1 of
    the maps. Returns (clean logits, adversarial logits, L_r, L_p)."""
    n = x.shape[0]
    both, labels = torch.cat([x, x_adv]), torch.cat([y, y])
    logits, activation = model(both)
    score = logits.gather(1, labels[:, None]).sum()
    d_activation, = torch.autograd.grad(score, activation, create_graph=True)
    maps = F.relu((activation * d_activation.mean((2, 3), keepdim=True)).sum(1))
    with torch.no_grad():
        up = F.interpolate(maps.detach()[:, None], size=both.shape[2:], mode='bilinear', align_corners=False)[:, 0]
        keep = (up < up.mean((1, 2), keepdim=True)).to(both.dtype)[:, None]
    masked_logits, _ = model(both * keep)
    clean, adv = logits[:n], logits[n:]
    rectification = -(softmax_distance(clean, masked_logits[:n]).mean() + softmax_distance(adv, masked_logits[n:]).mean())
    preservation = (maps[:n] - maps[n:]).abs().flatten(1).sum(1).mean()
    return clean, adv, rectification, preservation


class Step:
    """Adversarial-training steps: `attack` runs PGD-40 in eval mode (under bfloat16 autocast with
    bf16), then the loss in train mode (dropout on) and an Adam step; without `attack` the fixed
    x_adv of the shared file stands in for the attack (AAD's losses alone)."""

    def __init__(self, channels_last, attack=True, aad=False, bf16=False):
        self.model, self.x, self.y, self.x_adv = load(channels_last)
        self.opt = torch.optim.Adam(self.model.parameters(), lr=1e-3)
        self.attack, self.aad, self.bf16 = attack, aad, bf16

    def step(self):
        if self.attack:
            self.model.eval()
            with torch.autocast('cpu', dtype=torch.bfloat16, enabled=self.bf16):
                # PGD-40 as Bastion's training attack runs it (eps 0.3, step 0.01, best iterate).
                x_adv = pgd(lambda a: self.model(a)[0], self.x, self.y, EPS, STEP, STEPS)
        else:
            x_adv = self.x_adv
        self.model.train()
        self.opt.zero_grad(set_to_none=True)
        if self.aad:
            _, adv_logits, rectification, preservation = aad_terms(self.model, self.x, x_adv, self.y)
            loss = F.cross_entropy(adv_logits, self.y) + ALPHA * rectification + BETA * preservation
        else:
            adv_logits, _ = self.model(x_adv)
            loss = F.cross_entropy(adv_logits, self.y)
        loss.backward()
        self.opt.step()

    def run(self, units):
        for _ in range(max(1, units // BATCH)):
            self.step()


class Check:
    """AAD's terms and the Madry loss on the shared weights, x and x_adv, in eval mode (no
    dropout), before any step: what the Bastion side compares its own values with."""

    def run(self, units):
        model, x, y, x_adv = load(False)
        model.eval()
        _, adv, rectification, preservation = aad_terms(model, x, x_adv, y)
        return {'ce': float(F.cross_entropy(adv, y)), 'lr': float(rectification), 'lp': float(preservation)}


def register(factories):
    for layout, channels_last in (('default', False), ('channels-last', True)):
        factories[f'at-madry-{layout}'] = (lambda cl: lambda: Step(cl))(channels_last)
        factories[f'at-madry-aad-{layout}'] = (lambda cl: lambda: Step(cl, aad=True))(channels_last)
        factories[f'at-aad-loss-{layout}'] = (lambda cl: lambda: Step(cl, attack=False, aad=True))(channels_last)
        factories[f'at-madry-bf16-{layout}'] = (lambda cl: lambda: Step(cl, bf16=True))(channels_last)
    factories['at-check'] = Check


if __name__ == '__main__':
    register(worker.FACTORIES)
    worker.main()
