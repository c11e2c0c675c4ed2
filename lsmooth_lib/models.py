"""The paper's networks (chapter 2; architectures in the paper's appendix A).

Every model splits into ``features(x)`` -- the penultimate activations -- and ``classifier``, a
``nn.Linear`` whose rows (weights and biases) are the class templates that chapter 2 projects onto.
``model(x) == model.classifier(model.features(x))``.
"""
from __future__ import annotations

import difflib
import math

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


# ---------------------------------------------------------------- translation (chapter 4)
class _Attention(nn.Module):
    """Multi-head attention with an optional key/value cache for step-by-step decoding."""

    def __init__(self, d: int, heads: int, dropout: float):
        super().__init__()
        if d % heads:
            raise ValueError(f"d_model ({d}) must be divisible by the number of heads ({heads})")
        self.h, self.dropout = heads, dropout
        self.q, self.kv, self.out = nn.Linear(d, d), nn.Linear(d, 2 * d), nn.Linear(d, d)

    def _heads(self, x):  # B, T, d -> B, h, T, d/h
        B, T, d = x.shape
        return x.view(B, T, self.h, d // self.h).transpose(1, 2)

    def forward(self, x, memory=None, mask=None, causal=False, cache=None, static=False):
        """``memory`` is what to attend to (``x`` itself for self-attention); ``mask`` (B, 1, 1, S) is
        True where attention is allowed.  With ``cache`` (a dict), self-attention appends this step's
        keys and values to it; a ``static`` cache (cross-attention) is filled once and reused."""
        q = self._heads(self.q(x))
        if cache is not None and static and "k" in cache:
            k, v = cache["k"], cache["v"]
        else:
            k, v = (self._heads(t) for t in self.kv(x if memory is None else memory).chunk(2, -1))
            if cache is not None:
                if not static and "k" in cache:
                    k, v = torch.cat([cache["k"], k], 2), torch.cat([cache["v"], v], 2)
                cache["k"], cache["v"] = k, v
        drop = self.dropout if self.training else 0.0
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=drop, is_causal=causal)
        B, h, T, dh = y.shape
        return self.out(y.transpose(1, 2).reshape(B, T, h * dh))


class _Block(nn.Module):
    """Pre-norm Transformer layer: self-attention, [cross-attention,] feed-forward, each residual."""

    def __init__(self, d: int, heads: int, d_ff: int, dropout: float, cross: bool):
        super().__init__()
        self.self_attn, self.norm1 = _Attention(d, heads, dropout), nn.LayerNorm(d)
        self.cross_attn = _Attention(d, heads, dropout) if cross else None
        self.norm2 = nn.LayerNorm(d) if cross else None
        self.ff = nn.Sequential(nn.Linear(d, d_ff), nn.ReLU(), nn.Dropout(dropout), nn.Linear(d_ff, d))
        self.norm3, self.drop = nn.LayerNorm(d), nn.Dropout(dropout)

    def forward(self, x, self_mask=None, causal=False, memory=None, memory_mask=None, cache=None):
        x = x + self.drop(self.self_attn(self.norm1(x), mask=self_mask, causal=causal,
                                         cache=None if cache is None else cache.setdefault("self", {})))
        if self.cross_attn is not None:
            x = x + self.drop(self.cross_attn(self.norm2(x), memory, mask=memory_mask,
                                              cache=None if cache is None else cache.setdefault("cross", {}),
                                              static=True))
        return x + self.drop(self.ff(self.norm3(x)))


