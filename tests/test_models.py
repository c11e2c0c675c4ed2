"""lsmooth_lib.models: the paper's networks, their penultimate features and class templates."""
import pytest
import torch
import torch.nn as nn

from lsmooth_lib import models as M

SPECS = [  # name, input (C, H), feature dim
    ("mlp1200", (1, 28), 1200),
    ("mlp800", (1, 28), 800),
    ("alexnet", (3, 24), 192),
    ("resnet20", (3, 32), 64),
    ("resnet56", (3, 32), 128),
]


@pytest.mark.parametrize("name,inp,d", SPECS)
@pytest.mark.parametrize("K", [10, 100])
def test_shapes_features_and_templates(name, inp, d, K):
    torch.manual_seed(0)
    model = M.build_model(name, K).eval()
    C, H = inp
    assert model.input_size == H
    x = torch.randn(3, C, H, H)
    with torch.no_grad():
        out, h = model(x), model.features(x)
    assert out.shape == (3, K) and out.dtype == torch.float32
    assert h.shape == (3, d)
    assert isinstance(model.classifier, nn.Linear) and model.classifier.in_features == d
    torch.testing.assert_close(out, model.classifier(h))
    T = model.templates
    assert T.shape == (K, d + 1)
    assert torch.equal(T[:, :d], model.classifier.weight) and torch.equal(T[:, d], model.classifier.bias)
    # logits are inner products of [h, 1] with the templates (chapter 2's projection)
    torch.testing.assert_close(out, torch.cat([h, torch.ones(3, 1)], 1) @ T.detach().T, rtol=1e-4, atol=1e-4)
    # the features are post-ReLU activations in every model
    assert (h >= 0).all()


def test_models_train_end_to_end():
    """Two SGD steps on a tiny batch lower the loss (resnet56 is resnet20's class, skipped for time)."""
    for name, (C, H), _ in SPECS[:4]:
        torch.manual_seed(0)
        model = M.build_model(name, 10).train()
        x, y = torch.randn(8, C, H, H), torch.arange(8) % 10
        opt = torch.optim.SGD(model.parameters(), lr=0.05)
        losses = []
        for _ in range(2):
            loss = nn.functional.cross_entropy(model(x), y)
            opt.zero_grad()
            loss.backward()
            losses.append(loss.item())
            opt.step()
        assert losses[-1] < losses[0], name
        first = next(model.parameters())
        assert first.grad is not None and first.grad.abs().sum() > 0, name


def test_resnet_depth_and_widths():
    r20, r56 = M.build_model("resnet20", 10), M.build_model("resnet56", 10)
    assert len(r20.blocks) == 9 and len(r56.blocks) == 27
    assert [b.conv2.out_channels for b in r20.blocks[::3]] == [16, 32, 64]
    assert [b.conv2.out_channels for b in r56.blocks[::9]] == [32, 64, 128]
    n20 = sum(p.numel() for p in r20.parameters())
    assert 0.2e6 < n20 < 0.35e6  # the usual ~0.27M-parameter ResNet-20
    assert len(M.CifarResNet(10, depth=8).blocks) == 3  # the smallest: one block per stage
    for depth in (21, 57, 3, 2, -4, 0):
        with pytest.raises(ValueError, match=r"depth must be 6n \+ 2 .* got " + str(depth)):
            M.CifarResNet(10, depth=depth)


def test_mlp_layers_and_dropout():
    m = M.build_model("mlp1200", 10, dropout=0.5)
    linears = [mod for mod in m.modules() if isinstance(mod, nn.Linear)]
    assert [(l.in_features, l.out_features) for l in linears] == [(784, 1200), (1200, 1200), (1200, 10)]
    x = torch.rand(4, 1, 28, 28)
    m.train()
    torch.manual_seed(0)
    a = m(x)
    torch.manual_seed(1)
    b = m(x)
    assert not torch.allclose(a, b), "dropout is active in training mode"
    m.eval()
    assert torch.equal(m(x), m(x))


def test_alexnet_lrn_option():
    m = M.build_model("alexnet", 10, lrn=True).eval()
    assert sum(isinstance(mod, nn.LocalResponseNorm) for mod in m.modules()) == 2
    assert m(torch.randn(2, 3, 24, 24)).shape == (2, 10)
    assert not any(isinstance(mod, nn.LocalResponseNorm) for mod in M.build_model("alexnet", 10).modules())


def test_unknown_model():
    with pytest.raises(ValueError, match=r"unknown model 'resnet-56'; known: .*Did you mean resnet56"):
        M.build_model("resnet-56", 10)
    with pytest.raises(ValueError, match=r"unknown model 'vgg16'; known: mlp1200, mlp800, alexnet, resnet20, resnet56"):
        M.build_model("vgg16", 10)
