"""lsmooth_lib.train and lsmooth_lib.zoo: the training loop, resuming, and the checkpoint zoo.

Every zoo test works on a temporary zoo (``tmp_zoo`` / ``smoke_zoo`` from conftest); the committed
``zoo/`` folder is checked to be untouched at the end of this module.
"""
import json
import math
import os
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

import lsmooth_lib
from lsmooth_lib import __main__ as cli
from lsmooth_lib import data as D
from lsmooth_lib import train as T
from lsmooth_lib import zoo as Z
from lsmooth_lib.models import MODELS

REPO = Path(__file__).resolve().parent.parent
SMOKE = ("smoke-mlp-mnist", "smoke-alexnet-cifar10", "smoke-resnet20-cifar100")
CFG = dict(dataset="mnist", model="mlp800", alpha=0.1, epochs=2, batch_size=64, lr=0.05, limit=256,
           augment={"pad": 2}, seed=0)


def _smoke_files(folder: Path):
    """Smoke entries are never committed: any such file under zoo/ was written by a test."""
    return sorted(str(p) for p in folder.rglob("smoke-*")) if folder.exists() else []


@pytest.fixture(scope="module", autouse=True)
def committed_zoo_untouched():
    before = _smoke_files(REPO / "zoo")
    yield
    assert _smoke_files(REPO / "zoo") == before, "a test wrote into the committed zoo/"


def _no_seconds(history):
    return [{k: v for k, v in h.items() if k != "seconds"} for h in history]


def _same_weights(a, b):
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


@pytest.fixture
def count_train_batches(monkeypatch):
    """Counts the training batches ``fit`` draws (shuffled ones; evaluation batches are not shuffled)."""
    counter = {"n": 0}
    real = D.batches

    def counting(*args, **kwargs):
        for item in real(*args, **kwargs):
            if kwargs.get("shuffle"):
                counter["n"] += 1
            yield item

    monkeypatch.setattr(D, "batches", counting)
    return counter


# ---------------------------------------------------------------- configs
def test_complete_config_fills_defaults():
    cfg = T.complete_config(dict(dataset="cifar10", model="alexnet"))
    assert cfg["alpha"] == 0.0 and cfg["convention"] == "uniform" and cfg["epochs"] == 1
    assert set(T.DEFAULTS) <= set(cfg)
    assert Z.get_config("smoke-mlp-mnist")["limit"] == 256


def test_invalid_configs():
    with pytest.raises(ValueError, match=r"unknown config keys \['lr_max'\]"):
        T.complete_config(dict(dataset="mnist", model="mlp800", lr_max=0.1))
    with pytest.raises(ValueError, match=r"alpha must lie in \[0, 1\)"):
        T.complete_config(dict(dataset="mnist", model="mlp800", alpha=1))
    with pytest.raises(ValueError, match="needs 'model'"):
        T.complete_config(dict(dataset="mnist"))
    with pytest.raises(ValueError, match="unknown dataset 'cifar11'"):
        T.complete_config(dict(dataset="cifar11", model="alexnet"))
    with pytest.raises(ValueError, match="alpha"):  # before any data is loaded or any step taken
        T.fit({**CFG, "alpha": 1.0}, progress=False)
    with pytest.raises(ValueError, match="unknown schedule"):
        T._lr_factor(T.complete_config({**CFG, "schedule": "exp"}), 0.0)


def test_lr_schedules():
    base = T.complete_config(dict(dataset="mnist", model="mlp800", epochs=10))
    step = lambda p: T._lr_factor(base, p)  # noqa: E731
    assert [step(p) for p in (0, 4.99)] == [1.0, 1.0]
    assert step(5.0) == pytest.approx(0.1) and step(7.5) == pytest.approx(0.01) and step(9.99) == pytest.approx(0.01)
    cos = {**base, "schedule": "cosine"}
    assert [T._lr_factor(cos, p) for p in (0, 5, 10)] == pytest.approx([1, 0.5, 0], abs=1e-12)
    lin = {**base, "schedule": "linear"}
    assert [T._lr_factor(lin, p) for p in (0, 2.5, 10)] == pytest.approx([1, 0.75, 0])
    assert T._lr_factor({**base, "schedule": "constant"}, 7) == 1.0


