"""Train zoo entries side by side on one device within a time budget, and carry them home (appendix B).

``python -m lsmooth_lib zoo train NAME... --device cuda --jobs N --budget-s S --out DIR`` runs the entries
``N`` at a time, each in its own process (``python -m lsmooth_lib zoo train NAME``, so one failure leaves the
others running), in the order given:

* a distilled student waits until its teacher has finished, or is skipped (with the reason) if the teacher
  failed; a teacher that is not part of the call is taken from the zoo (``LSMOOTH_ZOO`` or ``zoo/``), its
  weights included, or the student is not started;
* an entry starts only if its estimate (:func:`estimate`: the config's ``est_gpu_s`` on CUDA, small defaults
  for the smoke entries) fits in the time left, counting the work of the entries it will share the device
  with; at the end of the budget whatever still runs is killed, and the runner exits before the budget with a
  summary (finished / killed / not started), exit code 0 if at least one entry finished and none failed;
* every entry trains into a staging zoo in a temporary folder (outside ``DIR``, removed at the end) and is
  packed, the moment it finishes, into an archive part ``DIR/zoo-partNN.tar`` (at most ``--part-mb`` MiB,
  15 by default; an entry is never split; each part is rewritten atomically), so a call that is cut off still
  returns what finished.  ``DIR`` holds only the parts, ``runner.log`` and ``summary.json``: the GPU machine
  returns at most 8 files of 16 MiB (:data:`MAX_FILES`).

``python -m lsmooth_lib zoo import ARCHIVE...`` checks every file of the parts against their manifest and the
records' sha256, refuses a damaged archive with a one-line error naming it, moves the entries into the zoo
(committed files into ``zoo/``, local weights into ``zoo/.local/``) and finalizes them
(:func:`lsmooth_lib.zoo.finalize`: the test metrics on the CPU, since the GPU machine has only the training split).

:func:`main` is the zoo's whole command line (``python -m lsmooth_lib zoo list | train | verify | import``); plain
``zoo train NAME...`` (without ``--jobs``, ``--budget-s``, ``--out``) trains in its own process with
:func:`lsmooth_lib.zoo.train`, one entry after another.
"""
from __future__ import annotations

import contextlib
import hashlib
import io
import json
import math
import os
import re
import shutil
import signal
import subprocess
import sys
import tarfile
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from . import __version__
from . import data as D
from . import zoo as Z
from .infer import pick_device

MAX_FILES = 8                  # what the GPU machine returns of DIR: 8 files of at most 16 MiB, flat
LOG_NAME, SUMMARY_NAME = "runner.log", "summary.json"
# parts + runner.log + summary.json + one temporary file while a part or the summary is being rewritten
MAX_PARTS = MAX_FILES - 3
PART_MB = 15.0                 # default size limit of a part (MiB), under the machine's 16 MiB per file
PART_PATTERN = "zoo-part{:02d}.tar"
MANIFEST = "manifest.json"
ARCHIVE_FORMAT = "lsmooth-zoo-archive/1"
ASSUMED_RESNET56_IMG_S = 12_000  # training images/s on one H100 behind the GPU presets' est_gpu_s (zoo.py)
SAFETY = 1.1                   # predicted durations are stretched by this before they are compared with the time left
KILL_GRACE_S = 2.0             # SIGTERM, then SIGKILL after this many seconds
# default estimates (seconds) where a config has none: a smoke entry trains in seconds on any device; other
# entries without est_gpu_s take 20-30 minutes on one CPU core (README) and are given 5 minutes on a GPU
DEFAULT_EST = {"cpu": {"smoke": 30.0, None: 1800.0}, "gpu": {"smoke": 20.0, None: 300.0}}
_SAFE_NAME = re.compile(r"^(\.local/)?[A-Za-z0-9][A-Za-z0-9._-]*$")


class ArchiveError(Z.ZooError):
    """A zoo archive is damaged or does not match its records; the message names the file."""


# ---------------------------------------------------------------- estimates
def estimate(name: str, device: str = "cuda", scale: float = 1.0, overrides: dict | None = None) -> tuple[float, str]:
    """``(seconds, where the number comes from)`` an entry is expected to train on ``device`` with the device to
    itself: ``overrides[name]``, else the config's ``est_gpu_s`` (CUDA), else :data:`DEFAULT_EST`; times ``scale``."""
    if overrides and name in overrides:
        return float(overrides[name]) * scale, "given"
    cfg = Z.get_config(name)
    gpu = str(device).split(":")[0] in ("cuda", "mps")
    if gpu and cfg.get("est_gpu_s"):
        return float(cfg["est_gpu_s"]) * scale, "est_gpu_s"
    table = DEFAULT_EST["gpu" if gpu else "cpu"]
    kind = "smoke" if cfg.get("preset") == "smoke" else None
    return table[kind] * scale, f"default for {'smoke' if kind else 'other'} entries on {'a GPU' if gpu else 'the CPU'}"