class Transformer(Classifier):
    """A small encoder-decoder Transformer (Vaswani et al. 2017, pre-norm) for translation (chapter 4).

    One subword vocabulary serves both languages; its embedding is shared by the encoder, the decoder
    and the output layer (as in tensor2tensor), so the templates of chapter 2 are the token embeddings
    (plus the output bias).  Next-token prediction is a ``K``-way classification with ``K`` the
    vocabulary size, so ``features``/``classifier``/``templates`` mean what they mean for images.

    The input ``x`` is a pair ``(src, tgt_in)`` of padded token tensors (B, S) and (B, T); ``features(x)``
    returns the decoder's last-layer activations at every non-pad target position, flattened to
    (N, d), in sentence order -- the positions the training targets ``tgt_out`` have.
    """
    input_size = None

    def __init__(self, num_classes: int, d_model: int = 256, heads: int = 4, layers: int = 3, d_ff: int = 512,
                 dropout: float = 0.1, pad_id: int = 0, max_len: int = 512):
        super().__init__()
        self.pad_id, self.d = pad_id, d_model
        self.embed = nn.Embedding(num_classes, d_model, padding_idx=pad_id)
        nn.init.normal_(self.embed.weight, std=d_model ** -0.5)
        pos = torch.arange(max_len)[:, None] * torch.exp(torch.arange(0, d_model, 2) * (-math.log(10000.0) / d_model))
        pe = torch.zeros(max_len, d_model)
        pe[:, 0::2], pe[:, 1::2] = torch.sin(pos), torch.cos(pos)
        self.register_buffer("pe", pe, persistent=False)
        self.encoder = nn.ModuleList(_Block(d_model, heads, d_ff, dropout, cross=False) for _ in range(layers))
        self.decoder = nn.ModuleList(_Block(d_model, heads, d_ff, dropout, cross=True) for _ in range(layers))
        self.enc_norm, self.dec_norm = nn.LayerNorm(d_model), nn.LayerNorm(d_model)
        self.drop = nn.Dropout(dropout)
        self.classifier = nn.Linear(d_model, num_classes)
        self.classifier.weight = self.embed.weight  # tied: templates = token embeddings

    def _embed(self, tokens, offset: int = 0):
        T = tokens.shape[1]
        return self.drop(self.embed(tokens) * math.sqrt(self.d) + self.pe[offset:offset + T])

    def encode(self, src):
        """Encoder output (B, S, d) and the source mask (B, 1, 1, S), True at real tokens."""
        mask = (src != self.pad_id)[:, None, None, :]
        h = self._embed(src)
        for block in self.encoder:
            h = block(h, self_mask=mask)
        return self.enc_norm(h), mask

    def decode(self, tgt_in, memory, memory_mask):
        """Decoder activations (B, T, d) for a whole target prefix (teacher forcing, causal)."""
        h = self._embed(tgt_in)
        for block in self.decoder:
            h = block(h, causal=True, memory=memory, memory_mask=memory_mask)
        return self.dec_norm(h)

    def decode_step(self, token, memory, memory_mask, cache: dict, step: int):
        """Next-token logits (B, K) given the last token (B, 1); ``cache`` keeps earlier keys/values."""
        h = self._embed(token, offset=step)
        for i, block in enumerate(self.decoder):
            h = block(h, memory=memory, memory_mask=memory_mask, cache=cache.setdefault(i, {}))
        return self.classifier(self.dec_norm(h))[:, 0]

    def features(self, x):
        src, tgt_in = x
        memory, mask = self.encode(src)
        h = self.decode(tgt_in, memory, mask)
        return h[tgt_in != self.pad_id]


MODELS = {
    "mlp1200": lambda K, **kw: MLP(K, hidden=1200, **kw),
    "mlp800": lambda K, **kw: MLP(K, hidden=800, **kw),
    "alexnet": lambda K, **kw: AlexNetTF(K, **kw),
    "resnet20": lambda K, **kw: CifarResNet(K, depth=20, widths=(16, 32, 64), **kw),
    "resnet56": lambda K, **kw: CifarResNet(K, depth=56, widths=(32, 64, 128), **kw),
    "transformer": lambda K, **kw: Transformer(K, **kw),
}


def build_model(name: str, num_classes: int, **kwargs) -> Classifier:
    """A freshly initialised model by name: ``mlp1200``, ``mlp800``, ``alexnet``, ``resnet20``, ``resnet56``,
    ``transformer`` (``num_classes`` = vocabulary size)."""
    if name not in MODELS:
        near = difflib.get_close_matches(name, list(MODELS), n=3, cutoff=0.4)
        hint = f" Did you mean {', '.join(near)}?" if near else ""
        raise ValueError(f"unknown model {name!r}; known: {', '.join(MODELS)}.{hint}")
    return MODELS[name](num_classes, **kwargs)
