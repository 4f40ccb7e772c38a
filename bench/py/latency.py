"""PyTorch side of bench/latency.ts: paper 002's defended MNIST model (the CAE purifier followed
by VGG-16-BN at width x0.25) written with torch.nn as a PyTorch user writes it, with the weights,
architecture options and inputs of the Bastion side (BASTION_BENCH_LATENCY_DIR holds
weights.safetensors: the defended model's state dict plus the batch `x`, and config.json: the
architecture options). State names equal Bastion's, so the weights load with strict=True.

Run as the worker script: it registers its cases into worker.py's FACTORIES and then speaks
worker.py's protocol (one JSON request per line on stdin, one JSON reply per line on stdout).
Every timed case classifies its batch `units // batch` times under torch.no_grad() in eval mode:
forward pass, argmax, predicted classes copied out to Python (what src/eval/latency.ts times).
"""
import json
import os

import torch
import torch.nn as nn
import torch.nn.functional as F

import worker
from attacks import read_safetensors

VGG_GROUPS = [[64, 64], [128, 128], [256, 256, 256], [512, 512, 512], [512, 512, 512]]


class VGG16(nn.Module):
    """VGG-16 as src/models/vgg16.ts builds it: input normalisation, zero padding to 32 pixels,
    13 convolutions 3x3 (BatchNorm after each when batch_norm), a pool after each group, adaptive
    average pool, compact head (hidden, hidden, classes) with dropout."""

    def __init__(self, channels, size, classes, width, batch_norm, hidden, pool_size, dropout, mean, std):
        super().__init__()
        layers = []
        in_channels = channels
        for group in VGG_GROUPS:
            for c in group:
                out = max(1, round(c * width))
                layers.append(nn.Conv2d(in_channels, out, 3, padding=1))
                if batch_norm:
                    layers.append(nn.BatchNorm2d(out))
                layers.append(nn.ReLU(inplace=True))
                in_channels = out
            layers.append(nn.MaxPool2d(2))
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d(pool_size)
        self.classifier = nn.Sequential(
            nn.Linear(in_channels * pool_size * pool_size, hidden), nn.ReLU(inplace=True), nn.Dropout(dropout),
            nn.Linear(hidden, hidden), nn.ReLU(inplace=True), nn.Dropout(dropout),
            nn.Linear(hidden, classes))
        pad = max(0, 32 - size)
        self.pad = (pad // 2, pad - pad // 2, pad // 2, pad - pad // 2)
        self.register_buffer('mean', torch.tensor(mean).view(1, -1, 1, 1), persistent=False)
        self.register_buffer('std', torch.tensor(std).view(1, -1, 1, 1), persistent=False)

    def forward(self, x):
        x = (x - self.mean) / self.std
        if any(self.pad):
            x = F.pad(x, self.pad)
        x = self.avgpool(self.features(x))
        return self.classifier(torch.flatten(x, 1))


class ConvGELU(nn.Module):
    def __init__(self, in_channels, out_channels, stride=1):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1)

    def forward(self, x):
        return F.gelu(self.conv(x))


class UpGELU(nn.Module):
    def __init__(self, in_channels, out_channels, output_padding):
        super().__init__()
        self.conv = nn.ConvTranspose2d(in_channels, out_channels, 3, stride=2, padding=1, output_padding=output_padding)

    def forward(self, x):
        return F.gelu(self.conv(x))


def stride_two(size):
    """Output size of a stride-2 3x3 convolution (padding 1) and the output padding that undoes it."""
    out = (size - 1) // 2 + 1
    return out, size - 2 * out + 1


