"""lsmooth_lib.diagnose (chapter 7), lsmooth_lib.selective and lsmooth_lib.transfer: any classifier, any labelled
data, clear errors, a self-contained report, and the selective-classification and probe measurements on cases
with known answers.  Every test runs in seconds (tiny models, a few hundred examples)."""
from __future__ import annotations

import json
import math
import re

import pytest
import torch
import torch.nn as nn

from lsmooth_lib import diagnose as DG, selective as S, transfer as TR

K = 10


def images(n=100, side=16, seed=0):
    """``n`` random images and labels 0..K-1 in turn (every class present)."""
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, 3, side, side, generator=g), torch.arange(n) % K


def small_cnn(num_classes=K, bias=True):
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(3, 8, 3, stride=2), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                         nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, num_classes, bias=bias))


# ---------------------------------------------------------------- any model, any data
def test_torchvision_resnet_is_diagnosed():
    import torchvision
    torch.manual_seed(0)
    model = torchvision.models.resnet18(num_classes=K)
    name, layer = DG.find_classifier(model, K)
    assert name == "fc" and layer is model.fc
    d = DG.diagnose(model, images(60, seed=1), images(60, seed=2), temperatures=(1, 3))
    assert d.layer == "fc" and d.feature_dim == 512 and d.num_classes == K and d.bias
    assert d.n_val == d.n_test == 60 and d.held_out
    assert set(d.gamma) == {1.0, 3.0} and all(0 <= g <= 1 + 1e-9 for g in d.gamma.values())
    assert d.projection.coords.shape[1] == 2 and len(d.classes) == 3
    assert math.isfinite(d.tightness) and 0 <= d.asymmetry <= 1
    assert d.calibration["acc"] == pytest.approx(d.accuracy)
    assert len(d.feature_norms) == 60 and d.feature_norm["mean"] > 0
    json.dumps(d.summary())   # JSON-serialisable


def test_torchvision_dataset_of_pil_images_and_dataloader_agree():
    import torchvision
    model = small_cnn()
    fake = torchvision.datasets.FakeData(size=40, image_size=(3, 12, 12), num_classes=K, random_offset=3)
    out = DG.collect(model, fake, num_classes=K, batch_size=16)          # PIL images -> [0, 1] tensors
    x = torch.stack([torchvision.transforms.functional.to_tensor(fake[i][0]) for i in range(40)])
    y = torch.tensor([fake[i][1] for i in range(40)])
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y), batch_size=7)
    ref = DG.collect(model, loader, num_classes=K)
    assert torch.equal(out.labels, ref.labels) and torch.allclose(out.logits, ref.logits, atol=1e-5)
    assert torch.allclose(out.features, ref.features, atol=1e-5) and out.features.shape == (40, 16)
    limited = DG.collect(model, loader, num_classes=K, limit=10)
    assert len(limited) == 10 and torch.allclose(limited.logits, ref.logits[:10], atol=1e-6)


def test_features_are_the_input_of_the_final_layer():
    model = small_cnn()
    x, y = images(30)
    out = DG.collect(model, (x, y))
    with torch.no_grad():
        h = model[:-1](x)
    assert torch.allclose(out.features, h, atol=1e-6)
    assert torch.allclose(out.logits, model(x), atol=1e-6)


def test_last_layer_without_bias():
    model = small_cnn(bias=False)
    t = DG.templates_of(model[-1])
    assert t.shape == (K, 17) and torch.equal(t[:, -1], torch.zeros(K, dtype=t.dtype))
    d = DG.diagnose(model, images(100, seed=1), images(100, seed=2), classes=[0, 1, 2])
    assert not d.bias and d.summary()["model"]["bias"] is False
    assert d.classes == ("0", "1", "2") and math.isfinite(d.tightness)


def test_named_layer_and_log_softmax_output():
    model = nn.Sequential(small_cnn(), nn.LogSoftmax(dim=1))   # a constant per row: fine
    d = DG.diagnose(model, images(100), layer="0.6")
    assert d.layer == "0.6" and not d.held_out


def test_the_last_matching_linear_layer_is_chosen():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(48, K), nn.ReLU(), nn.Linear(K, 7), nn.ReLU(), nn.Linear(7, K))
    assert DG.find_classifier(model, K)[0] == "5"
    assert DG.find_classifier(model, 7)[0] == "3"


# ---------------------------------------------------------------- bad input, clear errors
def test_model_without_linear_layer():
    model = nn.Sequential(nn.Conv2d(3, K, 3), nn.AdaptiveAvgPool2d(1), nn.Flatten())
    with pytest.raises(ValueError, match=r"no nn\.Linear layer.*layer="):
        DG.diagnose(model, images(20))


