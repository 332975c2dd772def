"""A user's own cells module reaches every script: configs' imports, load_trained, benchmark."""

from __future__ import annotations

import dataclasses
import json
import math
import os
import pathlib
import subprocess
import sys
import textwrap

import pytest

from gru_lstm_jax.bench import build_trainer
from gru_lstm_jax.bench.impls import LIBRARY_CELLS
from gru_lstm_jax.bench.options import make_options
from gru_lstm_jax.bench.report import make_report, render_markdown
from gru_lstm_jax.bench.runner import run_rounds, run_worker_process
from gru_lstm_jax.bench.workloads import WORKLOADS, Workload, forward_flops, gate_count
from gru_lstm_jax.configs import gradient_flow as gradient_flow_config
from gru_lstm_jax.configs import seq2seq as seq2seq_config
from gru_lstm_jax.configs import xor
from gru_lstm_jax.studies import gradient_flow_study
from gru_lstm_jax.studies.compare import run_study
from gru_lstm_jax.training import (
    check_cell_names,
    choose_cells,
    import_cell_modules,
    run_folder,
    train_and_evaluate,
)
from gru_lstm_jax.training.user_cells import module_names

ROOT = pathlib.Path(__file__).resolve().parents[1]
EXPERIMENTS = ROOT / "experiments"

MODULE = "gru_lstm_jax_test_user_cells"
TINY = Workload(batch=4, time=6, features=3, hidden=8)
# Registers two cells on import, as a user's module would: a gated RNN with a recurrent matrix
# (two gate blocks: z and the candidate n) and an IndRNN without one.
SOURCE = '''
"""Cells of one's own, registered on import (a fixture of tests/test_user_cells.py)."""

from typing import NamedTuple

import jax
import jax.numpy as jnp

from gru_lstm_jax import Cell, register_cell


class State(NamedTuple):
    h: jax.Array


def initial_carry(batch_shape, hidden_size):
    return State(jnp.zeros((*batch_shape, hidden_size)))


def gated_init(key, input_size, hidden_size):
    k_in, k_rec = jax.random.split(key)
    return {
        "kernel": jax.nn.initializers.glorot_uniform()(k_in, (input_size, 2 * hidden_size)),
        "recurrent_kernel": jax.nn.initializers.orthogonal()(k_rec, (hidden_size, 2 * hidden_size)),
        "bias": jnp.zeros((2 * hidden_size,)),
    }


def project(params, xs):
    return xs @ params["kernel"] + params["bias"]


def gated_update(params, carry, xp_t, hp_t):
    z, n = jnp.split(xp_t + hp_t, 2, axis=-1)
    z = jax.nn.sigmoid(z)
    h = (1 - z) * jnp.tanh(n) + z * carry.h
    return State(h), h


def indrnn_init(key, input_size, hidden_size):
    k_in, k_rec = jax.random.split(key)
    return {
        "kernel": jax.nn.initializers.glorot_uniform()(k_in, (input_size, hidden_size)),
        "u": jax.random.uniform(k_rec, (hidden_size,)),
        "bias": jnp.zeros((hidden_size,)),
    }


def indrnn_update(params, carry, xp_t, hp_t):
    h = jax.nn.relu(xp_t + params["u"] * carry.h)
    return State(h), h


GATED = Cell(
    "user_gated_rnn", gated_init, initial_carry, project, gated_update,
    recurrent_kernel=lambda params: params["recurrent_kernel"],
)
INDRNN = Cell("user_indrnn", indrnn_init, initial_carry, project, indrnn_update)
register_cell("user_gated_rnn", lambda: GATED)
register_cell("user_indrnn", lambda: INDRNN)
'''


@pytest.fixture(scope="module")
def user_module(tmp_path_factory):
    """The folder of the user's module, on ``sys.path`` here and on ``PYTHONPATH`` for children."""
    folder = tmp_path_factory.mktemp("user_cells")
    (folder / f"{MODULE}.py").write_text(SOURCE)
    (folder / "broken_user_cells.py").write_text("raise RuntimeError('a bug in the module')\n")
    sys.path.insert(0, str(folder))
    with pytest.MonkeyPatch.context() as patch:
        paths = [str(folder), os.environ.get("PYTHONPATH", "")]
        patch.setenv("PYTHONPATH", os.pathsep.join(p for p in paths if p))
        yield folder
    sys.path.remove(str(folder))


def _script(name, *args, cwd):
    command = [sys.executable, str(EXPERIMENTS / name), *args]
    return subprocess.run(command, capture_output=True, text=True, cwd=cwd, check=False)


