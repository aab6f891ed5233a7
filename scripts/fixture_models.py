"""Tiny torch models used by make_fixtures.py and make_attribution_fixtures.py.

Imported by the fixture scripts; not meant to be run on its own.
Every builder seeds torch itself, so the weights are deterministic.
"""
import torch
import torch.nn as nn
import torch.nn.functional as F


def _randomize_bn(bn, gen):
    """Non-trivial affine parameters and running statistics for an eval-mode BatchNorm."""
    c = bn.num_features
    with torch.no_grad():
        bn.weight.copy_(0.5 + torch.rand(c, generator=gen))
        bn.bias.copy_(0.3 * torch.randn(c, generator=gen))
        bn.running_mean.copy_(0.2 * torch.randn(c, generator=gen))
        bn.running_var.copy_(0.5 + torch.rand(c, generator=gen))


class MLP(nn.Module):
    """Linear 64->32, ReLU, Linear 32->16, ReLU, Linear 16->10."""

    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(64, 32)
        self.relu1 = nn.ReLU()
        self.fc2 = nn.Linear(32, 16)
        self.relu2 = nn.ReLU()
        self.fc3 = nn.Linear(16, 10)

    def forward(self, x):
        return self.fc3(self.relu2(self.fc2(self.relu1(self.fc1(x)))))


class CNN(nn.Module):
    """1x12x12: Conv-BN-ReLU-MaxPool(2, ceil)-Conv(no bias)-BN-ReLU-AvgPool(3,2,1,count_include_pad=True)-view-Linear."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 4, 3, padding=1)
        self.bn1 = nn.BatchNorm2d(4)
        self.relu1 = nn.ReLU()
        self.pool1 = nn.MaxPool2d(2, ceil_mode=True)
        self.conv2 = nn.Conv2d(4, 6, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(6)
        self.relu2 = nn.ReLU()
        self.pool2 = nn.AvgPool2d(3, stride=2, padding=1, count_include_pad=True)
        self.fc = nn.Linear(6 * 3 * 3, 10)

    def forward(self, x):
        x = self.pool1(self.relu1(self.bn1(self.conv1(x))))
        x = self.pool2(self.relu2(self.bn2(self.conv2(x))))
        x = x.view(x.size(0), -1)
        return self.fc(x)


class CNNNoPad(nn.Module):
    """1x11x11 (odd, so MaxPool ceil_mode matters): Conv-BN-ReLU-MaxPool(2, ceil)-Conv-ReLU, then two branches:
    AvgPool(3,2,1,count_include_pad=False)+flatten and AdaptiveAvgPool2d(1)+flatten, concatenated, Linear."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 4, 3, padding=1)
        self.bn1 = nn.BatchNorm2d(4)
        self.relu1 = nn.ReLU()
        self.pool1 = nn.MaxPool2d(2, ceil_mode=True)        # 11 -> 6
        self.conv2 = nn.Conv2d(4, 6, 3, padding=1)
        self.relu2 = nn.ReLU()
        self.pool2 = nn.AvgPool2d(3, stride=2, padding=1, count_include_pad=False)  # 6 -> 3
        self.gap = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(6 * 3 * 3 + 6, 10)

    def forward(self, x):
        x = self.pool1(self.relu1(self.bn1(self.conv1(x))))
        x = self.relu2(self.conv2(x))
        a = torch.flatten(self.pool2(x), 1)
        b = torch.flatten(self.gap(x), 1)
        return self.fc(torch.cat([a, b], dim=1))


class Block(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.conv1 = nn.Conv2d(c, c, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(c)
        self.relu = nn.ReLU()
        self.conv2 = nn.Conv2d(c, c, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(c)

    def forward(self, x):
        y = self.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        return self.relu(y + x)          # self.relu used twice (as in onnx-engine.md 1(c))


class ResBlock(nn.Module):
    """2x6x6: stem Conv(2->4)+F.relu, [Conv-BN-ReLU-Conv-BN]+skip -> ReLU, GAP, Linear(4->10)."""

    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(2, 4, 3, padding=1)
        self.block = Block(4)
        self.gap = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(4, 10)

    def forward(self, x):
        x = F.relu(self.stem(x))
        x = self.block(x)
        return self.fc(torch.flatten(self.gap(x), 1))


class SigTanh(nn.Module):
    """Linear 64->32-Sigmoid-Linear 32->16-Tanh-Linear 16->10-LogSoftmax(dim=1)."""

    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(64, 32)
        self.sig = nn.Sigmoid()
        self.fc2 = nn.Linear(32, 16)
        self.tanh = nn.Tanh()
        self.fc3 = nn.Linear(16, 10)
        self.logsoftmax = nn.LogSoftmax(dim=1)

    def forward(self, x):
        return self.logsoftmax(self.fc3(self.tanh(self.fc2(self.sig(self.fc1(x))))))


class Misc(nn.Module):
    """(N,16): cat, parameter scale (Mul), scalar add/div, Linear without bias, LeakyReLU(0.1), clamp,
    view, permute, F.pad constant, unsqueeze/mean(dim)/squeeze, Linear, Softmax(dim=-1)."""

    def __init__(self):
        super().__init__()
        self.fa = nn.Linear(16, 12)
        self.fb = nn.Linear(16, 12, bias=False)
        self.scale = nn.Parameter(torch.empty(24))
        self.act = nn.LeakyReLU(0.1)
        self.fc = nn.Linear(6, 10)
        self.softmax = nn.Softmax(dim=-1)

    def forward(self, x):
        h = torch.cat([self.fa(x), self.fb(x)], dim=1) * self.scale   # (N,24)
        h = (h + 1.0) / 2.0
        h = self.act(h)
        h = torch.clamp(h, -0.8, 0.9)
        h = h.view(h.size(0), 4, 6).permute(0, 2, 1)                   # (N,6,4)
        h = F.pad(h, (1, 1), value=0.25)                               # (N,6,6)
        h = h.unsqueeze(1)                                             # (N,1,6,6)
        h = h.mean(dim=3)                                              # (N,1,6)
        h = h.squeeze(1)                                               # (N,6)
        return self.softmax(self.fc(h))


class AtanModel(nn.Module):
    """Uses torch.atan (ONNX Atan), an op the engine does not support (not in the operator registry)."""

    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(8, 8)
        self.fc2 = nn.Linear(8, 3)

    def forward(self, x):
        return self.fc2(torch.atan(self.fc1(x)))


BUILDERS = {
    "mlp": (MLP, (64,)),
    "cnn": (CNN, (1, 12, 12)),
    "cnn_nopad": (CNNNoPad, (1, 11, 11)),
    "resblock": (ResBlock, (2, 6, 6)),
    "sigtanh": (SigTanh, (64,)),
    "misc": (Misc, (16,)),
}


def build(name, seed=0):
    """Return (eval-mode model, input shape without batch) with deterministic, non-degenerate weights."""
    cls, shape = BUILDERS[name]
    torch.manual_seed(seed)
    m = cls()
    gen = torch.Generator().manual_seed(seed + 1000)
    for mod in m.modules():
        if isinstance(mod, nn.BatchNorm2d):
            _randomize_bn(mod, gen)
    if isinstance(m, Misc):
        with torch.no_grad():
            m.scale.copy_(0.5 + torch.rand(24, generator=gen))
    if isinstance(m, ResBlock):
        with torch.no_grad():   # biases so that ReLUs are neither all on nor all off
            m.stem.bias.copy_(0.1 * torch.randn(4, generator=gen))
    return m.eval(), shape