# ---------------------------------------------------------------- archive parts
_sha256_file = Z.sha256   # one hash function for every zoo file (records, manifests, imports)


def _tar_bytes(sizes) -> int:
    """An upper bound on the size of an uncompressed tar of members of these sizes (header, possible pax
    header, data padded to 512 bytes; two end blocks; the file padded to a 10240-byte record)."""
    total = sum(1536 + -(-s // 512) * 512 for s in sizes) + 1024
    return -(-total // 10240) * 10240


class Archiver:
    """Packs finished entries into ``out/zoo-partNN.tar`` (first fit; an entry is never split across parts) and
    rewrites a part atomically (temporary name, then ``os.replace``) each time an entry is added to it."""

    def __init__(self, out: Path, part_bytes: int, max_parts: int = MAX_PARTS):
        self.out, self.part_bytes, self.max_parts = Path(out), int(part_bytes), max_parts
        self.parts: list[dict] = []   # [{"file": name, "entries": {name: [(arcname, path, size, sha)]}}]

    @staticmethod
    def _manifest(part: dict) -> bytes:
        entries = {n: [a for a, *_ in files] for n, files in part["entries"].items()}
        listed = {a: dict(sha256=h, bytes=s) for files in part["entries"].values() for a, _, s, h in files}
        return (json.dumps(dict(format=ARCHIVE_FORMAT, part=part["file"], lsmooth_lib=__version__,
                                written_at=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                                entries=entries, files=listed), indent=1) + "\n").encode()

    def _size(self, part: dict, extra=()) -> int:
        sizes = [s for files in part["entries"].values() for _, _, s, _ in files] + [s for _, _, s, _ in extra]
        return _tar_bytes(sizes + [len(self._manifest(part)) + 200 * (len(extra) + 1)])

    def add(self, name: str, files: list[tuple[str, Path]]) -> tuple[str | None, str]:
        """Add an entry's files (``(name in the archive, path)``); returns ``(part file, note)``, or
        ``(None, why)`` when every part is full."""
        items = [(a, Path(p), Path(p).stat().st_size, _sha256_file(Path(p))) for a, p in files]
        note = ""
        target = next((p for p in self.parts if self._size(p, items) <= self.part_bytes), None)
        if target is None:
            if len(self.parts) >= self.max_parts:
                return None, (f"the {self.max_parts} archive parts are full (--part-mb "
                              f"{self.part_bytes / 2**20:g}); the machine returns only {MAX_FILES} files")
            target = dict(file=PART_PATTERN.format(len(self.parts) + 1), entries={})
            self.parts.append(target)
            if self._size(target, items) > self.part_bytes:
                note = (f"{name} alone is {self._size(target, items) / 2**20:.1f} MiB, more than --part-mb "
                        f"{self.part_bytes / 2**20:g}: its part may not come back from the machine")
        target["entries"][name] = items
        self._write(target)
        return target["file"], note

    def _write(self, part: dict) -> None:
        self.out.mkdir(parents=True, exist_ok=True)
        dest = self.out / part["file"]
        manifest = self._manifest(part)

        def write(fh):
            with tarfile.open(fileobj=fh, mode="w", format=tarfile.PAX_FORMAT) as tar:
                info = tarfile.TarInfo(MANIFEST)
                info.size, info.mtime, info.mode = len(manifest), int(time.time()), 0o644
                tar.addfile(info, io.BytesIO(manifest))
                for files in part["entries"].values():
                    for arcname, path, size, _ in files:
                        info = tarfile.TarInfo(arcname)
                        info.size, info.mtime, info.mode = size, int(path.stat().st_mtime), 0o644
                        with open(path, "rb") as src:
                            tar.addfile(info, src)
        D.atomic_write(dest, write)  # the GPU machine may be cut off at any moment: old part or new, never half

    def index(self) -> dict:
        return {p["file"]: list(p["entries"]) for p in self.parts}


# ---------------------------------------------------------------- the runner
@dataclass
class Job:
    name: str
    est: float
    est_source: str
    teacher: str | None
    dataset: str
    state: str = "pending"        # pending, running, finished, failed, killed, not started, skipped, already trained
    reason: str = ""
    part: str | None = None
    started: float | None = None  # seconds since the runner started
    ended: float | None = None
    done: float = 0.0             # device-seconds of work credited while running (the budget model)
    proc: subprocess.Popen | None = field(default=None, repr=False)
    log: Path | None = field(default=None, repr=False)

    def remaining(self) -> float:
        return max(self.est - self.done, 0.05 * self.est)

    def row(self) -> dict:
        wall = round(self.ended - self.started, 1) if self.started is not None and self.ended is not None else None
        return dict(name=self.name, state=self.state, reason=self.reason, est_s=round(self.est, 1),
                    est_source=self.est_source, started_s=_r(self.started), ended_s=_r(self.ended), wall_s=wall,
                    part=self.part)


def _r(x):
    return None if x is None else round(x, 1)


@contextlib.contextmanager
def _zoo_at(folder: Path):
    """``LSMOOTH_ZOO`` set to ``folder`` inside the block (the zoo functions read it on every call)."""
    old = os.environ.get(Z.ZOO_ENV)
    os.environ[Z.ZOO_ENV] = str(folder)
    try:
        yield
    finally:
        if old is None:
            os.environ.pop(Z.ZOO_ENV, None)
        else:
            os.environ[Z.ZOO_ENV] = old


def _tail(path: Path | None, lines: int = 15, width: int = 300) -> list[str]:
    if path is None or not path.exists():
        return []
    text = path.read_bytes()[-20000:].decode("utf-8", "replace").replace("\r", "\n")
    rows = [r.rstrip()[:width] for r in text.split("\n") if r.strip()]
    return rows[-lines:]


def _kill(proc: subprocess.Popen) -> None:
    """End a job this runner started: its process group (it runs in its own session), TERM then KILL."""
    if proc.poll() is not None:
        return
    for sig, wait in ((signal.SIGTERM, KILL_GRACE_S), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(proc.pid, sig)
        except (ProcessLookupError, PermissionError):
            pass
        try:
            proc.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue


def _default_command(name: str, device: str) -> list[str]:
    return [sys.executable, "-m", "lsmooth_lib", "zoo", "train", name, "--device", device]


class Runner:
    def __init__(self, names: list[str], *, device: str, jobs: int = 1, budget_s: float | None = None,
                 out: Path, part_mb: float = PART_MB, est_scale: float = 1.0, force: bool = False,
                 estimates: dict | None = None, command=None, poll_s: float = 0.5, echo: bool = True):
        if jobs < 1:
            raise ValueError(f"--jobs must be at least 1; got {jobs}")
        if budget_s is not None and budget_s <= 0:
            raise ValueError(f"--budget-s must be positive; got {budget_s}")
        if part_mb <= 0 or est_scale <= 0:
            raise ValueError(f"--part-mb and --est-scale must be positive; got {part_mb}, {est_scale}")
        self.out = Path(out)
        if self.out.exists() and (not self.out.is_dir() or any(self.out.iterdir())):
            raise ValueError(f"--out {self.out} must be a new or empty folder: the machine returns only its "
                             f"{MAX_FILES} files, and stale parts would be mixed with this call's")
        self.device, self.jobs, self.budget_s, self.force, self.echo = device, jobs, budget_s, force, echo
        self.poll_s, self.command = poll_s, command or _default_command
        self.gpu = str(device).split(":")[0] in ("cuda", "mps")
        self.capacity = 1 if self.gpu else jobs   # one GPU is time-sliced; CPU jobs each get their own core(s)
        self.grace = min(10.0, max(2.0, 0.03 * budget_s)) if budget_s else 0.0
        self.deadline = budget_s - self.grace if budget_s else math.inf
        self.source = Z.zoo_dir()
        names = list(dict.fromkeys(names))
        self.job_list = []
        for n in names:
            cfg = Z.get_config(n)   # unknown names fail here, before anything runs
            est, src = estimate(n, device, est_scale, estimates)
            self.job_list.append(Job(n, est, src, cfg.get("teacher"), cfg["dataset"]))
        self.jobs_by_name = {j.name: j for j in self.job_list}
        self.part_bytes = int(part_mb * 2**20)
        self.t0 = time.monotonic()

    # -------------------------------------------------------- bookkeeping
    def now(self) -> float:
        return time.monotonic() - self.t0

    def say(self, msg: str) -> None:
        line = f"[{self.now():7.1f} s] {msg}"
        if self.echo:
            print(line, flush=True)
        with open(self.out / LOG_NAME, "a") as fh:
            fh.write(line + "\n")

    def set_state(self, job: Job, state: str, reason: str = "") -> None:
        job.state, job.reason = state, reason
        if state not in ("running", "pending") and job.ended is None and job.started is not None:
            job.ended = self.now()
        self.say(f"{job.name}: {state}" + (f" ({reason})" if reason else ""))
        self.write_summary()

    def summary(self) -> dict:
        by = lambda s: [j.name for j in self.job_list if j.state == s]  # noqa: E731
        finished = by("finished")
        failed = by("failed") + by("not archived")
        return dict(device=self.device, jobs=self.jobs, budget_s=self.budget_s, deadline_s=_r(self.deadline)
                    if self.budget_s else None, elapsed_s=round(self.now(), 1), staging="temporary, removed",
                    exit_code=0 if finished and not failed else 1,
                    finished=finished, failed=failed, killed=by("killed"), not_started=by("not started"),
                    skipped=by("skipped"), already_trained=by("already trained"),
                    parts=self.archiver.index() if hasattr(self, "archiver") else {},
                    entries=[j.row() for j in self.job_list])

    def write_summary(self) -> None:
        D.atomic_write(self.out / SUMMARY_NAME, (json.dumps(self.summary(), indent=1) + "\n").encode())

    # -------------------------------------------------------- the loop
    def run(self) -> dict:
        self.out.mkdir(parents=True, exist_ok=True)
        self.archiver = Archiver(self.out, self.part_bytes)
        work = Path(tempfile.mkdtemp(prefix="lsmooth-runner-"))
        self.staging, self.logs = work / "zoo", work / "logs"
        self.staging.mkdir()
        self.logs.mkdir()
        self.say(f"{len(self.job_list)} entries on {self.device}, {self.jobs} at a time, budget "
                 f"{f'{self.budget_s:g} s (stops starting and kills at {self.deadline:.0f} s)' if self.budget_s else 'none'}; "
                 f"staging zoo {self.staging}; teachers and trained entries from {self.source}")
        try:
            self._prepare()
            self._loop()
        finally:
            for job in self.job_list:
                if job.state == "running":
                    _kill(job.proc)
                    self.set_state(job, "killed", "the runner stopped")
            for job in self.job_list:
                if job.state == "pending":
                    job.state, job.reason = "not started", job.reason or "the runner stopped before it could start"
            s = self.summary()
            self.say(f"summary: {len(s['finished'])} finished, {len(s['failed'])} failed, {len(s['killed'])} killed, "
                     f"{len(s['not_started'])} not started, {len(s['skipped'])} skipped, {len(s['already_trained'])} "
                     f"already trained; parts: {', '.join(s['parts']) or 'none'}; exit code {s['exit_code']}")
            for job in self.job_list:
                if job.state != "finished":
                    self.say(f"  {job.name}: {job.state}" + (f" -- {job.reason}" if job.reason else ""))
            self.write_summary()
            shutil.rmtree(work, ignore_errors=True)
        return self.summary()

    def _prepare(self) -> None:
        """Entries already trained are skipped; the training arrays are decoded once, here, not by every job."""
        for job in self.job_list:
            with _zoo_at(self.source):
                trained = Z.paths(job.name)[1].exists()
            if trained and not self.force:
                self.set_state(job, "already trained", f"its record is in {self.source}; --force retrains it")
        for ds in dict.fromkeys(j.dataset for j in self.job_list if j.state == "pending"):
            if D.dataset_info(ds).get("text"):
                continue
            t = time.perf_counter()
            try:
                D.load_arrays(ds, "train")
            except D.DataUnavailableError as err:
                for job in self.job_list:
                    if job.dataset == ds and job.state == "pending":
                        self.set_state(job, "failed", f"no training data: {err}")
                continue
            self.say(f"{ds}: training arrays ready ({time.perf_counter() - t:.1f} s)")

    def _teacher_ready(self, job: Job) -> bool | None:
        """True: the student can start; None: it must wait; False: it was given a final state here."""
        t = job.teacher
        if t is None:
            return True
        if t in self.jobs_by_name and self.jobs_by_name[t].state != "already trained":
            st = self.jobs_by_name[t].state
            if st in ("finished", "not archived"):  # trained into the staging zoo either way
                return True
            if st in ("pending", "running"):
                return None
            self.set_state(job, "skipped" if st != "not started" else "not started",
                           f"its teacher {t} {'was ' if st in ('killed', 'skipped', 'not started') else ''}{st}")
            return False
        if (self.staging / f"{t}.json").exists():
            return True
        with _zoo_at(self.source):  # a teacher trained before: copy it into the staging zoo, weights included
            try:
                files = Z.entry_files(t)
                Z.load(t, device="cpu")  # its weights are here and match the record
            except Z.ZooError as err:
                self.set_state(job, "not started", f"its teacher {t} is not part of this call and cannot be loaded "
                                                   f"from {self.source}: {err}")
                return False
        for f in files:
            dest = self.staging / f.relative_to(self.source)
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(f, dest)
        self.say(f"{job.name}: teacher {t} copied from {self.source} into the staging zoo")
        return True

    def _start(self, job: Job) -> None:
        env = dict(os.environ)
        env[Z.ZOO_ENV] = str(self.staging)
        env["PYTHONUNBUFFERED"] = "1"
        pkg_parent = str(Path(__file__).resolve().parent.parent)
        env["PYTHONPATH"] = os.pathsep.join([pkg_parent] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p])
        env.setdefault("OMP_NUM_THREADS", str(max(1, (os.cpu_count() or 1) // self.jobs)))
        job.log = self.logs / f"{job.name}.log"
        with open(job.log, "wb") as fh:
            job.proc = subprocess.Popen(self.command(job.name, self.device), stdout=fh, stderr=subprocess.STDOUT,
                                        stdin=subprocess.DEVNULL, env=env, start_new_session=True)
        job.started = self.now()
        self.set_state(job, "running", f"estimate {job.est:.0f} s ({job.est_source})")

    def _finish(self, job: Job, rc: int) -> None:
        wall = self.now() - job.started
        if rc != 0 or not (self.staging / f"{job.name}.json").exists():
            job.ended = self.now()
            self.set_state(job, "failed", f"exit code {rc} after {wall:.0f} s")
            for line in _tail(job.log):
                self.say(f"  | {line}")
            return
        with _zoo_at(self.staging):
            files = Z.entry_files(job.name)
        part, note = self.archiver.add(job.name, [(f.relative_to(self.staging).as_posix(), f) for f in files])
        job.ended = self.now()
        if part is None:
            self.set_state(job, "not archived", note)
            return
        job.part = part
        if note:
            self.say(f"warning: {note}")
        size = sum(f.stat().st_size for f in files) / 2**20
        self.set_state(job, "finished", f"{wall:.0f} s, estimate {job.est:.0f} s; {len(files)} files, "
                                        f"{size:.1f} MiB -> {part}")

    def _predicted_finish(self, job: Job, running: list[Job]) -> float:
        work = sum(j.remaining() for j in running) + job.est
        return self.now() + SAFETY * max(job.est, work / self.capacity)

    def _loop(self) -> None:
        last = self.now()
        while True:
            running = [j for j in self.job_list if j.state == "running"]
            now = self.now()
            rate = min(1.0, self.capacity / len(running)) if running else 0.0
            for j in running:  # the budget model: the device's work is shared among the running jobs
                j.done += (now - last) * rate
            last = now
            for j in running:
                rc = j.proc.poll()
                if rc is not None:
                    self._finish(j, rc)
            if now >= self.deadline:
                for j in self.job_list:
                    if j.state == "running":
                        _kill(j.proc)
                        self.set_state(j, "killed", f"still running at the end of the budget ({self.now() - j.started:.0f}"
                                                    f" s of an estimated {j.est:.0f} s)")
                    elif j.state == "pending":
                        self.set_state(j, "not started", "the budget ran out")
                return
            running = [j for j in self.job_list if j.state == "running"]
            for job in [j for j in self.job_list if j.state == "pending"]:
                if len(running) >= self.jobs:
                    break
                ready = self._teacher_ready(job)
                if ready is None or ready is False:
                    continue
                left = self.deadline - self.now()
                if self.now() + SAFETY * job.est > self.deadline:
                    self.set_state(job, "not started", f"needs ~{job.est:.0f} s ({job.est_source}; x{SAFETY:g} "
                                                       f"margin), {max(left, 0):.0f} s of the budget left")
                    continue
                if self._predicted_finish(job, running) > self.deadline:
                    break  # it fits once the running entries are done: wait for them, keep the order
                self._start(job)
                running.append(job)
            if not any(j.state in ("pending", "running") for j in self.job_list):
                return
            if not running:  # nothing runs and nothing could start: the rest wait for what will never come
                for j in self.job_list:
                    if j.state == "pending":
                        self.set_state(j, "not started", "nothing it waits for is left to run")
                return
            time.sleep(self.poll_s)


def run(names: list[str], **kwargs) -> dict:
    """Train ``names`` with a :class:`Runner` (see the module docstring); returns the summary dict."""
    return Runner(names, **kwargs).run()


# ---------------------------------------------------------------- import
def _read_archive(path: Path, into: Path) -> tuple[dict, dict]:
    """Extract one archive into ``into`` after checking every member against its manifest; returns
    ``(manifest, {name in the archive: extracted path})``.  Raises :class:`ArchiveError` naming the file."""
    def bad(why: str) -> ArchiveError:
        return ArchiveError(f"{path}: damaged or foreign zoo archive, nothing imported from it ({why})")

    if not path.is_file():
        raise ArchiveError(f"{path}: no such archive")
    files: dict = {}
    manifest = None
    try:
        with tarfile.open(path, "r:") as tar:
            for m in tar:
                if not m.isfile() or not (m.name == MANIFEST or _SAFE_NAME.match(m.name)) or m.name in files:
                    raise bad(f"unexpected member {m.name!r}")
                src = tar.extractfile(m)
                if m.name == MANIFEST:
                    manifest = json.loads(src.read(1 << 24).decode())
                    files[MANIFEST] = None
                    continue
                dest = into / m.name.replace("/", "__")
                h, n = hashlib.sha256(), 0
                with open(dest, "wb") as fh:
                    for chunk in iter(lambda: src.read(1 << 20), b""):
                        h.update(chunk)
                        n += len(chunk)
                        fh.write(chunk)
                files[m.name] = (dest, h.hexdigest(), n)
    except ArchiveError:
        raise
    except (tarfile.TarError, OSError, EOFError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise bad(f"{type(err).__name__}: {err}") from None
    if not isinstance(manifest, dict) or manifest.get("format") != ARCHIVE_FORMAT:
        raise bad(f"no {MANIFEST} of format {ARCHIVE_FORMAT}")
    files.pop(MANIFEST)
    listed = manifest.get("files", {})
    if set(listed) != set(files):
        raise bad(f"members {sorted(set(listed) ^ set(files))} are missing from the archive or the manifest")
    for name, (_, digest, n) in files.items():
        if listed[name].get("sha256") != digest or listed[name].get("bytes") != n:
            raise bad(f"{name} does not match the sha256/size its manifest lists (truncated or altered)")
    return manifest, {k: v[0] for k, v in files.items()}


def _check_entry(archive: Path, name: str, members: list[str], extracted: dict) -> dict:
    """The record of one archived entry, after checking that every file it lists is there with its sha256."""
    def bad(why):
        return ArchiveError(f"{archive}: entry {name}: {why}; nothing imported from this archive")

    if name not in Z.CONFIGS:
        raise bad("unknown to this checkout's lsmooth_lib.zoo.CONFIGS (update the checkout first)")
    if f"{name}.json" not in members:
        raise bad("its record is missing")
    try:
        rec = json.loads(extracted[f"{name}.json"].read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise bad(f"its record is not valid JSON ({err})") from None
    if rec.get("name") != name:
        raise bad(f"its record names {rec.get('name')!r}")
    for key, prefix in (("weights", ""), ("snapshot", ""), ("local_weights", ".local/")):
        if key in rec:
            arc = prefix + rec[key]["file"]
            if arc not in members:
                raise bad(f"the file {arc} its record lists is missing")
            if _sha256_file(extracted[arc]) != rec[key]["sha256"]:
                raise bad(f"{arc} does not match its record's sha256")
    return rec


def _same_training(target: Path, name: str, rec: dict) -> bool:
    """Whether the zoo's entry ``name`` (the zoo is ``target``) is the archived one: same weights (its record may have
    been finalized since)."""
    try:
        have = Z.record(name)  # target is Z.zoo_dir(): the one reader of records
    except (OSError, Z.ZooError):
        return False
    if have is None:
        return False
    digest = lambda r: {k: r[k]["sha256"] for k in ("weights", "local_weights") if k in r}  # noqa: E731
    if not digest(rec) or digest(have) != digest(rec):
        return False
    local = target / ".local" / rec["local_weights"]["file"] if "local_weights" in rec else None
    return local is None or (local.exists() and _sha256_file(local) == rec["local_weights"]["sha256"])


def import_archives(archives: list, force: bool = False, finalize: bool = True, echo: bool = True) -> dict:
    """Import archive parts into the zoo (``LSMOOTH_ZOO`` or ``zoo/``); returns ``{"imported": [...],
    "identical": [...], "errors": [...], "finalized": [...]}``.  A damaged archive is refused whole (its error
    names it) and the others are still imported."""
    say = print if echo else (lambda *a, **k: None)
    target = Z.zoo_dir()
    target.mkdir(parents=True, exist_ok=True)
    result = dict(imported=[], identical=[], errors=[], finalized=[])
    for archive in map(Path, archives):
        work = Path(tempfile.mkdtemp(dir=target, prefix=".import-"))
        try:
            manifest, extracted = _read_archive(archive, work)
            entries = manifest.get("entries", {})
            recs = {n: _check_entry(archive, n, members, extracted) for n, members in entries.items()}
            moves, same = [], []
            for n, members in entries.items():
                if (target / f"{n}.json").exists():
                    if _same_training(target, n, recs[n]):  # imported before (and maybe finalized since)
                        same.append(n)
                        continue
                    if not force:
                        raise ArchiveError(f"{archive}: {n} is already in {target} with other files; "
                                           f"`zoo import --force` replaces it (nothing imported from this archive)")
                # the record last: an entry whose record exists has all its files
                order = sorted(members, key=lambda m: m == f"{n}.json")
                moves.append((n, [(extracted[m], target / m) for m in order]))
            for n, pairs in moves:
                for src, dest in pairs:
                    dest.parent.mkdir(parents=True, exist_ok=True)
                    os.replace(src, dest)
                result["imported"].append(n)
                say(f"imported {n} from {archive.name}" + (" (test metrics pending)" if recs[n].get("pending") else ""))
            for n in same:
                result["identical"].append(n)
                say(f"{n}: already in the zoo, identical ({archive.name})")
        except ArchiveError as err:
            result["errors"].append(str(err))
            print(f"error: {err}", file=sys.stderr)
        finally:
            shutil.rmtree(work, ignore_errors=True)
    fin = getattr(Z, "finalize", None)
    if finalize and fin is not None:
        # this call's entries, and those imported before whose records still wait for data (--no-finalize earlier)
        imported = result["imported"] + [n for n in result["identical"] if (Z.record(n) or {}).get("pending")]
        # teachers first: a student's record needs its teacher (the equivalent smoothing)
        order = sorted(imported, key=lambda n: Z.get_config(n).get("teacher") in imported)
        for n in order:
            try:
                rec = fin(n)
            except (Z.ZooError, D.DataUnavailableError, ValueError, RuntimeError) as err:
                msg = f"{n}: imported, but finalize failed ({type(err).__name__}: {err}); run it again later"
                result["errors"].append(msg)
                print(f"error: {msg}", file=sys.stderr)
                continue
            result["finalized"].append(n)
            pend = rec.get("pending")
            say(f"finalized {n}" + (f" (still pending: {', '.join(pend)})" if pend else
                                    f": test acc {rec['metrics']['test']['acc']:.4f}" if "test" in rec.get("metrics", {})
                                    else ""))
    # (Without zoo.finalize -- an older checkout -- the records keep their "pending" list; nothing to call.)
    return result


# ---------------------------------------------------------------- command line: python -m lsmooth_lib zoo ...
def train_cli(names: list[str], args) -> int:
    """``zoo train NAME... --jobs N --budget-s S --out DIR [--part-mb M] [--est-scale F]``."""
    if not args.out:
        raise ValueError("--jobs/--budget-s run the entries through the runner, which needs --out DIR "
                         "(where the archive parts, runner.log and summary.json go)")
    device = args.device or str(pick_device())
    runner = Runner(names, device=device, jobs=args.jobs or 1, budget_s=args.budget_s, out=Path(args.out),
                    part_mb=args.part_mb, est_scale=args.est_scale, force=args.force)

    def stop(signum, frame):  # a SIGTERM (a timeout around the command) still kills the jobs and writes the summary
        raise KeyboardInterrupt

    old = signal.signal(signal.SIGTERM, stop)
    try:
        summary = runner.run()
    except KeyboardInterrupt:
        return 130
    finally:
        signal.signal(signal.SIGTERM, old)
    return summary["exit_code"]


def import_cli(args) -> int:
    """``zoo import ARCHIVE... [--force] [--no-finalize]``."""
    res = import_archives(args.archives, force=args.force, finalize=not args.no_finalize)
    print(f"{len(res['imported'])} imported, {len(res['identical'])} already there, {len(res['finalized'])} "
          f"finalized, {len(res['errors'])} error(s)")
    return 1 if res["errors"] else 0


def main(argv: list[str] | None = None) -> int:
    """The zoo's command line: ``python -m lsmooth_lib zoo list | train NAME... [--force] [--jobs N --budget-s S
    --out DIR] | verify | import ARCHIVE...`` (``train`` without the runner's options trains in this process, one
    entry after another, with :func:`lsmooth_lib.zoo.train`)."""
    import argparse
    p = argparse.ArgumentParser(prog="python -m lsmooth_lib zoo", description="The lsmooth checkpoint zoo.")
    sub = p.add_subparsers(dest="cmd", required=True)
    ls = sub.add_parser("list", help="list entries and whether they are trained")
    ls.add_argument("pattern", nargs="?")
    tr = sub.add_parser("train", help="train entries (skips trained ones unless --force)")
    tr.add_argument("names", nargs="+", help="entry names, or a pattern with --match")
    tr.add_argument("--force", action="store_true")
    tr.add_argument("--match", action="store_true", help="treat NAMES as substrings")
    tr.add_argument("--device")
    tr.add_argument("--shard", metavar="I/N", help="train only the I-th of N interleaved slices of the selected "
                    "entries (1 <= I <= N), e.g. one slice per job of a scheduler's array")
    # the runner (lsmooth_lib.runner): N entries at once, each in its own process, within a budget, archived to DIR
    tr.add_argument("--jobs", type=int, help="run N entries at once, each in its own process (the runner; needs --out)")
    tr.add_argument("--budget-s", type=float, help="start only entries whose estimate fits, kill what still runs "
                    "and exit before S seconds (the runner; needs --out)")
    tr.add_argument("--out", help="the runner's output folder: archive parts zoo-partNN.tar, runner.log, summary.json")
    tr.add_argument("--part-mb", type=float, default=15.0, help="size limit of one archive part in MiB (default 15)")
    tr.add_argument("--est-scale", type=float, default=1.0, help="multiply every time estimate by F (default 1)")
    vf = sub.add_parser("verify", help="recompute every weight hash")
    vf.add_argument("names", nargs="*")
    im = sub.add_parser("import", help="check archive parts written by `zoo train --out` and move their entries "
                        "into the zoo, then finalize them")
    im.add_argument("archives", nargs="+", metavar="ARCHIVE")
    im.add_argument("--force", action="store_true", help="replace entries that are already in the zoo")
    im.add_argument("--no-finalize", action="store_true", help="do not compute the pending metrics now")
    args = p.parse_args(argv)
    try:
        if args.cmd == "list":
            if not Z.names(args.pattern):
                raise Z.ZooError(f"no zoo entry matches {args.pattern!r}; `python -m lsmooth_lib zoo list` shows them all.")
            for n in Z.names(args.pattern):
                rec = Z.record(n)
                if rec is None:
                    print(f"{n:40s}  not trained")
                else:
                    m = rec.get("metrics", {})
                    acc = lambda s: f"{m[s]['acc']:.4f}" if s in m else "pending"  # noqa: E731
                    print(f"{n:40s}  test acc {acc('test')}  train acc {acc('train')}  "
                          f"{rec['wall_time_s']:7.0f} s  {rec['hardware']}")
        elif args.cmd == "train":
            if args.match:
                for pat in args.names:
                    if not Z.names(pat):
                        raise Z.ZooError(f"no zoo entry matches {pat!r}; `python -m lsmooth_lib zoo list` shows them all.")
            todo = [n for pat in args.names for n in Z.names(pat)] if args.match else args.names
            todo = list(dict.fromkeys(todo))
            for n in todo:
                Z.get_config(n)
            if args.shard:
                todo = Z.shard(todo, args.shard)
            if args.jobs is not None or args.budget_s is not None or args.out:
                return train_cli(todo, args)
            for n in todo:
                rec = Z.train(n, force=args.force, device=args.device)
                m = rec.get("metrics", {})
                split = "test" if "test" in m else "val"  # no test split on this machine: "pending" in the record
                print(f"{n}: {split} acc {m[split]['acc']:.4f} in {rec['wall_time_s']:.0f} s"
                      + (f" (pending: {', '.join(rec['pending'])})" if rec.get("pending") else ""))
        elif args.cmd == "verify":
            for n in args.names:  # a misspelt name must not pass as "0 problems"
                if n not in Z.CONFIGS and not Z.paths(n)[1].exists():
                    Z.get_config(n)  # raises ZooError with the close matches
            problems = Z.verify(args.names or None)
            for n, msg in problems:
                print(f"{n}: {msg}")
            checked = [n for n in Z.trained() if not args.names or n in args.names]
            print(f"{len(checked)} trained entries checked, {len(problems)} problem(s)")
            return 1 if problems else 0
        elif args.cmd == "import":
            return import_cli(args)
    except (Z.ZooError, D.DataUnavailableError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0
