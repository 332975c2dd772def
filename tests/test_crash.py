"""Crashes and damage: a run killed anywhere in its save sequence, or resumed from a damaged
checkpoint, ends as an uninterrupted run would."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap

import jax
import numpy as np
import pytest

from gru_lstm_jax.configs import xor
from gru_lstm_jax.training import loop, prepare_run, run_folder, train_and_evaluate

# Where the child process kills itself (SIGKILL) in epoch 2's save sequence: the metrics log,
# then checkpoints/best, then checkpoints/last.
KILL_POINTS = [
    "before_log", "after_log", "during_best", "after_best", "during_last", "after_last",
]  # fmt: skip

CHILD = textwrap.dedent(
    """
    import os, signal, sys
    import orbax.checkpoint as ocp
    from gru_lstm_jax.configs import xor
    from gru_lstm_jax.training import run_folder, train_and_evaluate

    point, workdir = sys.argv[1], sys.argv[2]
    write_metrics, save_state = run_folder.write_metrics, run_folder.save_state

    def die(here):
        if here == point:
            os.kill(os.getpid(), signal.SIGKILL)

    def metrics(path, records):
        if len(records) == 2:
            die("before_log")
        write_metrics(path, records)
        if len(records) == 2:
            die("after_log")

    def save(manager, epoch, state, values=None):
        which = os.path.basename(str(manager.directory))
        if epoch == 2 and point == f"during_{which}":
            manager.save(epoch, args=ocp.args.StandardSave(state), metrics=values)
            die(point)  # while the asynchronous save is still writing
        save_state(manager, epoch, state, values)
        if epoch == 2:
            die(f"after_{which}")

    run_folder.write_metrics, run_folder.save_state = metrics, save
    config = xor.get_config("smoke")
    config.training.num_epochs = 3
    train_and_evaluate(config, workdir)
    """
)


def _config():
    config = xor.get_config("smoke")
    config.training.num_epochs = 3
    assert config.training.test_checkpoint == "best"
    return config


def _log(workdir):
    return [
        {k: v for k, v in record.items() if k != "train_time_s"}
        for record in run_folder.read_metrics(workdir)
    ]


def _params(config, workdir, manager="last"):
    run = prepare_run(config)
    last, best = run_folder.checkpoint_managers(workdir, config.training.checkpoints_to_keep)
    chosen = {"last": last, "best": best}[manager]
    step = chosen.latest_step() if manager == "last" else chosen.best_step()
    return run_folder.restore_state(chosen, run.steps.init_state(), step).params


def _assert_same_run(config, a, b, results_a, results_b):
    log_a, log_b = _log(a), _log(b)
    assert [r["epoch"] for r in log_b] == [r["epoch"] for r in log_a] == [1, 2, 3]
    for record_a, record_b in zip(log_a, log_b, strict=True):
        assert record_b == pytest.approx(record_a, rel=1e-6)
    assert results_b["tested_epoch"] == results_a["tested_epoch"]
    for split, values in results_a["final"].items():
        assert results_b["final"][split] == pytest.approx(values, rel=1e-6)
    for manager in ("last", "best"):
        jax.tree.map(
            lambda x, y: np.testing.assert_allclose(x, y, rtol=1e-6, atol=1e-7),
            _params(config, a, manager),
            _params(config, b, manager),
        )


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("uninterrupted") / "run"
    return workdir, train_and_evaluate(_config(), workdir)


@pytest.mark.parametrize("point", KILL_POINTS)
def test_a_run_killed_anywhere_in_its_save_sequence_resumes_exactly(point, uninterrupted, tmp_path):
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    workdir = tmp_path / "run"
    child = subprocess.run(
        [sys.executable, str(script), point, str(workdir)], capture_output=True, timeout=300
    )
    assert child.returncode == -9, child.stderr.decode()[-2000:]
    assert not (workdir / "results.json").exists()
    resumed = train_and_evaluate(_config(), workdir)
    _assert_same_run(_config(), uninterrupted[0], workdir, uninterrupted[1], resumed)
    assert not [p for p in (workdir / "checkpoints").rglob("*") if "tmp" in p.name]


def _damage(step, how):
    if how == "truncated":
        for path in step.rglob("*"):
            if path.is_file() and path.parent.name == "d":
                path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    elif how == "no_manifest":
        for path in step.rglob("manifest.ocdbt"):
            path.unlink()
    else:  # emptied
        for path in list(step.iterdir()):
            shutil.rmtree(path) if path.is_dir() else path.unlink()


def _interrupted_before_epoch_3(config, workdir, monkeypatch):
    original = loop.train_epoch

    def stop(run, state, epoch, progress):
        if epoch == 2:
            raise KeyboardInterrupt
        return original(run, state, epoch, progress)

    monkeypatch.setattr(loop, "train_epoch", stop)
    with pytest.raises(KeyboardInterrupt):
        train_and_evaluate(config, workdir)
    monkeypatch.setattr(loop, "train_epoch", original)


# Reading a damaged checkpoint, tensorstore's asynchronous reader leaves a callback for an event
# loop that Orbax has closed; the error it ignores there is not ours.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
@pytest.mark.parametrize("how", ["truncated", "no_manifest", "emptied"])
def test_a_damaged_latest_checkpoint_falls_back_to_the_newest_intact_one(
    how, uninterrupted, tmp_path, monkeypatch, caplog
):
    config, workdir = _config(), tmp_path / "run"
    _interrupted_before_epoch_3(config, workdir, monkeypatch)
    last = workdir / "checkpoints" / "last"
    assert sorted(p.name for p in last.iterdir()) == ["1", "2"]
    _damage(last / "2", how)
    files = sorted(str(p.relative_to(last / "2")) for p in (last / "2").rglob("*"))
    resumed = train_and_evaluate(config, workdir)
    assert "checkpoints/last/2 is damaged" in caplog.text and "resuming from step 1" in caplog.text
    # Moved aside untouched, nothing deleted; the run ends as an uninterrupted one.
    aside = workdir / "checkpoints" / "damaged" / "last-2"
    assert sorted(str(p.relative_to(aside)) for p in aside.rglob("*")) == files
    _assert_same_run(config, uninterrupted[0], workdir, uninterrupted[1], resumed)


def test_no_intact_checkpoint_stops_with_one_line(tmp_path, monkeypatch):
    config, workdir = _config(), tmp_path / "run"
    _interrupted_before_epoch_3(config, workdir, monkeypatch)
    for step in ("1", "2"):
        _damage(workdir / "checkpoints" / "last" / step, "emptied")
    with pytest.raises(ValueError, match=r"no checkpoint in '.*checkpoints/last' reads back") as e:
        train_and_evaluate(config, workdir)
    assert "\n" not in str(e.value)
    assert json.loads((workdir / "config.json").read_text())["data"]["name"] == "xor"
    assert sorted(p.name for p in (workdir / "checkpoints" / "last").iterdir()) == ["1", "2"]