def test_pick_device(monkeypatch):
    monkeypatch.setenv("LSMOOTH_DEVICE", "cpu")
    assert T.pick_device() == torch.device("cpu")
    monkeypatch.delenv("LSMOOTH_DEVICE")
    assert T.pick_device("cpu") == torch.device("cpu")
    assert T.hardware(torch.device("cpu")).startswith("cpu: ")


# ---------------------------------------------------------------- fit, evaluate
@pytest.mark.data
def test_evaluate_and_predict_match_a_direct_forward_pass():
    split = D.load_split("mnist", "test", limit=250)
    torch.manual_seed(0)
    model = T.build_model("mlp800", 10)
    with torch.no_grad():
        logits = model.eval()(D.normalize(split.images, "mnist"))
    got = T.evaluate(model, split, batch_size=100)  # 100 + 100 + 50: the partial batch counts too
    assert got["acc"] == pytest.approx(float((logits.argmax(1) == split.labels).float().mean()))
    assert got["nll"] == pytest.approx(float(F.cross_entropy(logits, split.labels)), rel=1e-5)
    torch.testing.assert_close(T.predict(model, split, batch_size=64), logits)
    assert T.predict(model, split, batch_size=64, features=True).shape == (250, 800)


@pytest.mark.data
def test_fit_learns_and_is_deterministic():
    m1, h1 = T.fit(CFG, progress=False, device="cpu")
    m2, h2 = T.fit(CFG, progress=False, device="cpu")
    assert [h["epoch"] for h in h1] == [1, 2]
    assert _no_seconds(h1) == _no_seconds(h2)
    assert _same_weights(m1, m2)
    assert not m1.training
    for h in h1:
        assert 0 <= h["train_acc"] <= 1 and 0 <= h["val_acc"] <= 1 and math.isfinite(h["val_nll"])
    assert h1[-1]["train_loss"] < h1[0]["train_loss"]
    assert h1[-1]["val_acc"] > 0.3  # 10 classes: clearly above chance after 8 steps on MNIST
    m3, h3 = T.fit({**CFG, "seed": 1}, progress=False, device="cpu")
    assert not _same_weights(m1, m3), "the seed must matter"


class _Interrupt(Exception):
    pass


@pytest.mark.data
def test_fit_resumes_after_an_interruption(tmp_path, monkeypatch, count_train_batches):
    ckpt = tmp_path / "partial" / "run.pt"
    ref_model, ref_hist = T.fit(CFG, progress=False, device="cpu")
    steps_per_epoch = 256 // 64
    count_train_batches["n"] = 0

    real_save = T._save_atomic

    def save_then_stop(obj, path):
        real_save(obj, path)
        raise _Interrupt  # the run dies right after the first epoch's checkpoint

    monkeypatch.setattr(T, "_save_atomic", save_then_stop)
    with pytest.raises(_Interrupt):
        T.fit(CFG, checkpoint=ckpt, progress=False, device="cpu")
    assert count_train_batches["n"] == steps_per_epoch
    monkeypatch.setattr(T, "_save_atomic", real_save)
    first_epoch = torch.load(ckpt, weights_only=True)["history"]
    assert len(first_epoch) == 1

    model, hist = T.fit(CFG, checkpoint=ckpt, progress=False, device="cpu")
    assert count_train_batches["n"] == 2 * steps_per_epoch, "only the second epoch is trained again"
    assert hist[0] == first_epoch[0], "the first epoch's record comes from the checkpoint"
    assert _no_seconds(hist) == _no_seconds(ref_hist)
    assert _same_weights(model, ref_model), "a resumed run ends where an uninterrupted one does"

    # a finished checkpoint: nothing left to train, same weights, same history
    again, hist2 = T.fit(CFG, checkpoint=ckpt, progress=False, device="cpu")
    assert count_train_batches["n"] == 2 * steps_per_epoch
    assert hist2 == hist and len(hist2) == 2
    assert _same_weights(again, model) and not again.training