def test_module_names_accept_tuples_lists_and_comma_separated_strings():
    assert module_names(()) == ()
    assert module_names("a, b.c") == ("a", "b.c")
    assert module_names(("a,b", "c", "a")) == ("a", "b", "c")
    assert module_names(["json"]) == ("json",)
    with pytest.raises(ValueError, match=r"config.imports must be module names .* got 3"):
        module_names(3)


def test_a_script_trains_a_user_cell_and_load_trained_rebuilds_it_in_a_fresh_process(
    user_module, tmp_path
):
    completed = _script(
        "sine.py", f"--config={ROOT / 'gru_lstm_jax' / 'configs' / 'sine.py'}:smoke",
        f"--workdir={tmp_path}", f"--config.imports={MODULE}",
        "--config.model.cell=user_gated_rnn", cwd=tmp_path,
    )  # fmt: skip
    assert completed.returncode == 0, completed.stderr[-3000:]
    run = tmp_path / "user_gated_rnn"  # the config's cell alone, not the default LSTM and GRU
    assert sorted(p.name for p in tmp_path.iterdir()) == ["user_gated_rnn"]
    assert run_folder.read_json(run / "config.json")["imports"] == [MODULE]
    results = run_folder.read_json(run / "results.json")
    assert results["cell"] == "user_gated_rnn"
    # A fresh process has never imported the module: load_trained imports it from config.json.
    code = textwrap.dedent(f"""
        import json, sys
        from gru_lstm_jax.training import evaluate, load_trained
        assert {MODULE!r} not in sys.modules
        run, params = load_trained({str(run)!r})
        print(json.dumps([run.config.model.cell, evaluate(run, params, run.splits["test"])]))
    """)
    loaded = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, check=False
    )
    assert loaded.returncode == 0, loaded.stderr[-3000:]
    cell, test = json.loads(loaded.stdout.strip().splitlines()[-1])
    assert cell == "user_gated_rnn"
    assert test["loss"] == pytest.approx(results["final"]["test"]["loss"], rel=1e-5)


def test_cells_flag_with_a_changed_config_cell_fails_before_anything_is_written(tmp_path):
    workdir = tmp_path / "runs"
    completed = _script(
        "sine.py", f"--config={ROOT / 'gru_lstm_jax' / 'configs' / 'sine.py'}:smoke",
        f"--workdir={workdir}", "--cells=gru", "--config.model.cell=rnn", cwd=tmp_path,
    )  # fmt: skip
    assert completed.returncode != 0
    assert "--cells and --config.model.cell both choose the cell" in completed.stderr
    assert "config.model.cell='rnn'" in completed.stderr
    assert not workdir.exists()


def test_choose_cells_takes_one_source_and_checks_the_registry(user_module):
    config = xor.get_config("smoke")
    assert choose_cells(config, None, ("lstm", "gru"), config_cell_set=False) == ("lstm", "gru")
    assert choose_cells(config, ["rnn"], ("lstm",), config_cell_set=False) == ("rnn",)
    config.model.cell = "user_nope"
    with pytest.raises(ValueError, match=r"config\.model\.cell must be registered cell names"):
        choose_cells(config, None, ("lstm",), config_cell_set=True)
    config.model.cell = "user_gated_rnn"
    config.imports = (MODULE,)
    assert choose_cells(config, None, ("lstm",), config_cell_set=True) == ("user_gated_rnn",)
    with pytest.raises(ValueError, match=r"--cells and --config\.model\.cell both choose"):
        choose_cells(config, ["lstm"], ("lstm",), config_cell_set=True)
    with pytest.raises(ValueError, match=r"--cells must be registered .* \(unknown: \['nope'\]\)"):
        choose_cells(config, ["lstm", "nope"], ("lstm",), config_cell_set=False)
    assert check_cell_names(["user_indrnn"], "--cells") == ("user_indrnn",)


