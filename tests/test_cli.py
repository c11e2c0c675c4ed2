"""The command line and the zoo's writes (issue 20): conventions a careful user expects, and no crash or silent
success when the zoo is damaged, read-only or shared by two processes."""
import subprocess
import sys

import pytest

from conftest import REPO
from lsmooth_lib import __main__ as cli, zoo as Z


def _run(*args, env=None, shell=False):
    cmd = " ".join(args) if shell else [sys.executable, "-m", "lsmooth_lib", *args]
    return subprocess.run(cmd, capture_output=True, text=True, cwd=REPO, env=env, shell=shell)


def test_help_prints_usage_and_exits_zero(capsys):
    assert cli.main(["--help"]) == 0
    out = capsys.readouterr().out
    assert "zoo" in out and "claims" in out and "diagnose" in out
    done = _run("zoo", "train", "--help")
    assert done.returncode == 0 and "--budget-s" in done.stdout and not done.stderr


def test_errors_are_one_line_without_traceback_unless_debug(tmp_zoo, capsys):
    assert cli.main(["zoo", "list", "no-such-pattern"]) != 0
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no zoo entry matches 'no-such-pattern'" in err and "Traceback" not in err
    assert cli.main(["zoo", "train", "no-such-pattern", "--match"]) != 0
    assert "no zoo entry matches" in capsys.readouterr().err
    assert cli.main(["bogus"]) == 2 and "unknown command 'bogus'" in capsys.readouterr().err
    done = _run("zoo", "verify", "--debug", "cpu-alexnet-cifar10-a0-s0", env=None)
    assert done.returncode == 0   # --debug is accepted anywhere and changes nothing when all is well


def test_an_unexpected_error_is_one_line_and_debug_shows_the_traceback(monkeypatch, capsys):
    def boom(argv):
        raise RuntimeError("something broke")
    monkeypatch.setattr(cli, "_dispatch", boom)
    assert cli.main(["zoo", "list"]) == 1
    err = capsys.readouterr().err
    assert err == "error: RuntimeError: something broke (run with --debug for the traceback)\n"
    with pytest.raises(RuntimeError):
        cli.main(["zoo", "list", "--debug"])


def test_a_closed_pipe_ends_quietly():
    done = _run(sys.executable, "-m", "lsmooth_lib", "zoo", "list", "|", "head", "-1", shell=True)
    assert done.returncode == 0 and done.stdout.count("\n") == 1
    assert "Traceback" not in done.stderr and "BrokenPipe" not in done.stderr


def test_a_read_only_zoo_is_reported_before_training(tmp_path, monkeypatch):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("LSMOOTH_ZOO", str(blocker / "zoo"))     # cannot be created: its parent is a file
    monkeypatch.setattr(Z, "fit", lambda *a, **k: pytest.fail("training started before the check"))
    with pytest.raises(Z.ZooError, match=r"is not writable.*nothing was trained.*LSMOOTH_ZOO"):
        Z.train("smoke-mlp-mnist", progress=False, device="cpu")


@pytest.mark.data
def test_two_processes_training_one_entry_neither_crashes(tmp_zoo):
    """Two `zoo train --force` of one entry at once: the second waits for the first's lock, then trains again;
    no shared temporary name, no crash, and the zoo verifies."""
    cmd = [sys.executable, "-m", "lsmooth_lib", "zoo", "train", "smoke-mlp-mnist", "--force", "--device", "cpu"]
    procs = [subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(2)]
    outs = [p.communicate(timeout=600) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [o[1][-500:] for o in outs]
    assert Z.verify() == [] and not list(tmp_zoo.rglob("*.tmp"))


@pytest.mark.data
def test_a_damaged_tokenizer_fails_verify(tmp_zoo, capsys):
    Z.train("smoke-transformer-multi30k", progress=False, device="cpu")
    rec = Z.record("smoke-transformer-multi30k")
    tok = tmp_zoo / "tokenizers" / rec["tokenizer"]["file"]
    tok.write_bytes(tok.read_bytes()[:-10])
    problems = dict(Z.verify())
    assert "tokenizer" in problems["smoke-transformer-multi30k"]
    assert cli.main(["zoo", "verify"]) == 1
    assert "tokenizer file" in capsys.readouterr().out