class CAE(nn.Module):
    """Paper 002's U-shaped conv auto-encoder as src/models/cae.ts builds it (evaluation mode: no
    latent noise unless stochastic, which this benchmark does not use)."""

    def __init__(self, channels, size, base, skips):
        super().__init__()
        b = base
        s1, op1 = stride_two(size)
        _, op2 = stride_two(s1)
        self.skips = skips
        self.enc0a = ConvGELU(channels, b)
        self.enc0b = ConvGELU(b, b)
        self.enc1a = ConvGELU(b, 2 * b, 2)
        self.enc1b = ConvGELU(2 * b, 2 * b)
        self.enc2 = ConvGELU(2 * b, 4 * b, 2)
        self.up1 = UpGELU(4 * b, 2 * b, op2)
        self.dec1 = ConvGELU(2 * b if skips == 'none' else 4 * b, 2 * b)
        self.up0 = UpGELU(2 * b, b, op1)
        self.dec0 = ConvGELU(2 * b if skips == 'all' else b, b)
        self.out = nn.Conv2d(b, channels, 3, padding=1)

    def forward(self, x):
        skip0 = self.enc0b(self.enc0a(x))
        skip1 = self.enc1b(self.enc1a(skip0))
        h = self.up1(self.enc2(skip1))
        h = self.dec1(h if self.skips == 'none' else torch.cat([h, skip1], 1))
        h = self.up0(h)
        h = self.dec0(torch.cat([h, skip0], 1) if self.skips == 'all' else h)
        return torch.sigmoid(self.out(h))


class Defended(nn.Module):
    """The purifier, then the classifier (Bastion's DefendedClassifier, same state names)."""

    def __init__(self, purifier, classifier):
        super().__init__()
        self.purifier = purifier
        self.classifier = classifier

    def forward(self, x):
        return self.classifier(self.purifier(x))


def load(channels_last):
    """The shared defended model (eval mode, parameters left trainable as a user leaves them) and batch."""
    folder = os.environ['BASTION_BENCH_LATENCY_DIR']
    with open(os.path.join(folder, 'config.json')) as f:
        config = json.load(f)
    tensors = read_safetensors(os.path.join(folder, 'weights.safetensors'))
    v, c = config['classifier'], config['purifier']
    norm = v['normalization'] or {'mean': [0.0] * v['channels'], 'std': [1.0] * v['channels']}
    classifier = VGG16(v['channels'], v['height'], v['numClasses'], v['widthFactor'], v['batchNorm'], v['hidden'],
                       v['poolSize'], v['dropout'], norm['mean'], norm['std'])
    purifier = CAE(c['channels'], c['height'], c['base'], c['skips'])
    model = Defended(purifier, classifier)
    model.load_state_dict({k: t for k, t in tensors.items() if k != 'x'}, strict=True)
    model.eval()
    x = tensors['x']
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
        x = x.contiguous(memory_format=torch.channels_last)
    return model, x


class Latency:
    """Classifies a batch (the first `batch` images of the shared batch) with `which` of the
    models: 'defended' (CAE + VGG) or 'vgg' (the classifier alone)."""

    def __init__(self, which, batch, channels_last):
        model, x = load(channels_last)
        self.model = model if which == 'defended' else model.classifier
        self.batch = batch
        self.x = x[:batch]

    def run(self, units):
        with torch.no_grad():
            for _ in range(max(1, units // self.batch)):
                self.model(self.x).argmax(1).tolist()


class Check:
    """Logits of the defended model and of the classifier alone on the whole shared batch, in both
    layouts, for the Bastion side to compare with its own."""

    def run(self, units):
        out = {}
        for layout, channels_last in (('default', False), ('channels-last', True)):
            model, x = load(channels_last)
            with torch.no_grad():
                out[layout] = {'defended': model(x).flatten().tolist(), 'vgg': model.classifier(x).flatten().tolist()}
        return {'logits': out}


def register(factories):
    for which in ('defended', 'vgg'):
        for batch in (1, 256):
            for layout, channels_last in (('default', False), ('channels-last', True)):
                factories[f'latency-{which}-b{batch}-{layout}'] = (lambda w, b, cl: lambda: Latency(w, b, cl))(which, batch, channels_last)
    factories['latency-check'] = Check


if __name__ == '__main__':
    register(worker.FACTORIES)
    worker.main()