@pytest.mark.data
def test_fit_ignores_foreign_and_damaged_checkpoints(tmp_path, count_train_batches):
    ckpt = tmp_path / "run.pt"
    model, hist = T.fit(CFG, checkpoint=ckpt, progress=False, device="cpu")
    n = count_train_batches["n"]
    # another config must not pick up this checkpoint
    _, other = T.fit({**CFG, "lr": 0.01}, checkpoint=ckpt, progress=False, device="cpu")
    assert count_train_batches["n"] == 2 * n and _no_seconds(other) != _no_seconds(hist)
    assert torch.load(ckpt, weights_only=True)["config"]["lr"] == 0.01  # and it was overwritten
    # truncated: ignored, training starts again and gives the same result as a fresh run
    T.fit(CFG, checkpoint=ckpt, progress=False, device="cpu")
    data = ckpt.read_bytes()
    ckpt.write_bytes(data[: len(data) // 2])
    again, hist2 = T.fit(CFG, checkpoint=ckpt, progress=False, device="cpu")
    assert count_train_batches["n"] == 4 * n
    assert _no_seconds(hist2) == _no_seconds(hist) and _same_weights(again, model)
    assert torch.load(ckpt, weights_only=True)["epoch"] == 2  # rewritten whole


@pytest.mark.data
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_fit_resumes_on_cuda(tmp_path):
    ckpt = tmp_path / "run.pt"
    _, hist = T.fit(CFG, checkpoint=ckpt, progress=False, device="cuda")
    model, hist2 = T.fit(CFG, checkpoint=ckpt, progress=False, device="cuda")  # RNG states load on the CPU
    assert hist2 == hist and next(model.parameters()).is_cuda


# ---------------------------------------------------------------- the zoo: training and records
def test_zoo_configs():
    assert set(SMOKE) <= set(Z.names())
    assert Z.names("smoke") == list(SMOKE) + ["smoke-kd-mlp-mnist", "smoke-transformer-multi30k"]  # trained elsewhere
    for name in Z.names():
        cfg = Z.get_config(name)
        assert 0 <= cfg["alpha"] < 1
        assert cfg["model"] in MODELS
    assert Z.get_config("cpu-alexnet-cifar10-a0.1-s0")["alpha"] == 0.1


def test_zoo_dir_follows_the_env(tmp_zoo):
    assert Z.zoo_dir() == tmp_zoo
    assert Z.paths("smoke-mlp-mnist") == (tmp_zoo / "smoke-mlp-mnist.pt", tmp_zoo / "smoke-mlp-mnist.json")
    assert Z.trained() == [] and Z.verify() == []


@pytest.mark.data
@pytest.mark.parametrize("name", SMOKE)
def test_smoke_record(name, smoke_zoo, smoke_records):
    rec = Z.record(name)  # as stored (JSON: tuples read back as lists)
    assert rec == json.loads(json.dumps(smoke_records[name])) == json.loads((smoke_zoo / f"{name}.json").read_text())
    cfg = Z.get_config(name)
    assert rec["name"] == name and rec["config"] == json.loads(json.dumps(cfg))
    for split in ("train", "val", "test"):
        m = rec["metrics"][split]
        assert 0.0 <= m["acc"] <= 1.0 and math.isfinite(m["nll"]) and m["nll"] > 0
    assert len(rec["history"]) == cfg["epochs"]
    assert isinstance(rec["wall_time_s"], (int, float)) and rec["wall_time_s"] >= 0
    assert rec["hardware"].startswith("cpu: ")
    assert rec["versions"] == dict(lsmooth_lib=lsmooth_lib.__version__, torch=torch.__version__,
                                   python=rec["versions"]["python"])
    assert rec["data"]["path"].startswith(os.environ["LSMOOTH_DATA"]) and rec["data"]["source"]
    kept = "weights" if Z.storage(name) == "weights" else "local_weights"  # large models: weights in zoo/.local
    pt = smoke_zoo / ("" if kept == "weights" else ".local") / f"{name}.pt"
    assert rec[kept] == dict(file=pt.name, sha256=Z.sha256(pt), bytes=pt.stat().st_size, dtype="float16")
    assert ("snapshot" in rec) == (kept == "local_weights")
    state = torch.load(pt, weights_only=True)
    assert {v.dtype for v in state.values() if v.is_floating_point()} == {torch.float16}
    assert not (smoke_zoo / ".partial" / pt.name).exists(), "the partial checkpoint is removed"


@pytest.mark.data
@pytest.mark.parametrize("name", SMOKE)
def test_load_reproduces_the_recorded_accuracy(name, smoke_zoo):
    model, rec = Z.load(name)
    assert not model.training
    assert {p.dtype for p in model.parameters()} == {torch.float32}
    cfg = rec["config"]
    test = D.load_split(cfg["dataset"], "test", limit=cfg["limit"])
    got = T.evaluate(model, test)  # the record measured the stored fp16 weights: the same numbers
    assert got["acc"] == pytest.approx(rec["metrics"]["test"]["acc"], abs=1e-6)
    assert got["nll"] == pytest.approx(rec["metrics"]["test"]["nll"], abs=1e-5)
    assert model.classifier.out_features == D.dataset_info(cfg["dataset"])["num_classes"]


@pytest.mark.data
def test_train_skips_trained_entries_and_force_is_reproducible(smoke_zoo, smoke_records):
    name = "smoke-mlp-mnist"  # 2.5 MB of weights: kept in zoo/.local, the zoo commits its snapshot
    pt = smoke_zoo / ".local" / f"{name}.pt"
    mtime = pt.stat().st_mtime_ns
    assert Z.train(name, progress=False) == json.loads(json.dumps(smoke_records[name]))  # the stored record
    assert pt.stat().st_mtime_ns == mtime, "a trained entry is not retrained without force"
    rec = Z.train(name, force=True, progress=False, device="cpu")
    assert rec["trained_at"] >= smoke_records[name]["trained_at"]
    old = smoke_records[name]
    assert rec["local_weights"]["sha256"] == old["local_weights"]["sha256"], "CPU training is bit-reproducible"
    assert rec["snapshot"]["sha256"] == old["snapshot"]["sha256"], "and so is the snapshot of its weights"
    assert Z.verify() == []


@pytest.mark.data
def test_load_trains_only_when_asked(tmp_zoo):
    name = "smoke-mlp-mnist"
    with pytest.raises(Z.ZooError, match=rf"'{name}' has not been trained .*`python -m lsmooth_lib zoo train {name}`"):
        Z.load(name)
    assert list(tmp_zoo.iterdir()) == []
    model, rec = Z.load(name, train_if_missing=True, device="cpu")
    assert [p.name for p in Z.entry_files(name)] == [f"{name}.json", f"{name}.npz", f"{name}.pt"]
    assert all(p.exists() for p in Z.entry_files(name))
    assert Z.trained() == [name] and Z.verify() == []
    assert rec["name"] == name and not model.training


# ---------------------------------------------------------------- the zoo: damage
def _truncate(path: Path):
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def _flip_middle_byte(path: Path):
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


@pytest.mark.data
def test_intact_zoo_verifies(smoke_zoo, capsys):
    assert Z.verify() == []
    assert sorted(Z.trained()) == sorted(SMOKE)
    assert cli.main(["zoo", "verify"]) == 0
    assert "3 trained entries checked, 0 problem(s)" in capsys.readouterr().out


@pytest.mark.data
@pytest.mark.parametrize("damage", [_truncate, _flip_middle_byte], ids=["truncated", "flipped-byte"])
def test_damaged_weights_are_detected(damage, smoke_zoo, capsys):
    name = "smoke-resnet20-cifar100"  # commits its weights (0.6 MB)
    pt = smoke_zoo / f"{name}.pt"
    damage(pt)
    with pytest.raises(Z.ZooError, match="corrupted or truncated") as err:
        Z.load(name)
    assert str(pt) in str(err.value) and f"zoo train {name} --force" in str(err.value)
    problems = Z.verify()
    assert [n for n, _ in problems] == [name]
    assert "does not match its sha256" in problems[0][1]
    assert Z.verify(["smoke-mlp-mnist"]) == []
    Z.load("smoke-mlp-mnist")  # the other entries still load (this one from its local weights)
    capsys.readouterr()
    assert cli.main(["zoo", "verify"]) == 1
    out = capsys.readouterr().out
    assert f"{name}: weights file {smoke_zoo / name}.pt does not match" in out and "1 problem(s)" in out
    assert cli.main(["zoo", "verify", "smoke-mlp-mnist"]) == 0


@pytest.mark.data
def test_damaged_local_weights_are_named(smoke_zoo):
    name = "smoke-alexnet-cifar10"
    local = smoke_zoo / ".local" / f"{name}.pt"
    _truncate(local)
    with pytest.raises(Z.ZooError, match=rf"local weights of '{name}' .*corrupted or truncated.*zoo train {name} --force"):
        Z.load(name)
    assert [(n, "local weights" in msg) for n, msg in Z.verify()] == [(name, True)]
    assert Z.logits(name, "val")[0].shape == (256, 10)  # the chapters read its snapshot, which is intact


@pytest.mark.data
def test_logits_of_a_metrics_only_entry_come_from_its_local_weights(smoke_zoo, monkeypatch):
    """A metrics-only entry (seeds of chapter 3's sweeps) has no snapshot and no committed weights: where this
    machine has its local weights, zoo.logits computes from them (it raised a KeyError); without them, a ZooError."""
    name = "smoke-resnet20-cifar100"
    expected = Z.logits(name, "val")[0]
    monkeypatch.setitem(Z.CONFIGS, name, dict(Z.CONFIGS[name], keep_weights=False))
    rec = json.loads((smoke_zoo / f"{name}.json").read_text())
    rec["config"]["keep_weights"], rec["local_weights"] = False, rec.pop("weights")
    (smoke_zoo / f"{name}.json").write_text(json.dumps(rec))
    (smoke_zoo / ".local").mkdir(exist_ok=True)
    (smoke_zoo / f"{name}.pt").rename(smoke_zoo / ".local" / f"{name}.pt")
    Z._LOGITS.clear()
    assert torch.equal(Z.logits(name, "val")[0], expected)
    (smoke_zoo / ".local" / f"{name}.pt").unlink()
    Z._LOGITS.clear()
    with pytest.raises(Z.ZooError, match="metrics only"):
        Z.logits(name, "val", refresh=True)


@pytest.mark.data
def test_missing_weights_and_orphan_records(smoke_zoo):
    name = "smoke-resnet20-cifar100"
    (smoke_zoo / f"{name}.pt").unlink()
    with pytest.raises(Z.ZooError, match=r"weights of 'smoke-resnet20-cifar100' are missing"):
        Z.load(name)
    (smoke_zoo / "retired-entry.json").write_text((smoke_zoo / "smoke-mlp-mnist.json").read_text())
    problems = dict(Z.verify())
    assert set(problems) == {name, "retired-entry"}
    assert "missing" in problems[name] and "no configuration" in problems["retired-entry"]


@pytest.mark.data
def test_invalid_record_json(smoke_zoo, capsys):
    name = "smoke-mlp-mnist"
    js = smoke_zoo / f"{name}.json"
    js.write_text(js.read_text()[:40])
    with pytest.raises(Z.ZooError, match=r"is not valid JSON") as err:
        Z.record(name)
    assert str(js) in str(err.value)
    with pytest.raises(Z.ZooError, match="not valid JSON"):
        Z.load(name)
    assert [n for n, _ in Z.verify()] == [name]
    assert cli.main(["zoo", "verify"]) == 1
    assert cli.main(["zoo", "list"]) == 2
    assert "not valid JSON" in capsys.readouterr().err


def test_unknown_entry_names(tmp_zoo, capsys):
    typo = "smoke-alexnet-cifar1O"
    for call in (Z.get_config, Z.load, Z.record, Z.train):
        with pytest.raises(Z.ZooError, match=r"unknown zoo entry 'smoke-alexnet-cifar1O'\. Close matches: "
                                             r"smoke-alexnet-cifar10"):
            call(typo)
    with pytest.raises(Z.ZooError, match="zoo list"):
        Z.get_config("resnet-imagenet")
    capsys.readouterr()
    assert cli.main(["zoo", "train", typo]) == 2
    assert "Close matches: smoke-alexnet-cifar10" in capsys.readouterr().err
    assert cli.main(["zoo", "verify", typo]) == 2, "a misspelt name must not pass verification"
    assert "smoke-alexnet-cifar10" in capsys.readouterr().err
    assert list(tmp_zoo.iterdir()) == []


# ---------------------------------------------------------------- the command line
@pytest.mark.data
def test_cli_list(smoke_zoo, smoke_records, capsys):
    assert cli.main(["zoo", "list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == len(Z.names())
    by_name = {line.split()[0]: line for line in lines}
    assert set(by_name) == set(Z.names())
    for name in SMOKE:
        assert f"test acc {smoke_records[name]['metrics']['test']['acc']:.4f}" in by_name[name]
    assert by_name["cpu-alexnet-cifar10-a0.1-s0"].endswith("not trained")
    assert cli.main(["zoo", "list", "smoke"]) == 0
    assert [line.split()[0] for line in capsys.readouterr().out.splitlines()] == Z.names("smoke")


def test_cli_usage(tmp_zoo, capsys):
    assert cli.main([]) == 2
    assert "usage: python -m lsmooth_lib zoo" in capsys.readouterr().err
    assert cli.main(["train"]) == 2
    assert cli.main(["zoo", "verify"]) == 0
    assert "0 trained entries checked, 0 problem(s)" in capsys.readouterr().out
    with pytest.raises(SystemExit) as exit_:
        cli.main(["zoo", "frobnicate"])
    assert exit_.value.code == 2


def test_shards_partition_the_selection():
    entries = Z.names("cpu-alexnet")
    slices = [Z.shard(entries, f"{i}/3") for i in (1, 2, 3)]
    assert sorted(sum(slices, [])) == sorted(entries) and all(slices)
    assert Z.shard(entries, "1/1") == entries
    for bad in ("0/3", "4/3", "a/b", "3"):
        with pytest.raises(ValueError, match="shard"):
            Z.shard(entries, bad)


def test_cli_shard_trains_only_its_slice(tmp_zoo, capsys, monkeypatch):
    calls = []
    monkeypatch.setattr(Z, "train", lambda n, **kw: calls.append(n) or {"metrics": {"test": {"acc": 0.5}}, "wall_time_s": 1})
    assert cli.main(["zoo", "train", "smoke", "--match", "--shard", "2/2"]) == 0
    assert calls == Z.names("smoke")[1::2]
    assert cli.main(["zoo", "train", "smoke", "--match", "--shard", "3/2"]) == 2
    assert "--shard" in capsys.readouterr().err
