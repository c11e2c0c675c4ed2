"""Snapshots: what git keeps of a model whose weights are too large to commit (lsmooth_lib.snapshot, zoo).

Every accessor a chapter uses (zoo.logits, zoo.projection, zoo.feature_norms, zoo.templates,
zoo.token_calibration, zoo.translations) must give from the snapshot what the live model gives.
"""
import subprocess

import numpy as np
import pytest
import torch

from conftest import REPO

COMMITTED_LOCAL = REPO / "zoo" / ".local"
from lsmooth_lib import calibration as C, data as D, geometry as G, snapshot as S, translation as TR, zoo
from lsmooth_lib.train import predict

pytestmark = pytest.mark.data
SNAP = "smoke-alexnet-cifar10"   # 2.1 MB of fp16 weights: committed as a snapshot
LIVE = "smoke-resnet20-cifar100"  # 0.6 MB: committed as weights


def test_storage_policy_commits_the_smaller_of_weights_and_snapshot():
    assert zoo.storage("cpu-alexnet-cifar10-a0-s0") == "snapshot"
    assert zoo.storage("cpu-transformer-multi30k-a0-s0") == "snapshot"
    assert zoo.storage("cpu-resnet20-cifar10-a0-s0") == "weights"
    assert zoo.storage("cpu-alexnet-cifar10-kd-a0-T1-s0") == "metrics"


def test_a_snapshot_entry_commits_arrays_not_weights(smoke_zoo, smoke_records):
    rec = smoke_records[SNAP]
    assert "weights" not in rec and {"snapshot", "local_weights"} <= set(rec)
    files = zoo.entry_files(SNAP)
    assert [f.name for f in files] == [f"{SNAP}.json", f"{SNAP}.npz", f"{SNAP}.pt"]
    assert files[2].parent.name == ".local"
    assert not (smoke_zoo / f"{SNAP}.pt").exists()
    assert "weights" in smoke_records[LIVE] and "snapshot" not in smoke_records[LIVE]
    assert zoo.verify() == []


def test_snapshot_accessors_give_what_the_model_gives(smoke_zoo):
    model, _ = zoo.load(SNAP, device="cpu")   # the local weights, on the machine that trained it
    val = D.load_split("cifar10", "val", limit=256)
    z, y = zoo.logits(SNAP, "val")
    assert torch.equal(y, val.labels) and z.shape == (256, 10)   # the smoke entry's `limit` examples
    assert torch.allclose(z, predict(model, val), atol=2e-2, rtol=1e-2)   # float16 storage
    classes = ["cat", "dog", "truck"]
    stored, live = zoo.projection(SNAP, "val", classes), G.project_classes(model, val, classes)
    assert stored.classes == live.classes and torch.equal(stored.labels, live.labels)
    assert torch.allclose(stored.coords, live.coords, atol=1e-2 * float(live.coords.abs().max()))
    assert stored.tightness == pytest.approx(live.tightness, rel=1e-2)
    assert torch.allclose(zoo.templates(SNAP), model.templates.detach(), atol=1e-6)
    norms = zoo.feature_norms(SNAP, "test")
    assert torch.allclose(norms, G.feature_norms(model, D.load_split("cifar10", "test", limit=256)), rtol=2e-3)


def test_a_damaged_or_missing_snapshot_is_named_with_the_fix(smoke_zoo):
    path = smoke_zoo / f"{SNAP}.npz"
    path.write_bytes(path.read_bytes()[:-100])
    zoo._SNAPSHOTS.clear()
    with pytest.raises(zoo.ZooError, match=rf"{SNAP}\.npz.*sha256.*(git checkout|zoo train)"):
        zoo.logits(SNAP, "val")
    assert any("snapshot" in msg for _, msg in zoo.verify())
    path.unlink()
    with pytest.raises(zoo.ZooError, match="is missing"):
        zoo.projection(SNAP, "val", ["cat", "dog", "truck"])


def test_load_of_a_snapshot_entry_without_weights_says_how_to_get_them(smoke_zoo):
    (smoke_zoo / ".local" / f"{SNAP}.pt").unlink()
    with pytest.raises(zoo.ZooError, match=r"commits a snapshot.*zoo train smoke-alexnet-cifar10 --force"):
        zoo.load(SNAP)