def test_a_module_that_cannot_be_imported_fails_clearly_before_anything_is_written(
    user_module, tmp_path
):
    config = xor.get_config("smoke")
    config.imports = ("no_such_user_cells",)
    with pytest.raises(
        ValueError, match=r"config\.imports names module 'no_such_user_cells', which"
    ):
        train_and_evaluate(config, tmp_path / "run")
    config.imports = (f"{MODULE},broken_user_cells",)
    with pytest.raises(ValueError, match=r"'broken_user_cells' \(named in config.imports\) fail"):
        train_and_evaluate(config, tmp_path / "run")
    seq2seq = seq2seq_config.get_config("smoke")
    seq2seq.imports = ("no_such_user_cells",)
    with pytest.raises(ValueError, match="no_such_user_cells"):
        train_and_evaluate(seq2seq, tmp_path / "run")
    flow = gradient_flow_config.get_config("smoke")
    flow.cells = ("lstm", "user_nope")
    with pytest.raises(ValueError, match=r"config.cells must be registered .*'user_nope'"):
        gradient_flow_study(flow, tmp_path / "run")
    with pytest.raises(ValueError, match="imports names module 'no_such_user_cells'"):
        run_study(tmp_path / "run", cells=("lstm",), imports=("no_such_user_cells",))
    assert not (tmp_path / "run").exists()
    with pytest.raises(ValueError, match="--import names module 'no_such_user_cells'"):
        import_cell_modules(["no_such_user_cells"], "--import")


def _parse(**flags):
    return make_options(torch_available=False, **flags)


def test_benchmark_runs_user_cells_with_ours_and_leaves_out_the_libraries(user_module):
    options = _parse(
        imports=[MODULE],
        cells=["lstm", "user_gated_rnn", "user_indrnn"],
        workloads=["sine"],
        quick=True,
    )
    assert options.imports == (MODULE,)
    assert options.impls_for("lstm") == ("ours", "flax_linen", "flax_nnx")
    assert options.impls_for("user_indrnn") == ("ours",)
    assert "flax_nnx has no user_gated_rnn, user_indrnn: those rows are left out" in (
        " ".join(options.notes)
    )
    with pytest.raises(ValueError, match="user_indrnn, which none of the implementations"):
        _parse(imports=[MODULE], cells=["user_indrnn"], impls=["flax_nnx"])
    with pytest.raises(ValueError, match="--import names module 'no_such_user_cells'"):
        _parse(imports=["no_such_user_cells"])
    calls = []

    def run(spec):
        calls.append(spec)
        if spec["kind"] == "peak":
            return {"device": "cpu", "size": 8, "gflops": 1.0}
        return {"device": "cpu", "median_step_s": 0.01, "compile_s": 1.0}

    runs, peaks = run_rounds(options, run=run, log=lambda line: None)
    trained = [(spec["cell"], spec["impl"], spec.get("imports")) for spec in calls[1:]]
    assert trained == [
        ("lstm", "ours", [MODULE]), ("lstm", "flax_linen", [MODULE]),
        ("lstm", "flax_nnx", [MODULE]), ("user_gated_rnn", "ours", [MODULE]),
        ("user_indrnn", "ours", [MODULE]),
    ]  # fmt: skip
    text = render_markdown(make_report(options, runs, peaks))
    assert "| ours (gru_lstm_jax.RNN('user_gated_rnn')) | 100.0 |" in text
    assert "### sine (B 32, T 50, I 1, H 64), USER_INDRNN" in text
    assert "G = 4 (LSTM), 2 (USER_GATED_RNN) or 1 (USER_INDRNN); 3 x 2·B·T·I·G·H for" in text
    # The gate count comes from each cell's own projection, the built-in ones' included.
    shape = WORKLOADS["sine"]
    gates = {cell: gate_count(cell, shape) for cell in LIBRARY_CELLS}
    assert gates == {"lstm": 4, "gru": 3}
    assert gate_count("gru_reset_before", shape) == 3
    assert forward_flops("user_gated_rnn", shape) == 2 * 32 * 50 * 65 * 2 * 64
    assert forward_flops("user_indrnn", shape) == 2 * 32 * 50 * 1 * 1 * 64
    with pytest.raises(ValueError, match="implements only the cells"):
        build_trainer("flax_nnx", "user_gated_rnn", TINY)


def test_benchmark_worker_imports_the_module_and_trains_ours(user_module, monkeypatch):
    monkeypatch.setenv("XLA_PYTHON_CLIENT_PREALLOCATE", "false")
    spec = {
        "kind": "train", "impl": "ours", "cell": "user_gated_rnn",
        "workload": dataclasses.asdict(TINY), "warmup": 1, "repeats": 2, "imports": [MODULE],
    }  # fmt: skip
    result = run_worker_process(spec)  # a fresh process: the module is imported there
    assert len(result["step_times_s"]) == 2
    assert math.isfinite(result["first_loss"]) and math.isfinite(result["last_loss"])
    trainer = build_trainer("ours", "user_indrnn", TINY, seed=1, learning_rate=1e-2)
    trainer.step()
    first = trainer.loss()
    for _ in range(9):
        trainer.step()
    assert trainer.loss() < 0.9 * first
