"""Data-parallel training: 1 device against 4, resuming across device counts, 2 processes.

Each configuration trains in a subprocess (``tests/distributed_worker.py``) whose host device
count ``XLA_FLAGS`` sets before JAX starts. The config (XOR, a GRU with dropout and recurrent
dropout, 256 steps) is the same everywhere; only where it computes changes, so every run must
end with the same losses and parameters up to the order of the gradient sums.
"""

from __future__ import annotations

import json
import os
import pathlib
import socket
import subprocess
import sys
from typing import Any

import jax
import numpy as np
import pytest
from distributed_worker import distributed_config

from gru_lstm_jax.training import prepare_run, run_folder, train_and_evaluate
from gru_lstm_jax.training.parallel import DataParallel, data_parallel, initialize_distributed

WORKER = pathlib.Path(__file__).with_name("distributed_worker.py")
# The gradient of the mean loss is summed over the batch in another order on 4 devices; after
# 256 Adam steps the parameters still agree to well within this.
RTOL = 1e-5


def _environment(devices: int) -> dict[str, str]:
    flags = os.environ.get("XLA_FLAGS", "")
    return {
        **os.environ,
        "XLA_FLAGS": f"{flags} --xla_force_host_platform_device_count={devices}".strip(),
    }


def _start(runs: list[dict], devices: int) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, str(WORKER), json.dumps(runs)],
        env=_environment(devices), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip


def _finish(process: subprocess.Popen) -> None:
    output, _ = process.communicate(timeout=600)
    assert process.returncode == 0, output[-4000:]


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, pathlib.Path]:
    """Run folders: ``one`` and ``four`` devices, and interrupted runs resumed on the other."""
    root = tmp_path_factory.mktemp("data_parallel")
    folders = {name: root / name for name in ("one", "four", "four_then_one", "one_then_four")}
    _finish(
        _start(
            [
                {"workdir": str(folders["one"]), "mesh": 1},
                {"workdir": str(folders["four"]), "mesh": 4},
                {"workdir": str(folders["four_then_one"]), "mesh": 4, "stop_after": 3},
                {"workdir": str(folders["four_then_one"]), "mesh": 1},
                {"workdir": str(folders["one_then_four"]), "mesh": 1, "stop_after": 5},
                {"workdir": str(folders["one_then_four"]), "mesh": 4},
            ],
            devices=4,
        )
    )
    return folders


def _losses(folder: pathlib.Path) -> np.ndarray:
    records = run_folder.read_metrics(folder)
    return np.array([[r["train_loss"], r["val_loss"], r["grad_norm"]] for r in records])


def _last_state(folder: pathlib.Path) -> Any:
    """The train state (step, parameters, Adam's moments) of the run's last checkpoint."""
    run = prepare_run(distributed_config())
    last, _ = run_folder.checkpoint_managers(folder, 2)
    return jax.device_get(run_folder.restore_state(last, run.steps.init_state()))


def _assert_same_run(folder: pathlib.Path, reference: pathlib.Path) -> None:
    np.testing.assert_allclose(_losses(folder), _losses(reference), rtol=RTOL)
    for leaf, expected in zip(
        jax.tree.leaves(_last_state(folder)), jax.tree.leaves(_last_state(reference)), strict=True
    ):
        np.testing.assert_allclose(leaf, expected, rtol=RTOL, atol=RTOL * np.abs(expected).max())


def test_four_devices_train_as_one(runs):
    assert (
        len(_losses(runs["one"])) == 8
        and json.loads((runs["one"] / "results.json").read_text())["steps"] == 256
    )
    _assert_same_run(runs["four"], runs["one"])
    for name, devices in (("one", 1), ("four", 4)):
        placement = json.loads((runs[name] / "results.json").read_text())["placement"]
        assert placement == {
            "devices": devices, "mesh": {"data": devices}, "processes": 1, "platform": "cpu"
        }  # fmt: skip
    # Training moved every parameter: agreement is not that of two untouched models.
    start = jax.tree.leaves(prepare_run(distributed_config()).steps.init_state().params)
    trained = jax.tree.leaves(_last_state(runs["one"]).params)
    assert all(np.abs(a - b).max() > 1e-3 for a, b in zip(trained, start, strict=True))


@pytest.mark.parametrize("name", ["four_then_one", "one_then_four"])
def test_a_run_resumes_on_another_number_of_devices(runs, name):
    _assert_same_run(runs[name], runs["one"])
    assert json.loads((runs[name] / "results.json").read_text())["placement"]["devices"] == (
        1 if name == "four_then_one" else 4
    )


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_two_processes_train_as_one_process_on_four_devices(runs, tmp_path):
    """Two processes on 127.0.0.1 with 2 host devices each, collectives through gloo."""
    folder = tmp_path / "two_processes"
    address = f"127.0.0.1:{_free_port()}"
    processes = []
    for index in range(2):
        distributed = {"coordinator_address": address, "num_processes": 2, "process_id": index}
        run = {"workdir": str(folder), "mesh": 4, "distributed": distributed}
        processes.append(_start([run], devices=2))
    for process in processes:
        _finish(process)
    _assert_same_run(folder, runs["four"])
    results = json.loads((folder / "results.json").read_text())
    assert results["placement"] == {
        "devices": 4, "mesh": {"data": 4}, "processes": 2, "platform": "cpu"
    }  # fmt: skip
    expected = json.loads((runs["four"] / "results.json").read_text())["final"]
    for split, metrics in expected.items():
        for name, value in metrics.items():
            assert results["final"][split][name] == pytest.approx(value, rel=RTOL)
    # Process 1 wrote nothing of its own beside process 0's files.
    assert not list(folder.glob("*.tmp"))


def test_bad_meshes_and_batch_sizes_fail_before_any_file_is_written(tmp_path):
    with pytest.raises(ValueError, match=r"config.mesh.data \(2\) is more than the 1 devices"):
        data_parallel({"data": 2})
    with pytest.raises(ValueError, match=r"config\.mesh\.model is not an axis"):
        data_parallel({"model": 1})
    with pytest.raises(ValueError, match=r"config\.mesh\.data must be a positive int"):
        data_parallel({"data": 0})
    with pytest.raises(ValueError, match=r"config\.distributed\.port is not an argument"):
        initialize_distributed({"port": 1234})
    # One process and no distributed settings: nothing to start.
    assert not initialize_distributed({"coordinator_address": None})
    assert data_parallel(None).size == len(jax.devices())
    four = DataParallel(jax.sharding.AbstractMesh((4,), ("data",)))
    four.check_batch_size(32, "config.training.batch_size")
    with pytest.raises(ValueError, match=r"batch_size \(30\) must be divisible .* \(4, the"):
        four.check_batch_size(30, "config.training.batch_size")
    config = distributed_config()
    config.mesh.data = 2
    with pytest.raises(ValueError, match=r"config\.mesh\.data"):
        train_and_evaluate(config, tmp_path / "run")
    assert not (tmp_path / "run").exists()