def test_probe_classes_of_a_many_class_dataset_are_the_named_and_the_confused_ones():
    """CIFAR-100 stores 100 images of a few classes only: Figure 1's beaver/dolphin/otter and the model's most
    confused pair with a distant class (what chapter 2's row 3 shows)."""
    torch.manual_seed(0)
    model = __import__("lsmooth_lib.models", fromlist=["build_model"]).build_model("resnet20", 100, input_size=24).eval()
    cfg = dict(dataset="cifar100", limit=2000)
    arrays = S.build(model, cfg)
    val = D.load_split("cifar100", "val", limit=2000)
    stored = set(arrays["probe_val_labels"].tolist())
    assert {val.class_index(c) for c in S.PROBE_CLASSES["cifar100"]} <= stored
    assert set(arrays["confused_triple"].tolist()) <= stored and len(stored) <= 6
    z_val = predict(model, val)
    triple = G.confused_triple(z_val, val.labels, model.templates.detach())
    assert triple == arrays["confused_triple"].tolist()


def test_a_many_class_snapshot_keeps_the_reliability_diagram_not_the_logits():
    """A 100-class model's whole-split logits (3 MB per paper-scale entry) are replaced by chapter 3's reliability
    bins at T = 1 and at the fitted T: the same bins, ECE and T as from the logits."""
    torch.manual_seed(0)
    model = __import__("lsmooth_lib.models", fromlist=["build_model"]).build_model("resnet20", 100, input_size=24).eval()
    arrays = S.build(model, dict(dataset="cifar100", limit=2000))
    assert not any(k.startswith("logits_") for k in arrays)
    val, test = D.load_split("cifar100", "val", limit=2000), D.load_split("cifar100", "test", limit=2000)
    z_val, z_test = predict(model, val), predict(model, test)
    t = C.fit_temperature(z_val, val.labels)
    assert float(arrays["reliability_T"]) == pytest.approx(t, rel=1e-5)
    for fitted, temp in ((False, 1.0), (True, t)):
        stored, live = S.stored_reliability(arrays, fitted), C.reliability_bins(z_test, test.labels, 15, temp)
        assert torch.equal(stored["count"], live["count"])
        assert C.ece_of_bins(stored) == pytest.approx(C.ece_of_bins(live), abs=1e-6)
        filled = live["count"] > 0
        assert torch.allclose(stored["acc"][filled], live["acc"][filled], atol=1e-6)
    assert S.stored_reliability({"logits_test": np.zeros((2, 10))}, False) is None
    ten = __import__("lsmooth_lib.models", fromlist=["build_model"]).build_model("alexnet", 10).eval()
    assert {"logits_val", "logits_test"} <= set(S.build(ten, dict(dataset="cifar10", limit=64)))


def test_only_a_teacher_whose_students_cache_its_logits_stores_them():
    assert zoo.caches_teacher_logits("cpu-resnet20-cifar10-a0-s0")        # CPU students: no augmentation
    assert zoo.caches_teacher_logits("cpu-mlp1200-mnist-ls-s0")
    assert any(c.get("teacher") == "gpu-resnet56-cifar10-a0-s0" for c in zoo.CONFIGS.values()), "a teacher"
    assert not zoo.caches_teacher_logits("gpu-resnet56-cifar10-a0-s0")    # GPU students crop: the teacher runs online
    assert not zoo.caches_teacher_logits("cpu-alexnet-cifar10-a0-s0")