def test_no_linear_layer_with_the_number_of_classes():
    with pytest.raises(ValueError, match=r"no nn\.Linear layer of the model has 5 outputs.*6 \(16 -> 10\)"):
        DG.find_classifier(small_cnn(), 5)


def test_named_layer_errors():
    model = small_cnn()
    with pytest.raises(ValueError, match=r"no module named 'head'.*4 \(8 -> 16\)"):
        DG.find_classifier(model, layer="head")
    with pytest.raises(ValueError, match=r"'0' is a Conv2d, not an nn\.Linear"):
        DG.find_classifier(model, layer="0")
    with pytest.raises(TypeError, match="torch.nn.Module"):
        DG.find_classifier("resnet")


def test_labels_out_of_range_name_the_label_and_K():
    x, y = images(30)
    y = y.clone()
    y[17] = 12
    with pytest.raises(ValueError, match=r"label 12 of example 17 is outside \[0, 10\).*K = 10"):
        DG.diagnose(small_cnn(), (x, y))
    y[17] = -1
    with pytest.raises(ValueError, match=r"label -1 of example 17"):
        DG.collect(small_cnn(), (x, y))


def test_unknown_labels_are_refused():
    x, _ = images(4)
    items = [(x[i], name) for i, name in enumerate(["cat", "dog", "cat", "ship"])]
    with pytest.raises(TypeError, match=r"example 0 has the label 'cat'.*class_to_idx"):
        DG.collect(small_cnn(), items)
    with pytest.raises(TypeError, match="integer class indices"):
        DG.collect(small_cnn(), (x, torch.tensor([0.0, 1.0, 2.0, 3.0])))


def test_other_bad_inputs():
    model = small_cnn()
    with pytest.raises(TypeError, match="Split, a torchvision-style dataset"):
        DG.diagnose(model, "cifar10")
    with pytest.raises(ValueError, match="three different classes"):
        DG.diagnose(model, images(50), classes=[0, 0, 1])
    with pytest.raises(ValueError, match="unknown class 'kat'"):
        DG.diagnose(model, images(50), classes=["kat", "1", "2"], class_names=[str(k) for k in range(K)])
    with pytest.raises(ValueError, match="temperature"):
        DG.diagnose(model, images(50), temperatures=(1, -2))
    scaled = nn.Sequential(model, nn.Flatten())
    doubled = nn.Sequential(small_cnn(), nn.Linear(K, K))
    with pytest.raises(ValueError, match="changes the logits after that layer"):
        DG.collect(doubled, images(20), layer="0.6")
    assert DG.find_classifier(scaled, K)[0] == "0.6"


# ---------------------------------------------------------------- the report
def external_references(page: str) -> list:
    """Whatever in an HTML page could load something from elsewhere (the inline PNGs removed first)."""
    text = re.sub(r'"data:image/png;base64,[A-Za-z0-9+/=]+"', '""', page)
    return re.findall(r"://|<script|<link|<iframe|@import|url\(|(?:src|href)=\"(?!\")", text)


def test_report_is_self_contained(tmp_path):
    d = DG.diagnose(small_cnn(), images(100, seed=1), images(100, seed=2))
    page = DG.report_html(d, tmp_path / "sub" / "report.html").read_text()
    assert page.count('src="data:image/png;base64,') == len(DG.MEASUREMENTS)
    assert not external_references(page)
    for chapter in ("Chapter 2", "Chapter 3", "Chapter 5", "Chapter 6", "Chapter 7"):
        assert chapter in page
    assert "asymmetry" in page and "AURC" in page


