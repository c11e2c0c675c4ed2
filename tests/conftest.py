"""Shared set-up for the unit tests of lsmooth_lib (and the book tests beside them).

* ``LSMOOTH_DATA``: kept if set; otherwise ``../shared/data`` beside the repository, if it exists.
* ``LSMOOTH_OFFLINE=1``: no test may touch the network.
* ``LSMOOTH_CACHE``: kept if set; otherwise ``<repo>/.cache`` (decoded arrays, built once).
* two torch threads, matplotlib's non-interactive backend.

Zoo tests never see the committed ``zoo/``: ``tmp_zoo`` points ``LSMOOTH_ZOO`` at an empty temporary
folder, ``smoke_zoo`` at a fresh copy of a temporary zoo holding the three trained smoke entries.  The
zoo-claims tests read the committed zoo instead: ``committed_zoo`` points ``LSMOOTH_ZOO`` at it,
``trained_record(name)`` skips a claim whose entry is not trained yet, and ``entry(**fields)`` names the one entry
with given registry fields.
"""
from __future__ import annotations

import os
import shutil
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

if not os.environ.get("LSMOOTH_DATA") and (REPO.parent / "shared" / "data").is_dir():
    os.environ["LSMOOTH_DATA"] = str(REPO.parent / "shared" / "data")
os.environ["LSMOOTH_OFFLINE"] = "1"
os.environ["LSMOOTH_CACHE"] = os.environ.get("LSMOOTH_CACHE") or str(REPO / ".cache")
os.environ.setdefault("MPLBACKEND", "Agg")

import pytest  # noqa: E402
import torch  # noqa: E402

torch.set_num_threads(2)

SMOKE = ("smoke-mlp-mnist", "smoke-alexnet-cifar10", "smoke-resnet20-cifar100")


COMMITTED_ZOO = REPO / "zoo"


@pytest.fixture
def committed_zoo(monkeypatch) -> Path:
    """``LSMOOTH_ZOO`` set to the committed ``zoo/`` (the zoo-claims tests; they never write to it)."""
    monkeypatch.setenv("LSMOOTH_ZOO", str(COMMITTED_ZOO))
    return COMMITTED_ZOO


def trained_record(name: str) -> dict:
    """The record of a zoo entry; skips the calling test (not fails it) if the entry is not trained yet."""
    from lsmooth_lib import zoo
    rec = zoo.record(name)
    if rec is None:
        pytest.skip(f"{name} is not trained yet")
    return rec


def entry(**fields) -> str:
    """The one configured zoo entry with these registry fields (``lsmooth_lib.zoo.select``), e.g.
    ``entry(family="alexnet-cifar10", alpha=0.1, seed=0, preset="cpu")``: tests find entries by their fields, never by
    spelling or parsing their names."""
    from lsmooth_lib import zoo
    found = zoo.select(**fields)
    assert len(found) == 1, f"{len(found)} zoo entries have the fields {fields}: {found}"
    return found[0]


def have_data() -> bool:
    root = os.environ.get("LSMOOTH_DATA")
    return bool(root) and Path(root).is_dir()


def pytest_configure(config):
    config.addinivalue_line("markers", "data: needs the offline datasets (LSMOOTH_DATA); skipped without them")


def pytest_collection_modifyitems(config, items):
    if have_data():
        return
    skip = pytest.mark.skip(reason="needs the offline datasets: set LSMOOTH_DATA (e.g. to shared/data, see its README)")
    for item in items:
        if item.get_closest_marker("data") is not None:
            item.add_marker(skip)


@pytest.fixture
def tmp_zoo(tmp_path, monkeypatch) -> Path:
    """An empty zoo folder in ``tmp_path``, set as ``LSMOOTH_ZOO`` for this test only."""
    folder = tmp_path / "zoo"
    folder.mkdir()
    monkeypatch.setenv("LSMOOTH_ZOO", str(folder))
    return folder


@pytest.fixture(scope="session")
def _smoke_zoo_master(tmp_path_factory):
    """Train the three smoke entries once per session into a temporary zoo; ``(folder, records)``."""
    if not have_data():
        pytest.skip("needs the offline datasets (LSMOOTH_DATA)")
    from lsmooth_lib import zoo
    folder = tmp_path_factory.mktemp("smoke_zoo")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("LSMOOTH_ZOO", str(folder))
        records = {name: zoo.train(name, progress=False, device="cpu") for name in SMOKE}
    return folder, records


@pytest.fixture
def smoke_zoo(_smoke_zoo_master, tmp_path, monkeypatch) -> Path:
    """A private copy of the trained smoke zoo, set as ``LSMOOTH_ZOO``: tests may damage it freely."""
    master, _ = _smoke_zoo_master
    folder = tmp_path / "zoo"
    shutil.copytree(master, folder)
    monkeypatch.setenv("LSMOOTH_ZOO", str(folder))
    return folder


@pytest.fixture
def smoke_records(_smoke_zoo_master) -> dict:
    """The records ``zoo.train`` returned for the smoke entries."""
    return _smoke_zoo_master[1]