def test_committed_paper_scale_entries_read_their_stored_reliability(committed_zoo):
    """The GPU ResNet-56s on CIFAR-100 commit bins, not logits; zoo.reliability gives chapter 3 their diagrams,
    whose ECE and temperature are the record's (both from the same fp32 logits; the bins are stored in float32)."""
    name = "gpu-resnet56-cifar100-a0-s0"
    assert "logits_test" not in zoo.snapshot(name)
    if not (COMMITTED_LOCAL / f"{name}.pt").exists():  # the machine that trained or imported it has the weights
        with pytest.raises(zoo.ZooError, match=r"keeps no test logits.*zoo\.reliability.*zoo train"):
            zoo.logits(name, "test")
    cal = zoo.record(name)["calibration"]
    for fitted, key in ((False, "ece"), (True, "ece_ts")):
        bins, t = zoo.reliability(name, fitted)
        assert int(bins["count"].sum()) == 10_000 and t == pytest.approx(cal["T"], rel=1e-5)
        assert C.ece_of_bins(bins) == pytest.approx(cal[key], abs=1e-5)


def test_confused_triple_finds_the_most_confused_pair():
    labels = torch.tensor([0, 0, 1, 1, 2, 2, 3, 3])
    pred = torch.tensor([1, 1, 0, 1, 2, 2, 3, 3])            # classes 0 and 1 are confused 3 times
    logits = torch.nn.functional.one_hot(pred, 4).float()
    templates = torch.tensor([[0.0, 0.0], [1.0, 0.0], [0.5, 0.2], [9.0, 9.0]])
    assert G.confused_triple(logits, labels, templates) == [0, 1, 3]


def test_translation_snapshot_matches_the_live_model():
    """The Transformer's table and translations are chapter 3's functions and beam search, stored once."""
    torch.manual_seed(0)
    from lsmooth_lib.models import build_model
    cfg = dict(dataset="multi30k", limit=60)
    model = build_model("transformer", 5000, d_model=32, heads=2, layers=1, d_ff=64).eval()
    arrays = S.build(model, cfg, decoding_temperatures=(1.0, 2.0))
    val = D.load_split("multi30k", "val", limit=60)
    z = TR.token_logits(model, val)
    i = list(arrays["tokcal_temperature"]).index(1.0)
    assert arrays["tokcal_ece"][i] == pytest.approx(C.ece(z, val.labels), abs=1e-9)
    assert arrays["tokcal_nll"][i] == pytest.approx(C.nll(z, val.labels), abs=1e-6)
    assert arrays["tokcal_fitted_temperature"] == pytest.approx(C.fit_temperature(z, val.labels), rel=1e-6)
    test = D.load_split("multi30k", "test", limit=60)
    assert list(arrays["examples"][1]) == TR.translate(model, test.src_text[:S.EXAMPLE_SENTENCES], temperature=2.0)
    ids = [val.class_index(t) for t in S.PROBE_CLASSES["multi30k"]]
    live = TR.project_tokens(model, val, ids)
    stored = G.project_features(torch.from_numpy(arrays["probe_val_features"]).double(),
                                torch.tensor([ids.index(k) for k in arrays["probe_val_labels"]]),
                                torch.from_numpy(arrays["templates"]).double(), live.classes, "val")
    assert torch.allclose(stored.coords, live.coords, atol=1e-2 * float(live.coords.abs().max()))


def test_snapshot_files_hold_no_pickles(tmp_path):
    path = tmp_path / "x.npz"
    S.save({"a": np.arange(3, dtype=np.float16), "s": np.array(["Hund", "Katze"])}, path)
    back = S.read(path)
    assert back["s"].tolist() == ["Hund", "Katze"] and back["a"].dtype == np.float16
    assert not list(tmp_path.glob("*.tmp"))


def test_tracked_tree_fits_the_gpu_machine():
    """The GPU machine receives the tracked tree plus one dataset's training split, 64 MiB in all: the tree stays
    at most 32,000,000 bytes (issue 17), so that CIFAR-100's 31.3 MB training split can travel with it."""
    try:
        out = subprocess.run(["git", "ls-files", "-z"], cwd=REPO, capture_output=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("not a git checkout")
    files = [REPO / f for f in out.decode().split("\0") if f]
    total = sum(f.stat().st_size for f in files if f.is_file())
    assert total <= 32_000_000, f"tracked tree {total:,} bytes > 32,000,000 (largest: " + ", ".join(
        f"{f.name} {f.stat().st_size:,}" for f in sorted((f for f in files if f.is_file()), key=lambda f: -f.stat().st_size)[:5]) + ")"
