"""The paper's networks (chapter 2; architectures in the paper's appendix A).

Every model splits into ``features(x)`` -- the penultimate activations -- and ``classifier``, a
``nn.Linear`` whose rows (weights and biases) are the class templates that chapter 2 projects onto.
``model(x) == model.classifier(model.features(x))``.
"""
from __future__ import annotations

import difflib

import torch
import torch.nn as nn
import torch.nn.functional as F


class Classifier(nn.Module):
    """Base class: ``forward = classifier(features(x))``; ``input_size`` is the expected image side."""
    input_size: int = 32

    def features(self, x: torch.Tensor) -> torch.Tensor:  # pragma: no cover - overridden
        raise NotImplementedError

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))

    @property
    def templates(self) -> torch.Tensor:
        """Class templates ``[w_k, b_k]``, shape ``(K, d + 1)`` (chapter 2)."""
        return torch.cat([self.classifier.weight, self.classifier.bias[:, None]], 1)


class MLP(Classifier):
    """Fully connected ReLU network for MNIST (the paper's section 4 toy: teacher 2x1200, student 2x800).

    ``dropout`` is applied to the hidden layers (and ``input_dropout`` to the pixels), as in
    Hinton et al.'s dropout teacher.
    """
    input_size = 28

    def __init__(self, num_classes: int = 10, hidden: int = 1200, layers: int = 2, in_features: int = 784,
                 dropout: float = 0.0, input_dropout: float = 0.0):
        super().__init__()
        mods: list[nn.Module] = [nn.Flatten(), nn.Dropout(input_dropout)]
        d = in_features
        for _ in range(layers):
            mods += [nn.Linear(d, hidden), nn.ReLU(), nn.Dropout(dropout)]
            d = hidden
        self.body = nn.Sequential(*mods)
        self.classifier = nn.Linear(d, num_classes)

    def features(self, x):
        return self.body(x)


class AlexNetTF(Classifier):
    """The TensorFlow CIFAR-10 tutorial network the paper calls AlexNet (24x24 crops).

    conv 5x5x64 -> ReLU -> max-pool 3/2 -> [LRN] -> conv 5x5x64 -> ReLU -> [LRN] -> max-pool 3/2
    -> FC 384 -> FC 192 (the penultimate layer) -> K.  LRN is off by default (it changes little and
    costs time on a CPU); ``lrn=True`` restores the tutorial's layer.
    """
    input_size = 24

    def __init__(self, num_classes: int = 10, lrn: bool = False):
        super().__init__()
        norm = (lambda: nn.LocalResponseNorm(9, alpha=0.001 / 9 * 9, beta=0.75, k=1.0)) if lrn else nn.Identity
        self.conv = nn.Sequential(
            nn.Conv2d(3, 64, 5, padding=2), nn.ReLU(), nn.MaxPool2d(3, 2, padding=1), norm(),
            nn.Conv2d(64, 64, 5, padding=2), nn.ReLU(), norm(), nn.MaxPool2d(3, 2, padding=1))
        self.fc = nn.Sequential(nn.Flatten(), nn.Linear(64 * 6 * 6, 384), nn.ReLU(), nn.Linear(384, 192), nn.ReLU())
        self.classifier = nn.Linear(192, num_classes)

    def features(self, x):
        return self.fc(self.conv(x))


class PreActBlock(nn.Module):
    """Pre-activation residual block (BN-ReLU-conv3x3, twice), as in tensor2tensor's ResNet v2."""

    def __init__(self, c_in: int, c_out: int, stride: int):
        super().__init__()
        self.bn1, self.conv1 = nn.BatchNorm2d(c_in), nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False)
        self.bn2, self.conv2 = nn.BatchNorm2d(c_out), nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False)
        self.shortcut = None if stride == 1 and c_in == c_out else nn.Conv2d(c_in, c_out, 1, stride, bias=False)

    def forward(self, x):
        out = F.relu(self.bn1(x))
        skip = x if self.shortcut is None else self.shortcut(out)
        out = self.conv1(out)
        out = self.conv2(F.relu(self.bn2(out)))
        return out + skip


class CifarResNet(Classifier):
    """Pre-activation CIFAR ResNet: 3x3 stem, three stages of ``(depth - 2) / 6`` blocks.

    ``resnet56`` (the paper's, tensor2tensor widths 32/64/128, penultimate 128-d) and
    ``resnet20`` (16/32/64, the CPU-budget substitute) are built from this class.  ``input_size``
    is the side of the centre crop the data pipeline feeds it (the CPU preset uses 24, as the AlexNet does).
    """
    input_size = 32

    def __init__(self, num_classes: int = 10, depth: int = 56, widths=(32, 64, 128), stem: int = 16,
                 input_size: int = 32):
        super().__init__()
        if not 8 <= input_size <= 32:
            raise ValueError(f"input_size must be between 8 and 32 pixels; got {input_size}")
        self.input_size = input_size
        if depth < 8 or (depth - 2) % 6:  # n >= 1 block per stage
            raise ValueError(f"CIFAR ResNet depth must be 6n + 2 (20, 56, 110, ...); got {depth}")
        n = (depth - 2) // 6
        self.stem = nn.Conv2d(3, stem, 3, 1, 1, bias=False)
        blocks, c = [], stem
        for i, w in enumerate(widths):
            for j in range(n):
                blocks.append(PreActBlock(c, w, 2 if (i > 0 and j == 0) else 1))
                c = w
        self.blocks = nn.Sequential(*blocks)
        self.bn = nn.BatchNorm2d(c)
        self.classifier = nn.Linear(c, num_classes)

    def features(self, x):
        x = F.relu(self.bn(self.blocks(self.stem(x))))
        return x.mean((2, 3))


MODELS = {
    "mlp1200": lambda K, **kw: MLP(K, hidden=1200, **kw),
    "mlp800": lambda K, **kw: MLP(K, hidden=800, **kw),
    "alexnet": lambda K, **kw: AlexNetTF(K, **kw),
    "resnet20": lambda K, **kw: CifarResNet(K, depth=20, widths=(16, 32, 64), **kw),
    "resnet56": lambda K, **kw: CifarResNet(K, depth=56, widths=(32, 64, 128), **kw),
}


def build_model(name: str, num_classes: int, **kwargs) -> Classifier:
    """A freshly initialised model by name: ``mlp1200``, ``mlp800``, ``alexnet``, ``resnet20``, ``resnet56``."""
    if name not in MODELS:
        near = difflib.get_close_matches(name, list(MODELS), n=3, cutoff=0.4)
        hint = f" Did you mean {', '.join(near)}?" if near else ""
        raise ValueError(f"unknown model {name!r}; known: {', '.join(MODELS)}.{hint}")
    return MODELS[name](num_classes, **kwargs)