# ---------------------------------------------------------------- selective classification
def test_perfect_ranking_reaches_the_optimal_aurc():
    n, m = 200, 30
    z = torch.randn(n, 5, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    pred = z.argmax(1)
    expected = sum((k - (n - m)) / k for k in range(n - m + 1, n + 1)) / n
    for method in S.METHODS:
        # labels: the m least confident predictions (by this confidence) are wrong, the others right
        order = torch.argsort(S.confidence(z, method), descending=True)
        labels = pred.clone()
        labels[order[n - m:]] = (pred[order[n - m:]] + 1) % 5
        assert S.aurc_optimal(z, labels) == pytest.approx(expected, abs=1e-12)
        assert S.aurc(z, labels, method) == pytest.approx(expected, abs=1e-12)
    assert S.optimal_aurc_of_error(m / n) == pytest.approx(expected, abs=0.01)


def test_worst_and_uninformative_rankings():
    n, m = 100, 20
    logits = torch.zeros(n, 2)
    logits[:, 0] = torch.linspace(1, 5, n)      # increasing confidence: the errors first
    labels = torch.zeros(n, dtype=torch.long)
    labels[n - m:] = 1
    curve = S.risk_coverage(logits, labels)
    assert curve["risk"][0] == 1 and curve["risk"][-1] == pytest.approx(m / n) and curve["error"] == pytest.approx(0.2)
    assert torch.equal(curve["coverage"], torch.arange(1, n + 1, dtype=torch.float64) / n)
    # all confidences equal: the expected risk over every order is the error rate at every coverage
    flat = torch.zeros(n, 2)
    flat[:, 0] = 1.0
    c = S.risk_coverage(flat, labels)
    assert torch.allclose(c["risk"], torch.full((n,), m / n, dtype=torch.float64)) and c["aurc"] == pytest.approx(m / n)
    # a random ranking is close to the error rate
    g = torch.Generator().manual_seed(0)
    big = torch.randn(20000, 2, generator=g)
    y = torch.randint(0, 2, (20000,), generator=g)     # labels independent of the logits
    err = float((big.argmax(1) != y).double().mean())
    assert S.aurc(big, y) == pytest.approx(err, abs=0.02)


def test_ties_count_their_errors_evenly():
    # confidences: two examples tied at the top (one wrong), then one correct
    logits = torch.tensor([[2.0, 0.0], [2.0, 0.0], [1.0, 0.0]])
    labels = torch.tensor([0, 1, 0])
    c = S.risk_coverage(logits, labels)
    assert torch.allclose(c["risk"], torch.tensor([0.5, 0.5, 1 / 3], dtype=torch.float64))
    assert S.aurc(logits[[1, 0, 2]], labels[[1, 0, 2]]) == pytest.approx(c["aurc"])


def test_logit_normalisation_invariances():
    g = torch.Generator().manual_seed(1)
    z = torch.randn(50, 7, generator=g, dtype=torch.float64)
    scale = torch.rand(50, 1, generator=g, dtype=torch.float64) * 10 + 0.1
    shift = torch.randn(50, 1, generator=g, dtype=torch.float64) * 5
    base = S.confidence(z, "pnorm")
    assert torch.allclose(S.confidence(z * scale + shift, "pnorm"), base)
    assert torch.allclose(S.confidence(z + shift, "msp"), S.confidence(z, "msp"))
    assert not torch.allclose(S.confidence(z * scale, "msp"), S.confidence(z, "msp"))
    n = S.normalise_logits(z, p=3)
    assert torch.allclose(n.abs().pow(3).sum(1), torch.ones(50, dtype=torch.float64))
    assert torch.allclose(n.sum(1), torch.zeros(50, dtype=torch.float64), atol=1e-12)
    assert torch.equal(S.normalise_logits(torch.ones(2, 3)), torch.zeros(2, 3, dtype=torch.float64))
    y = z.argmax(1)
    assert S.fit_p(z, y, grid=(1, 2)) in (1, 2)
    with pytest.raises(ValueError, match="method must be one of"):
        S.confidence(z, "entropy")
    with pytest.raises(ValueError, match="p must be positive"):
        S.confidence(z, "pnorm", p=0)


# ---------------------------------------------------------------- the linear probe
def test_probe_separates_linearly_separable_classes():
    g = torch.Generator().manual_seed(0)
    centres = torch.randn(3, 5, generator=g) * 6
    y = torch.arange(300) % 3
    x = centres[y] + 0.3 * torch.randn(300, 5, generator=g)
    yt = torch.arange(90) % 3
    xt = centres[yt] + 0.3 * torch.randn(90, 5, generator=g)
    r = TR.linear_probe(x, y, xt, yt, weight_decays=(1e-3, 1e-1))
    assert r["acc"] == 1.0 and r["train_acc"] == 1.0 and r["weight_decay"] in (1e-3, 1e-1)
    assert r["n_train"] == 300 and r["dim"] == 5 and set(r["val_acc"]) == {1e-3, 1e-1}
    assert TR.linear_probe(x, y, xt, yt, weight_decays=(1e-3, 1e-1)) == r    # deterministic
    # features carrying no information: chance level
    noise = torch.randn(300, 5, generator=g)
    assert TR.linear_probe(noise, y, torch.randn(90, 5, generator=g), yt, weight_decays=(1e-1,))["acc"] < 0.6
    with pytest.raises(ValueError, match="same width"):
        TR.linear_probe(x, y, xt[:, :3], yt)


# ---------------------------------------------------------------- the command line
MODEL_FILE = '''import torch.nn as nn

def tiny(num_classes=10):
    return nn.Sequential(nn.Conv2d(3, 4, 3, stride=2), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                         nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, num_classes))
'''


def one_error_line(capsys):
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "\n" not in err and "Traceback" not in err
    return err


def test_cli_help_and_errors(tmp_path, capsys):
    assert DG.main(["--help"]) == 0
    assert "--weights" in capsys.readouterr().out
    assert DG.main(["--model", "nofile.py"]) == 1
    assert "required" in one_error_line(capsys)
    (tmp_path / "m.py").write_text(MODEL_FILE)
    assert DG.main(["--model", f"{tmp_path}/m.py:huge", "--weights", "w.pt", "--dataset", "cifar10"]) == 1
    assert "has no function 'huge'" in one_error_line(capsys)
    assert DG.main(["--model", f"{tmp_path}/m.py:tiny", "--weights", str(tmp_path / "w.pt"), "--dataset",
                    "cifar10"]) == 1
    assert "does not exist" in one_error_line(capsys)
    torch.save({"something": torch.zeros(3)}, tmp_path / "w.pt")
    assert DG.main(["--model", f"{tmp_path}/m.py:tiny", "--weights", str(tmp_path / "w.pt"), "--dataset",
                    "cifar10"]) == 1
    assert "do not fit the model" in one_error_line(capsys)
    assert DG.main(["--model", f"{tmp_path}/m.py:tiny", "--weights", str(tmp_path / "w.pt"), "--dataset",
                    "cifar11"]) == 1
    assert "cifar11" in one_error_line(capsys)
    with pytest.raises(DG.CLIError, match="do not fit the model"):
        DG.main(["--model", f"{tmp_path}/m.py:tiny", "--weights", str(tmp_path / "w.pt"), "--dataset", "cifar10",
                 "--debug"])
    from lsmooth_lib.__main__ import main as cli
    assert cli(["diagnose", "--help"]) == 0
    assert cli(["diagnose", "--model", f"{tmp_path}/m.py:tiny", "--weights", str(tmp_path / "w.pt"), "--dataset",
                "cifar10"]) == 1
    assert "do not fit the model" in one_error_line(capsys)


@pytest.mark.data
def test_cli_writes_a_self_contained_report(tmp_path, capsys):
    (tmp_path / "m.py").write_text(MODEL_FILE)
    torch.manual_seed(0)
    ns = {}
    exec(MODEL_FILE, ns)
    torch.save({k: v.half() for k, v in ns["tiny"]().state_dict().items()}, tmp_path / "w.pt")   # fp16, as the zoo
    out = tmp_path / "report.html"
    rc = DG.main(["--model", f"{tmp_path}/m.py:tiny", "--weights", str(tmp_path / "w.pt"), "--dataset", "cifar10",
                  "--limit", "200", "--classes", "cat,dog,2", "--out", str(out), "--json", str(tmp_path / "d.json")])
    assert rc == 0, capsys.readouterr().err
    assert "report:" in capsys.readouterr().out
    page = out.read_text()
    assert page.count('src="data:image/png;base64,') == len(DG.MEASUREMENTS)
    assert not external_references(page)
    summary = json.loads((tmp_path / "d.json").read_text())
    assert summary["projection"]["classes"] == ["cat", "dog", "bird"] and summary["data"]["n_test"] == 200


@pytest.mark.data
def test_zoo_model_as_a_plain_module(committed_zoo, tmp_path, capsys):
    from conftest import trained_record
    from lsmooth_lib import data as D, models, zoo
    name = "cpu-resnet20-cifar10-a0.1-s0"
    trained_record(name)
    model = models.build_model("resnet20", 10, input_size=24)
    state = torch.load(zoo.paths(name)[0], weights_only=True)
    model.load_state_dict({k: v.float() for k, v in state.items()})
    d = DG.diagnose(model, D.load_split("cifar10", "val"), D.load_split("cifar10", "test"), limit=300)
    assert d.layer == "classifier" and d.feature_dim == 64 and d.accuracy > 0.6
    assert d.calibration["T"] < 1.2            # smoothed: not over-confident
    # the command line, on the same weights
    rc = DG.main(["--model", "lsmooth_lib.models:build_model", "--model-kwargs",
                  '{"name": "resnet20", "num_classes": 10, "input_size": 24}', "--weights", str(zoo.paths(name)[0]),
                  "--dataset", "cifar10", "--limit", "300", "--out", str(tmp_path / "r.html")])
    assert rc == 0, capsys.readouterr().err
    assert f"accuracy {d.accuracy:.2%}" in capsys.readouterr().out
