"""The GPU presets, train.fit's fast path, and the runner (lsmooth_lib.runner): ``zoo train --jobs/--budget-s/--out``
and ``zoo import``, end to end on the CPU with the smoke entries (each trains in seconds in its own process)."""
import io
import json
import os
import re
import sys
import tarfile
import time
from pathlib import Path

import pytest
import torch

from lsmooth_lib import __main__ as cli
from lsmooth_lib import data as D
from lsmooth_lib import runner as R
from lsmooth_lib import train as T
from lsmooth_lib import zoo as Z

REPO = Path(__file__).resolve().parent.parent
RUN = ["smoke-mlp-mnist", "smoke-kd-mlp-mnist", "smoke-alexnet-cifar10", "cpu-alexnet-cifar10-a0-s0"]


def _files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def _members(part: Path) -> dict:
    with tarfile.open(part) as tar:
        manifest = json.loads(tar.extractfile("manifest.json").read())
        return {m.name: m.size for m in tar.getmembers()}, manifest


# ---------------------------------------------------------------- the GPU presets
def test_gpu_presets_follow_the_plan():
    gpu = Z.select(preset="gpu")
    want = {f"gpu-resnet56-cifar100-a{a}-s{s}" for a in ("0", "0.05", "0.1") for s in (0, 1, 2)}
    want |= {f"gpu-resnet56-cifar10-a{a}-s0" for a in ("0", "0.1", "0.3", "0.6")}
    want |= {"gpu-alexnet-cifar10-a0-s0", "gpu-alexnet-cifar10-a0.1-s0"}
    want |= {f"gpu-alexnet-cifar10-kd-a0-T{t}-s0" for t in (1, 2, 3, 4, 8)}
    want |= {f"gpu-alexnet-cifar10-kd-a{a}-T1-s0" for a in ("0.1", "0.3", "0.6")}
    assert set(gpu) == want
    for i, name in enumerate(gpu):
        cfg = Z.get_config(name)
        assert cfg["preset"] == "gpu" and cfg["est_gpu_s"] > 0 and len(cfg["deviation"]) > 100 and cfg["description"]
        assert cfg["augment"]["flip"] and cfg["schedule"] == "step" and cfg["nesterov"] and cfg["momentum"] == 0.9
        if cfg["model"] == "resnet56":
            assert cfg["weight_decay"] == 1e-4 and cfg["augment"]["pad"] == 4
            assert cfg["lr"] == pytest.approx(0.1 * cfg["batch_size"] / 128) and cfg["warmup"] > 0
        else:
            assert cfg["model_kwargs"] == {"lrn": True}
        if cfg.get("teacher"):  # a teacher comes before its students (the runner's priority order)
            assert cfg["teacher"] in gpu[:i] and Z.get_config(cfg["teacher"])["model"] == "resnet56"
            assert cfg["beta"] == 1.0 and cfg["student_temperature"] == 1.0 and not cfg["keep_weights"]
        if cfg.get("track_mi"):  # Figure 6, every ~1/20 of the run, on 32x32 pad-4 crops
            steps = cfg["epochs"] * ((50000 - 5000) // cfg["batch_size"])
            assert steps / 25 <= cfg["track_mi"]["every"] <= steps / 15
            assert cfg["track_mi"]["augment"] == {"pad": 4, "flip": True}
    assert gpu[:3] == [f"gpu-resnet56-cifar100-a{a}-s0" for a in ("0", "0.05", "0.1")], "seed 0 first"
    # one command's budget (--budget-s 400, README) holds a CIFAR-100 entry at the estimated rate...
    assert Z.get_config(gpu[0])["est_gpu_s"] * R.SAFETY <= 400
    # ... and the new keys leave every other entry's completed config (what committed records store) alone
    for name in set(Z.names()) - set(gpu):
        assert not {"est_gpu_s", "deviation"} & set(Z.get_config(name)), name


def test_config_checks_of_the_new_keys():
    base = dict(dataset="mnist", model="mlp800")
    assert T.complete_config({**base, "est_gpu_s": 10, "deviation": "x"})["est_gpu_s"] == 10
    with pytest.raises(ValueError, match="unknown config keys.*fast"):  # the fast path is fit's argument, not a key
        T.complete_config({**base, "fast": False})
    with pytest.raises(ValueError, match="est_gpu_s"):
        T.complete_config({**base, "est_gpu_s": 0})
    assert T.use_fast("cpu") is False and T.use_fast("cuda") is True
    assert T.use_fast("cuda", fast=False) is False and T.use_fast("cpu", fast=True) is True
    with pytest.raises(ValueError, match="fast switches"):
        T.use_fast("cpu", fast="yes")
    assert T.precision("cpu", False) == "fp32" and T.precision("cpu", True) == "fp32, channels_last"


def test_estimates():
    assert R.estimate("gpu-resnet56-cifar100-a0-s0", "cuda") == (260.0, "est_gpu_s")
    assert R.estimate("gpu-resnet56-cifar100-a0-s0", "cuda", scale=0.5)[0] == 130.0
    assert R.estimate("smoke-mlp-mnist", "cpu")[0] == R.DEFAULT_EST["cpu"]["smoke"]
    assert R.estimate("smoke-mlp-mnist", "cuda")[0] == R.DEFAULT_EST["gpu"]["smoke"]
    assert R.estimate("cpu-alexnet-cifar10-a0-s0", "cpu")[0] == 1800.0  # README: 20-30 minutes per entry
    assert R.estimate("cpu-alexnet-cifar10-a0-s0", "cpu", overrides={"cpu-alexnet-cifar10-a0-s0": 3}) == (3.0, "given")


# ---------------------------------------------------------------- the fast path
@pytest.mark.data
def test_fast_and_plain_agree_on_the_cpu(monkeypatch):
    """The fast path changes the arithmetic's layout, not the training: same accuracy, weights within float noise."""
    seen = {}
    real_build = T.build_model

    def spying_build(*args, **kwargs):
        model = real_build(*args, **kwargs)
        model.register_forward_pre_hook(
            lambda m, inp: seen.setdefault(m.training, []).append(inp[0].is_contiguous(memory_format=torch.channels_last)))
        return model

    monkeypatch.setattr(T, "build_model", spying_build)
    cfg = Z.get_config("smoke-alexnet-cifar10")
    plain, h_plain = T.fit(cfg, progress=False, device="cpu", fast=False)
    assert seen[True] and not any(seen[True]), "plain: NCHW batches"
    seen.clear()
    fast, h_fast = T.fit(cfg, progress=False, device="cpu", fast=True)
    assert seen[True] and all(seen[True]), "fast: channels_last batches into a channels_last model"
    for a, b in zip(h_plain, h_fast):
        assert a["train_acc"] == b["train_acc"] and a["val_acc"] == b["val_acc"]
        assert a["train_loss"] == pytest.approx(b["train_loss"], rel=1e-4)
        assert a["val_nll"] == pytest.approx(b["val_nll"], rel=1e-4)
    sp, sf = plain.state_dict(), fast.state_dict()
    assert all(v.is_contiguous() for v in sf.values()), "the returned model is back in the default memory format"
    T.seed_everything(cfg["seed"])  # fit's initial weights
    init = real_build(cfg["model"], 10, **cfg["model_kwargs"]).state_dict()
    moved = max(float((sp[k] - init[k]).abs().max()) for k in sp)
    gap = max(float((sp[k] - sf[k]).abs().max()) for k in sp)
    assert moved > 1e-3 and gap < 1e-4 and gap < moved / 100  # training moved the weights, both paths alike


@pytest.mark.data
def test_student_sees_the_centre_of_its_teachers_window(monkeypatch):
    """A 24-pixel AlexNet distilled from a 32-pixel teacher (the GPU presets' Figure 5): the student's batch is
    its own random crop, and the teacher sees the 32x32 window centred on it."""
    inputs = {}
    teacher = T.build_model("resnet20", 10)  # 32-pixel input; untrained is enough to follow the pixels
    assert teacher.input_size == 32
    teacher.register_forward_pre_hook(lambda m, inp: None if "teacher" in inputs else
                                      inputs.update(teacher=inp[0].clone()))
    student = dict(Z._smoke("cifar10", "alexnet", augment={"pad": 0, "flip": True}), teacher="a-32px-teacher",
                   beta=1.0, distill_mode="soft", distill_temperature=2.0)
    real_build = T.build_model

    def spying_build(*args, **kwargs):
        model = real_build(*args, **kwargs)
        model.register_forward_pre_hook(lambda m, inp: None if "student" in inputs or not m.training else
                                        inputs.update(student=inp[0].clone()))
        return model

    monkeypatch.setattr(T, "build_model", spying_build)
    _, hist = T.fit(student, teacher=teacher, progress=False, device="cpu", fast=False)
    t, s = inputs["teacher"], inputs["student"]
    assert t.shape[-1] == 32 and s.shape[-1] == 24 and len(t) == len(s) == 64
    assert torch.equal(s, t[..., 4:28, 4:28])
    assert 0 <= hist[0]["val_acc"] <= 1
    # the student's view is exactly a random 24x24 crop (+ flip) of an image, as for the AlexNet trained alone
    x = D.normalize(D.load_split("cifar10", "train", limit=256).images, "cifar10")
    for img in s[:2]:
        best = min(float((c - img).abs().amax((1, 2, 3)).min())
                   for i in range(9) for j in range(9) for c in (x[..., i:i + 24, j:j + 24],
                                                               x[..., i:i + 24, j:j + 24].flip(-1)))
        assert best < 1e-5


# ---------------------------------------------------------------- archive parts
def test_archive_parts_respect_the_file_limit(tmp_path):
    """Parts never split an entry, stay under --part-mb, are written atomically, and the folder never holds more
    than the 8 files the GPU machine returns."""
    src, out = tmp_path / "src", tmp_path / "out"
    src.mkdir()
    arch = R.Archiver(out, part_bytes=300_000)
    added, refused = {}, []
    for i in range(14):
        files = []
        for suffix, size in ((".json", 2_000), (".npz", 80_000 + 10_000 * i)):
            p = src / f"e{i}{suffix}"
            p.write_bytes(os.urandom(size))
            files.append((p.name, p))
        part, note = arch.add(f"e{i}", files)
        (added.__setitem__(f"e{i}", part) if part else refused.append(f"e{i}"))
        (out / R.LOG_NAME).write_text("log")
        (out / R.SUMMARY_NAME).write_text("{}")
        assert len(_files(out)) <= R.MAX_FILES - 1  # one more may appear while a part is rewritten
    assert refused and len(arch.parts) == R.MAX_PARTS
    part, why = arch.add("late", [("late.npz", src / f"{refused[-1]}.npz")])
    assert part is None and "archive parts are full" in why
    parts = sorted(out.glob("zoo-part*.tar"))
    assert [p.name for p in parts] == [f"zoo-part{i:02d}.tar" for i in range(1, R.MAX_PARTS + 1)]
    assert not list(out.glob(".*")), "no temporary file is left"
    where = {}
    for part in parts:
        assert part.stat().st_size <= 300_000
        members, manifest = _members(part)
        assert set(members) == {"manifest.json"} | set(manifest["files"])
        for name, arcs in manifest["entries"].items():
            assert arcs == [f"{name}.json", f"{name}.npz"]
            where[name] = part.name
            for a in arcs:
                assert manifest["files"][a] == dict(sha256=Z.sha256(src / a), bytes=(src / a).stat().st_size)
    assert where == added and set(where).isdisjoint(refused)
    big = src / "big.npz"
    big.write_bytes(b"\0" * 400_000)
    arch2 = R.Archiver(tmp_path / "out2", part_bytes=300_000)
    part, note = arch2.add("big", [("big.npz", big)])
    assert part == "zoo-part01.tar" and "more than --part-mb" in note  # never split, but said


# ---------------------------------------------------------------- the runner, end to end
@pytest.fixture(scope="module")
def runner_call(tmp_path_factory):
    """One runner call on the CPU: three smoke entries (a teacher and its student among them), 2 at a time, and
    an entry whose estimate (30 minutes) cannot fit the budget; small parts so that each entry gets its own."""
    if not os.environ.get("LSMOOTH_DATA"):
        pytest.skip("needs the offline datasets (LSMOOTH_DATA)")
    base = tmp_path_factory.mktemp("runner")
    source, out = base / "zoo", base / "out"
    source.mkdir()
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("LSMOOTH_ZOO", str(source))
        t0 = time.monotonic()
        rc = cli.main(["zoo", "train", *RUN, "--device", "cpu", "--jobs", "2", "--budget-s", "240", "--out", str(out),
                       "--part-mb", "3"])
        wall = time.monotonic() - t0
    return dict(rc=rc, out=out, source=source, wall=wall, summary=json.loads((out / "summary.json").read_text()),
                log=(out / "runner.log").read_text())


def test_runner_trains_in_order_within_the_budget(runner_call):
    s, log = runner_call["summary"], runner_call["log"]
    print(f"runner call: {runner_call['wall']:.1f} s wall; entries:",
          [(e["name"], e["state"], e["wall_s"]) for e in s["entries"]])
    assert runner_call["rc"] == 0 == s["exit_code"]
    assert sorted(s["finished"]) == sorted(RUN[:3]) and s["failed"] == s["killed"] == []
    assert s["not_started"] == ["cpu-alexnet-cifar10-a0-s0"]
    assert re.search(r"cpu-alexnet-cifar10-a0-s0: not started \(needs ~1800 s .*budget left\)", log)
    rows = {e["name"]: e for e in s["entries"]}
    assert rows["cpu-alexnet-cifar10-a0-s0"]["started_s"] is None
    # two at a time: the teacher and the AlexNet start together; the student only after its teacher finished
    assert rows["smoke-mlp-mnist"]["started_s"] < 5 and rows["smoke-alexnet-cifar10"]["started_s"] < 5
    assert rows["smoke-kd-mlp-mnist"]["started_s"] >= rows["smoke-mlp-mnist"]["ended_s"]
    assert s["elapsed_s"] < 240 and runner_call["wall"] < 240
    staging = re.search(r"staging zoo (\S+);", log).group(1)
    assert not Path(staging).exists(), "the staging zoo and the job logs are removed"
    assert not list(runner_call["source"].iterdir()), "the runner never writes into the zoo it reads"


def test_runner_output_is_what_the_machine_returns(runner_call):
    out, s = runner_call["out"], runner_call["summary"]
    files = _files(out)
    assert len(files) <= R.MAX_FILES and all(p.is_file() for p in out.iterdir())
    parts = [f for f in files if f.startswith("zoo-part")]
    assert files == sorted(parts + ["runner.log", "summary.json"])
    assert len(parts) == 3 and sorted(s["parts"]) == parts  # 3 MiB parts: each ~2.5 MiB entry alone
    seen = []
    for part in parts:
        members, manifest = _members(out / part)
        assert (out / part).stat().st_size <= 3 * 2**20
        (name,) = manifest["entries"]
        seen.append(name)
        rec = json.loads(tarfile.open(out / part).extractfile(f"{name}.json").read())
        assert rec["name"] == name and rec["config"] == json.loads(json.dumps(Z.get_config(name)))
        arcs = manifest["entries"][name]
        assert f".local/{name}.pt" in arcs and set(arcs) | {"manifest.json"} == set(members)
        with tarfile.open(out / part) as tar:
            for a in arcs:
                import hashlib
                assert hashlib.sha256(tar.extractfile(a).read()).hexdigest() == manifest["files"][a]["sha256"]
    assert sorted(seen) == sorted(RUN[:3])


def test_import_moves_verifies_and_finalizes(runner_call, tmp_zoo, capsys):
    parts = sorted(runner_call["out"].glob("zoo-part*.tar"))
    assert cli.main(["zoo", "import", *map(str, parts)]) == 0
    out = capsys.readouterr().out
    assert "3 imported, 0 already there, 3 finalized, 0 error(s)" in out
    assert sorted(Z.trained()) == sorted(RUN[:3]) and Z.verify() == []
    for name in RUN[:3]:
        rec = Z.record(name)
        assert "pending" not in rec and 0 <= rec["metrics"]["test"]["acc"] <= 1
        assert (tmp_zoo / ".local" / f"{name}.pt").exists() and not (tmp_zoo / f"{name}.pt").exists()
        model, _ = Z.load(name, device="cpu")  # the local weights match the record
    assert "gamma" in Z.record("smoke-kd-mlp-mnist")
    assert not [p for p in tmp_zoo.iterdir() if p.name.startswith(".import")]
    # importing the same parts again changes nothing
    assert cli.main(["zoo", "import", *map(str, parts)]) == 0
    assert "0 imported, 3 already there" in capsys.readouterr().out


@pytest.mark.parametrize("damage", ["flip", "truncate", "member"])
def test_damaged_archives_are_refused(runner_call, tmp_zoo, tmp_path, capsys, damage):
    part = sorted(runner_call["out"].glob("zoo-part*.tar"))[0]
    bad = tmp_path / "zoo-part01.tar"
    data = bytearray(part.read_bytes())
    if damage == "flip":  # one byte inside the weights
        data[len(data) // 2] ^= 0xFF
        bad.write_bytes(bytes(data))
    elif damage == "truncate":
        bad.write_bytes(bytes(data[: len(data) * 2 // 3]))
    else:  # a well-formed tar whose weights do not match the manifest's hashes
        with tarfile.open(part) as src, tarfile.open(bad, "w") as dst:
            for m in src.getmembers():
                body = src.extractfile(m).read()
                if m.name.startswith(".local/"):
                    body = body[:-1] + bytes([body[-1] ^ 1])
                dst.addfile(m, io.BytesIO(body))
    assert cli.main(["zoo", "import", str(bad)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"error: {bad}: damaged") and "nothing imported" in err[0]
    assert Z.trained() == [] and not [p for p in tmp_zoo.rglob("*") if p.is_file()]


# ---------------------------------------------------------------- the runner's other paths
def test_budget_end_kills_what_runs(tmp_zoo, tmp_path):
    """An entry that starts (its estimate says it fits) but is still running at the end of the budget is killed,
    and the runner returns before the budget with nothing archived and a non-zero exit code."""
    t0 = time.monotonic()
    s = R.run(["cpu-alexnet-cifar10-a0-s0"], device="cpu", jobs=1, budget_s=8, out=tmp_path / "out",
              estimates={"cpu-alexnet-cifar10-a0-s0": 1}, echo=False)
    assert time.monotonic() - t0 < 8
    assert s["killed"] == ["cpu-alexnet-cifar10-a0-s0"] and s["finished"] == [] and s["exit_code"] == 1
    assert "still running at the end of the budget" in s["entries"][0]["reason"]
    assert _files(tmp_path / "out") == ["runner.log", "summary.json"]


def test_a_failed_teacher_skips_its_students(tmp_zoo, tmp_path):
    def command(name, device):  # the teacher's process crashes; nothing else may run
        assert name == "smoke-mlp-mnist"
        return [sys.executable, "-c", "import sys; print('teacher crashed on purpose'); sys.exit(3)"]

    s = R.run(["smoke-mlp-mnist", "smoke-kd-mlp-mnist"], device="cpu", jobs=2, budget_s=60, out=tmp_path / "out",
              command=command, echo=False)
    assert s["failed"] == ["smoke-mlp-mnist"] and s["skipped"] == ["smoke-kd-mlp-mnist"] and s["exit_code"] == 1
    rows = {e["name"]: e for e in s["entries"]}
    assert rows["smoke-kd-mlp-mnist"]["reason"] == "its teacher smoke-mlp-mnist failed"
    log = (tmp_path / "out" / "runner.log").read_text()
    assert "smoke-mlp-mnist: failed (exit code 3" in log and "| teacher crashed on purpose" in log
    assert _files(tmp_path / "out") == ["runner.log", "summary.json"]


@pytest.mark.data
def test_a_teacher_trained_before_is_taken_from_the_zoo(tmp_zoo, tmp_path):
    """Already trained entries are skipped; a student whose teacher is in the zoo (an earlier call, imported)
    gets it, weights included, in its staging zoo -- and only the student is archived."""
    Z.train("smoke-mlp-mnist", progress=False, device="cpu")
    s = R.run(["smoke-mlp-mnist", "smoke-kd-mlp-mnist"], device="cpu", jobs=2, out=tmp_path / "out", echo=False)
    assert s["already_trained"] == ["smoke-mlp-mnist"] and s["finished"] == ["smoke-kd-mlp-mnist"]
    assert s["exit_code"] == 0 and s["budget_s"] is None
    members, manifest = _members(tmp_path / "out" / "zoo-part01.tar")
    assert list(manifest["entries"]) == ["smoke-kd-mlp-mnist"]
    assert not [m for m in members if "smoke-mlp-mnist" in m]


def test_runner_command_line_checks(tmp_zoo, tmp_path, capsys):
    assert cli.main(["zoo", "train", "smoke-mlp-mnist", "--jobs", "2"]) == 2
    assert "needs --out" in capsys.readouterr().err
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "old.tar").write_text("x")
    assert cli.main(["zoo", "train", "smoke-mlp-mnist", "--budget-s", "60", "--out", str(tmp_path / "out")]) == 2
    assert "must be a new or empty folder" in capsys.readouterr().err
    assert cli.main(["zoo", "train", "smoke-mlp-mnistt", "--jobs", "1", "--out", str(tmp_path / "o2")]) == 2
    assert "Close matches: smoke-mlp-mnist" in capsys.readouterr().err
    assert cli.main(["zoo", "import", str(tmp_path / "missing.tar")]) == 1
    assert "missing.tar: no such archive" in capsys.readouterr().err


# ---------------------------------------------------------------- no test split on the training machine
@pytest.mark.data
def test_a_machine_without_the_test_split_leaves_it_pending(tmp_zoo, tmp_path, monkeypatch, capsys):
    real = D.load_split

    def no_test(name, split="train", limit=None):
        if split == "test":
            raise D.DataUnavailableError(f"{name} (test) is not on this machine")
        return real(name, split, limit)

    monkeypatch.setattr(D, "load_split", no_test)
    rec = Z.train("smoke-mlp-mnist", progress=False, device="cpu")
    assert rec["pending"] == ["test"] and "test" not in rec["metrics"] and {"train", "val"} <= set(rec["metrics"])
    assert rec["data"]["path"].endswith("train-images-idx3-ubyte")  # provenance from the training split
    assert cli.main(["zoo", "list", "smoke-mlp-mnist"]) == 0
    assert "test acc pending" in capsys.readouterr().out
    # archived as the runner does, imported where the test split is: finalize completes the record
    arch = R.Archiver(tmp_path / "out", 15 * 2**20)
    arch.add("smoke-mlp-mnist", [(f.relative_to(tmp_zoo).as_posix(), f) for f in Z.entry_files("smoke-mlp-mnist")])
    monkeypatch.setattr(D, "load_split", real)
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    monkeypatch.setenv("LSMOOTH_ZOO", str(fresh))
    res = R.import_archives([tmp_path / "out" / "zoo-part01.tar"], finalize=False, echo=False)
    assert res["imported"] == ["smoke-mlp-mnist"] and res["finalized"] == [] and not res["errors"]
    assert Z.record("smoke-mlp-mnist")["pending"] == ["test"]
    res = R.import_archives([tmp_path / "out" / "zoo-part01.tar"], echo=False)  # again: finalizes what waits
    assert res["identical"] == res["finalized"] == ["smoke-mlp-mnist"] and not res["errors"]
    done = Z.record("smoke-mlp-mnist")
    assert "pending" not in done and 0 <= done["metrics"]["test"]["acc"] <= 1
    assert done["metrics"]["train"]["acc"] == pytest.approx(rec["metrics"]["train"]["acc"], abs=0.02)  # fp16 weights


def test_gpu_throughput_benchmark_runs_on_the_cpu(capsys):
    import importlib.util
    spec = importlib.util.spec_from_file_location("gpu_throughput", REPO / "benchmarks" / "gpu_throughput.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    if not os.environ.get("LSMOOTH_DATA"):
        pytest.skip("needs the offline datasets (LSMOOTH_DATA)")
    assert bench.main(["--device", "cpu", "--steps", "1", "--warmup", "1", "--models", "alexnet", "--batch-size", "8",
                       "--dataset", "cifar10"]) == 0
    out = capsys.readouterr().out
    assert "torch " in out and "device: cpu" in out
    assert re.search(r"alexnet \(batch 8\): fast [\d,]+ img/s, device-fp32 [\d,]+ img/s, loader-w0 [\d,]+ img/s", out)
    assert re.search(r"fast path / device-fp32 = [\d.]+x, loader-w0 = [\d.]+x", out)
