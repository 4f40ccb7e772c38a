"""PyTorch side of Bastion's benchmarks (bench/lib/harness.ts): one JSON request per line on
stdin, one JSON reply per line on stdout. Each case mirrors a Bastion workload exactly; `run`
performs `units` units of work (images) and replies with the elapsed seconds.

Cases are written the way a PyTorch user would write them; `*-channels-last` variants apply
PyTorch's own channels-last recipe (model.to(memory_format=...), input.contiguous(...)).
"""
import json
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

BATCH = 128
cases = {}


def simple_cnn():
    """Paper 000's simple CNN: conv32 3x3, pool, conv64 3x3, pool, dense 128, dense 10."""
    return nn.Sequential(
        nn.Conv2d(1, 32, 3), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(1600, 128), nn.ReLU(), nn.Linear(128, 10))


def data(channels_last, batch=BATCH):
    x = torch.rand(batch, 1, 28, 28)
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    return x, torch.randint(0, 10, (batch,))


def make_model(channels_last):
    torch.manual_seed(0)
    model = simple_cnn()
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    return model


class TrainStep:
    """One Adam step of the simple CNN on a batch of 128 (forward, backward, update)."""

    def __init__(self, channels_last):
        self.model = make_model(channels_last)
        self.opt = torch.optim.Adam(self.model.parameters(), lr=1e-3)
        self.x, self.y = data(channels_last)

    def run(self, units):
        for _ in range(max(1, units // BATCH)):
            self.opt.zero_grad(set_to_none=True)
            F.cross_entropy(self.model(self.x), self.y).backward()
            self.opt.step()


class Inference:
    """Forward pass in evaluation mode without autograd, batches of 128."""

    def __init__(self, channels_last):
        self.model = make_model(channels_last).eval()
        self.x, _ = data(channels_last)

    def run(self, units):
        with torch.no_grad():
            for _ in range(max(1, units // BATCH)):
                self.model(self.x).argmax(1)


class InputGradient:
    """The step FGSM/PGD repeat: gradient of the cross-entropy with respect to the input."""

    def __init__(self, channels_last):
        self.model = make_model(channels_last).eval()
        for p in self.model.parameters():
            p.requires_grad_(False)
        self.x, self.y = data(channels_last)

    def run(self, units):
        for _ in range(max(1, units // BATCH)):
            x = self.x.clone().requires_grad_(True)
            loss = F.cross_entropy(self.model(x), self.y)
            torch.autograd.grad(loss, x)[0].sign()


FACTORIES = {
    'train-default': lambda: TrainStep(False),
    'train-channels-last': lambda: TrainStep(True),
    'infer-default': lambda: Inference(False),
    'infer-channels-last': lambda: Inference(True),
    'inputgrad-default': lambda: InputGradient(False),
    'inputgrad-channels-last': lambda: InputGradient(True),
}


def extra_factories():
    """Workloads registered by other benchmark modules (e.g. bench/py/attacks.py)."""
    try:
        import attacks  # noqa: F401  (registers into FACTORIES)
        attacks.register(FACTORIES)
    except ImportError:
        pass


def handle(msg):
    cmd = msg['cmd']
    if cmd == 'hello':
        torch.set_num_threads(int(msg['threads']))
        extra_factories()
        return {'torch': torch.__version__, 'threads': torch.get_num_threads()}
    if cmd == 'setup':
        cases[msg['case']] = FACTORIES[msg['case']]()
        return {'ok': True}
    if cmd == 'run':
        case = cases[msg['case']]
        start = time.perf_counter()
        result = case.run(int(msg['units']))
        reply = {'seconds': time.perf_counter() - start}
        if isinstance(result, dict):
            reply.update(result)
        return reply
    if cmd == 'teardown':
        cases.pop(msg['case'], None)
        return {'ok': True}
    raise ValueError('unknown command ' + cmd)


def main():
    for line in sys.stdin:
        line = line.strip()
        if not line:
            continue
        try:
            reply = handle(json.loads(line))
        except Exception as error:  # reported to the harness, which fails loudly
            reply = {'error': repr(error)}
        sys.stdout.write(json.dumps(reply) + '\n')
        sys.stdout.flush()


if __name__ == '__main__':
    sys.path.insert(0, __import__('os').path.dirname(__file__))
    main()
