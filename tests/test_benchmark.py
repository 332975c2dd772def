"""Tests of the benchmark package, gru_lstm_jax.bench, and its script (no timing is checked)."""

from __future__ import annotations

import dataclasses
import json
import math
import mmap
import os
import statistics
import subprocess
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gru_lstm_jax.bench import build_trainer, get_impl, implements, register_impl, registry
from gru_lstm_jax.bench.options import Options, make_options
from gru_lstm_jax.bench.report import make_report, render_markdown, write_outputs
from gru_lstm_jax.bench.runner import run_rounds, run_worker_process
from gru_lstm_jax.bench.stats import summarize
from gru_lstm_jax.bench.timing import (
    measure_peak,
    resource,
    round_order,
    time_steps,
    time_training_together,
)
from gru_lstm_jax.bench.workloads import (
    WORKLOADS,
    Workload,
    forward_flops,
    gate_count,
    make_data,
    train_step_flops,
)
from gru_lstm_jax.recurrence import cudnn_available

ROOT = Path(__file__).resolve().parents[1]
TINY = Workload(batch=4, time=6, features=3, hidden=8)


def _reference_lstm_step(params, h, c, x_t):
    z = x_t @ params["wx"] + h @ params["wh"] + params["b"]
    i, f, g, o = jnp.split(z, 4, axis=-1)
    c = jax.nn.sigmoid(f) * c + jax.nn.sigmoid(i) * jnp.tanh(g)
    return jax.nn.sigmoid(o) * jnp.tanh(c), c


def _reference_gru_step(params, h, c, x_t):
    xr, xz, xn = jnp.split(x_t @ params["wx"] + params["b"], 3, axis=-1)
    hr, hz, hn = jnp.split(h @ params["wh"] + params["bh"], 3, axis=-1)
    r, z = jax.nn.sigmoid(xr + hr), jax.nn.sigmoid(xz + hz)
    n = jnp.tanh(xn + r * hn)
    return (1 - z) * n + z * h, c


def _xla_flops(fn, *args):
    cost = jax.jit(fn).lower(*args).compile().cost_analysis()
    if isinstance(cost, list):  # older JAX returned one dict per computation
        cost = cost[0]
    if not cost or "flops" not in cost:
        pytest.skip("this backend's compiled cost analysis reports no FLOP count")
    return cost["flops"]


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_flop_formula_matches_xla_count_of_an_unrolled_reference(cell):
    shape = Workload(batch=4, time=2, features=112, hidden=144)
    gates, hidden = gate_count(cell, shape), shape.hidden
    assert gates == {"lstm": 4, "gru": 3}[cell]  # derived from the cell's input projection
    assert forward_flops(cell, shape) == 2 * 4 * 2 * (112 + 144) * gates * 144
    step = {"lstm": _reference_lstm_step, "gru": _reference_gru_step}[cell]
    keys = jax.random.split(jax.random.key(0), 3)
    params = {
        "wx": jax.random.normal(keys[0], (shape.features, gates * hidden)),
        "wh": jax.random.normal(keys[1], (hidden, gates * hidden)),
        "b": jnp.zeros(gates * hidden),
        "bh": jnp.zeros(gates * hidden),
    }
    xs = jax.random.normal(keys[2], (shape.batch, shape.time, shape.features))

    h0 = jnp.zeros((shape.batch, hidden))

    def loss(params, xs, h0):
        # A Python loop, not a scan: XLA's cost analysis counts a while loop's body only once.
        h, c = h0, jnp.zeros_like(h0)
        for t in range(shape.time):
            h, c = step(params, h, c, xs[:, t])
        return jnp.sum(h**2)

    forward = _xla_flops(loss, params, xs, h0)
    # XLA also counts the element-wise gate arithmetic, a few percent at this size.
    assert 1.0 <= forward / forward_flops(cell, shape) < 1.06
    # The 3x convention is the exact matmul count when the gradients of the inputs and of the
    # initial state are taken as well (the benchmark's models need neither; see the docstring).
    training = _xla_flops(jax.value_and_grad(loss, argnums=(0, 1, 2)), params, xs, h0)
    assert 1.0 <= training / train_step_flops(cell, shape) < 1.06


@pytest.mark.parametrize("cell", ["lstm", "gru"])
@pytest.mark.parametrize(
    "impl", ["ours", "ours_scan", "ours_bf16", "flax_linen", "flax_nnx", "torch", "torch_no_onednn"]
)
def test_each_implementation_trains_on_a_fixed_batch(impl, cell):
    if get_impl(impl).needs_torch:
        pytest.importorskip("torch")
    trainer = build_trainer(impl, cell, TINY, seed=1, learning_rate=1e-2)
    if get_impl(impl).ours:
        before = jax.tree.map(np.array, trainer.state.params)
    trainer.step()
    first = trainer.loss()
    if get_impl(impl).ours:
        after = jax.tree.map(np.array, trainer.state.params)
        unchanged = [
            jax.tree_util.keystr(path)
            for (path, old), new in zip(
                jax.tree_util.tree_leaves_with_path(before), jax.tree.leaves(after), strict=True
            )
            if np.array_equal(old, new)
        ]
        assert not unchanged, f"one step left these parameters unchanged: {unchanged}"
    for _ in range(9):
        trainer.step()
    assert math.isfinite(first)
    assert trainer.loss() < 0.9 * first, (first, trainer.loss())
    if not get_impl(impl).needs_torch:
        assert trainer.train_step._cache_size() == 1, "the train step was traced more than once"


def test_our_implementations_and_the_cells_they_run():
    assert implements("ours_scan", "gru_reset_before")
    assert implements("ours_cudnn", "lstm")
    assert not implements("ours_cudnn", "gru")
    assert implements("ours_associative", "min_lstm")
    assert not implements("ours_associative", "gru")
    trainer = build_trainer("ours_associative", "min_gru", TINY, learning_rate=0.01)
    trainer.step()
    first = trainer.loss()
    for _ in range(9):
        trainer.step()
    assert trainer.loss() < 0.9 * first
    if not cudnn_available():
        with pytest.raises(ValueError, match="impl 'ours_cudnn' needs a GPU with cuDNN"):
            build_trainer("ours_cudnn", "lstm", TINY)


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_torch_trainers_record_their_recurrent_kernel_and_agree_without_onednn(cell):
    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():
        pytest.skip("checks the CPU kernels")
    default = build_trainer("torch", cell, TINY, seed=2)
    no_onednn = build_trainer("torch_no_onednn", cell, TINY, seed=2)
    fused = cell == "lstm" and torch.backends.mkldnn.is_available()
    expected = "oneDNN, whole sequence (aten::mkldnn_rnn_layer)" if fused else "ATen, step by step"
    assert default.recurrent_kernel() == expected and default.settings()["onednn"] is True
    assert no_onednn.recurrent_kernel() == "ATen, step by step"
    assert no_onednn.settings()["onednn"] is False
    assert torch.backends.mkldnn.enabled, "a step without oneDNN left it turned off"
    # recurrent_kernel() took one step each; both models are the same function from one seed.
    for _ in range(3):
        default.step()
        no_onednn.step()
        assert default.loss() == pytest.approx(no_onednn.loss(), rel=1e-5)
    for mine, theirs in zip(default.model.parameters(), no_onednn.model.parameters(), strict=True):
        np.testing.assert_allclose(mine.detach().numpy(), theirs.detach().numpy(), atol=1e-5)


def test_make_data_is_fixed_and_shaped():
    inputs, targets = make_data(TINY, seed=3)
    again, _ = make_data(TINY, seed=3)
    assert inputs.shape == (4, 6, 3) and targets.shape == (4, 1)
    assert inputs.dtype == targets.dtype == np.float32
    np.testing.assert_array_equal(inputs, again)


def test_worker_process_reports_positive_finite_timings(monkeypatch):
    # On a GPU, this process's JAX already holds most of the memory; let the worker share.
    monkeypatch.setenv("XLA_PYTHON_CLIENT_PREALLOCATE", "false")
    spec = {
        "kind": "train",
        "impl": "flax_nnx",  # the lightest import; the protocol is the same for every one
        "cell": "gru",
        "workload": dataclasses.asdict(TINY),
        "warmup": 1,
        "repeats": 3,
    }
    result = run_worker_process(spec)
    assert isinstance(result["device"], str) and result["device"]
    assert "jax_default_matmul_precision" in result["settings"]
    assert result["recurrent_kernel"] is None
    assert len(result["step_times_s"]) == 3
    for value in (*result["step_times_s"], result["build_s"], result["compile_s"]):
        assert math.isfinite(value) and value > 0
    assert result["median_step_s"] == statistics.median(result["step_times_s"])
    assert result["page_faults_per_step"] >= 0  # counted by the worker through getrusage
    assert math.isfinite(result["first_loss"]) and math.isfinite(result["last_loss"])


@pytest.mark.skipif(resource is None, reason="needs the resource module (getrusage)")
def test_page_faults_per_step_count_the_pages_each_step_touches():
    pages = 256

    class FreshPagesTrainer:
        """Each step maps fresh anonymous memory and writes one byte per page."""

        def step(self):
            size = pages * mmap.PAGESIZE
            with mmap.mmap(-1, size) as memory:
                for offset in range(0, size, mmap.PAGESIZE):
                    memory[offset] = 1

        def loss(self):
            return 0.0

    result = time_steps(FreshPagesTrainer(), repeats=4)
    # Each written page is one minor fault; Python's own allocations add a handful.
    assert pages <= result["page_faults_per_step"] < pages + 64
    assert len(result["step_times_s"]) == 4 and result["last_loss"] == 0.0


def test_peak_measurement_reports_a_positive_rate():
    peak = measure_peak(64, repeats=3)
    assert peak["size"] == 64 and len(peak["times_s"]) == 3
    assert peak["median_s"] == statistics.median(peak["times_s"])
    assert math.isclose(peak["gflops"], 2 * 64**3 / peak["median_s"] / 1e9)


def _options(**overrides):
    fields = dict(
        workloads=("sine",), cells=("lstm",), impls=("ours", "flax_linen", "flax_nnx"),
        rounds=3, repeats=5, warmup=1,
    )  # fmt: skip
    return Options(**{**fields, **overrides})


def _recording_runner(calls):
    """A stand-in for the worker processes: records each spec and answers with fixed timings."""
    step = {"device": "cpu", "median_step_s": 0.01, "compile_s": 1.0}

    def run(spec):
        calls.append(spec)
        if spec["kind"] == "peak":
            return {"device": "cpu", "size": 8, "gflops": 1.0}
        if spec["kind"] == "together":
            rounds = range(spec["rounds"])
            return {
                "results": [
                    {"round": r, "impl": impl, **step}
                    for r in rounds
                    for impl in round_order(spec["impls"], r)
                ]
            }
        return step

    return run


def test_rounds_interleave_implementations_in_rotated_order():
    calls = []
    runs, peaks = run_rounds(
        _options(cells=("lstm", "gru")), run=_recording_runner(calls), log=lambda line: None
    )
    order = [(spec["kind"], spec.get("cell"), spec.get("impl")) for spec in calls]
    first_round = [
        ("peak", None, None),
        ("train", "lstm", "ours"), ("train", "lstm", "flax_linen"), ("train", "lstm", "flax_nnx"),
        ("train", "gru", "ours"), ("train", "gru", "flax_linen"), ("train", "gru", "flax_nnx"),
    ]  # fmt: skip
    assert order[:7] == first_round
    second_round_lstm = [impl for _, cell, impl in order[7:14] if cell == "lstm"]
    assert second_round_lstm == ["flax_linen", "flax_nnx", "ours"]
    assert len(runs) == 18 and len(peaks) == 3
    assert {run["round"] for run in runs} == {0, 1, 2}
    sine = dataclasses.asdict(WORKLOADS["sine"])
    assert all(spec["workload"] == sine for spec in calls if spec["kind"] == "train")


def test_shared_process_runs_one_worker_per_workload_and_cell():
    calls = []
    options = _options(workloads=("sine", "wide"), cells=("gru",), shared_process=True)
    runs, peaks = run_rounds(options, run=_recording_runner(calls), log=lambda line: None)
    assert [spec["kind"] for spec in calls] == ["peak"] * 3 + ["together"] * 2
    assert [spec["workload"] for spec in calls[3:]] == [
        dataclasses.asdict(WORKLOADS[name]) for name in ("sine", "wide")
    ]
    assert all(spec["impls"] == list(options.impls) and spec["rounds"] == 3 for spec in calls[3:])
    assert len(peaks) == 3 and [peak["round"] for peak in peaks] == [0, 1, 2]
    assert len(runs) == 2 * 3 * 3
    assert {(run["workload"], run["cell"]) for run in runs} == {("sine", "gru"), ("wide", "gru")}
    summary = summarize(runs, [{"gflops": 1.0}])
    assert [row["rounds"] for row in summary["rows"]] == [3] * 6


def test_implementations_timed_together_alternate_in_rotated_blocks():
    results = time_training_together(
        ["ours", "flax_nnx"], "gru", TINY, rounds=3, warmup=1, repeats=2, pause_s=0.0
    )
    order = [(result["round"], result["impl"]) for result in results]
    assert order == [
        (0, "ours"), (0, "flax_nnx"), (1, "flax_nnx"), (1, "ours"), (2, "ours"), (2, "flax_nnx")
    ]  # fmt: skip
    for impl in ("ours", "flax_nnx"):
        blocks = [result for result in results if result["impl"] == impl]
        # Built and compiled once: every block reports the same first step.
        assert len({block["compile_s"] for block in blocks}) == 1
        for block in blocks:
            assert len(block["step_times_s"]) == 2
            assert block["median_step_s"] == statistics.median(block["step_times_s"])
            assert all(math.isfinite(t) and t > 0 for t in block["step_times_s"])
            assert block["page_faults_per_step"] >= 0
        # Training goes on across blocks: the loss keeps falling from the first step's.
        assert blocks[-1]["last_loss"] < blocks[0]["first_loss"]


def _synthetic_runs():
    shape = dataclasses.asdict(WORKLOADS["sine"])
    step_times = {  # medians: ours 4 ms, linen 5 ms, nnx 8 ms
        "ours": [0.004, 0.0035, 0.009],
        "flax_linen": [0.006, 0.005, 0.0049],
        "flax_nnx": [0.008, 0.0081, 0.002],
    }
    compile_times = {"ours": [2.0, 1.0, 3.0], "flax_linen": [1.5] * 3, "flax_nnx": [0.5, 9, 1]}
    # Medians: ours 20; linen never reported (a platform without getrusage); nnx 6 of two.
    faults = {"ours": [10.0, 30000.0, 20.0], "flax_linen": [None] * 3, "flax_nnx": [None, 5, 7]}
    common = {"workload": "sine", "workload_shape": shape, "cell": "lstm", "device": "cpu"}
    settings = {"ours": {"jax_default_matmul_precision": None}, "flax_linen": {}, "flax_nnx": {}}
    return [
        {
            "round": index,
            "impl": impl,
            "median_step_s": times[index],
            "compile_s": compile_times[impl][index],
            "page_faults_per_step": faults[impl][index],
            "settings": settings[impl],
            **common,
        }
        for index in range(3)
        for impl, times in step_times.items()
    ]


def test_summary_takes_medians_over_rounds_and_compares_with_the_fastest_other():
    peaks = [{"device": "cpu", "size": 2048, "gflops": g} for g in (10.0, 30.0, 20.0)]
    summary = summarize(_synthetic_runs(), peaks)
    assert summary["peak_gflops"] == 20.0
    rows = {row["impl"]: row for row in summary["rows"]}
    assert list(rows) == ["ours", "flax_linen", "flax_nnx"]
    flops = 3 * 2 * 32 * 50 * (1 + 64) * 4 * 64
    expected = {
        "ours": (0.004, 2.0, 20.0), "flax_linen": (0.005, 1.5, None), "flax_nnx": (0.008, 1.0, 6)
    }  # fmt: skip
    for impl, (median, compile_s, faults) in expected.items():
        row = rows[impl]
        assert row["page_faults_per_step"] == faults
        assert row["median_step_s"] == median
        assert row["steps_per_s"] == pytest.approx(1 / median)
        assert row["ms_per_step"] == pytest.approx(median * 1e3)
        assert row["compile_s"] == compile_s
        assert row["flops_per_step"] == flops
        assert row["gflops"] == pytest.approx(flops / median / 1e9)
        assert row["peak_fraction"] == pytest.approx(flops / median / 1e9 / 20.0)
    assert rows["ours"]["speedup_vs_fastest_other"] == pytest.approx(250 / 200)
    assert rows["flax_linen"]["speedup_vs_fastest_other"] is None


def test_the_recurrent_kernel_is_reported_per_row_not_per_implementation():
    shape = dataclasses.asdict(WORKLOADS["sine"])
    kernels = {"lstm": "oneDNN, whole sequence (aten::mkldnn_rnn_layer)", "gru": None}
    runs = [
        {
            "round": 0, "impl": impl, "workload": "sine", "workload_shape": shape, "cell": cell,
            "device": "cpu", "median_step_s": 0.004, "compile_s": 1.0, "page_faults_per_step": 0,
            "settings": {"torch_num_threads": 2} if impl == "torch" else {},
            "recurrent_kernel": (kernels[cell] or "ATen") if impl == "torch" else None,
        }
        for cell in ("lstm", "gru")
        for impl in ("ours", "torch")
    ]  # fmt: skip
    peaks = [{"device": "cpu", "size": 2048, "gflops": 100.0}]
    summary = summarize(runs, peaks)
    found = {(row["impl"], row["cell"]): row["recurrent_kernel"] for row in summary["rows"]}
    assert found == {
        ("ours", "lstm"): None, ("torch", "lstm"): kernels["lstm"],
        ("ours", "gru"): None, ("torch", "gru"): "ATen",
    }  # fmt: skip
    options = _options(cells=("lstm", "gru"), impls=("ours", "torch"))
    text = render_markdown(make_report(options, runs, peaks))
    assert "| PyTorch nn.LSTM [oneDNN, whole sequence (aten::mkldnn_rnn_layer)] | 250.0 |" in text
    assert "| PyTorch nn.GRU [ATen] | 250.0 |" in text
    assert "| ours (gru_lstm_jax.LSTM) | 250.0 |" in text
    assert "torch: torch_num_threads=2." in text, "the header lists the per-row kernel"


def test_report_files_and_markdown_table(tmp_path, monkeypatch):
    monkeypatch.setenv("OMP_WAIT_POLICY", "PASSIVE")
    runs = _synthetic_runs()
    peaks = [{"device": "cpu", "size": 2048, "gflops": g} for g in (10.0, 30.0, 20.0)]
    options = _options(notes=("PyTorch is not importable, so it was skipped",))
    report = make_report(options, runs, peaks)
    json_path, md_path = write_outputs(report, tmp_path / "out")
    saved = json.loads(json_path.read_text())
    assert saved["runs"] == runs and saved["peaks"] == peaks
    assert saved["options"]["rounds"] == 3 and saved["notes"] == list(options.notes)
    assert saved["machine"]["cpu_count"] > 0 and saved["machine"]["versions"]["jax"]
    assert saved["machine"]["devices"] == {impl: ["cpu"] for impl in options.impls}
    text = md_path.read_text()
    assert "### sine (B 32, T 50, I 1, H 64), LSTM" in text
    assert "Note: PyTorch is not importable, so it was skipped." in text
    assert "20.0 GFLOP/s" in text
    assert "Settings: ours: jax_default_matmul_precision=None. Environment: " in text
    assert "OMP_WAIT_POLICY=PASSIVE" in text
    assert saved["machine"]["environment"]["OMP_WAIT_POLICY"] == "PASSIVE"
    gflops = 3 * 2 * 32 * 50 * 65 * 4 * 64 / 1e9
    ours = f"| ours (gru_lstm_jax.LSTM) | 250.0 | 4.00 | 2.00 | {gflops / 0.004:.2f} |"
    assert ours + f" {100 * gflops / 0.004 / 20:.1f}% | 20 | 1.25x |" in text
    assert "| Flax NNX nnx.RNN(OptimizedLSTMCell) | 125.0 | 8.00 | 1.00 |" in text
    assert "% | 6 | — |" in text and "% | — | — |" in text  # nnx; linen without faults
    assert text.count(" — ") == 3
    assert not list((tmp_path / "out").glob("*.partial"))
    assert "(each implementation in its own process)" in text
    shared = make_report(_options(shared_process=True), runs, peaks)
    assert "(all implementations of a workload and cell in one process" in (render_markdown(shared))


def _parse(torch_available=False, **flags):
    return make_options(torch_available=torch_available, **flags)


def test_options_defaults_quick_and_torch_skipping():
    options = _parse()
    assert options.workloads == ("sine", "imdb", "wide") and options.cells == ("lstm", "gru")
    assert options.impls == ("ours", "flax_linen", "flax_nnx")
    assert any('pip install -e ".[bench]"' in note for note in options.notes)
    assert (options.rounds, options.repeats, options.warmup) == (3, 20, 3)
    assert _parse(torch_available=True).impls == ("ours", "flax_linen", "flax_nnx", "torch")
    assert _parse(torch_available=True).notes == ()
    quick = _parse(quick=True, repeats=7)
    assert (quick.rounds, quick.repeats, quick.warmup) == (1, 7, 1)
    assert _parse(workloads=["wide", " sine"]).workloads == ("wide", "sine")
    assert not options.shared_process and _parse(shared_process=True).shared_process


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (
            {"workloads": ["sine", "huge"]},
            "--workloads must be a comma-separated list of ['sine', ",
        ),
        ({"cells": ["lstm", "nope"]}, "--cells must be a comma-separated list of ['gru', 'gru_re"),
        ({"impls": ["ours", "keras"]}, "['ours', 'flax_linen', 'flax_nnx', 'torch', 'ours_scan', "),
        ({"cells": []}, "--cells must be a comma-separated list"),
        ({"rounds": 0}, "--rounds must be an integer >= 1; got 0"),
        ({"warmup": -1}, "--warmup must be an integer >= 0; got -1"),
        ({"peak_size": 0}, "--peak_size must be a positive integer; got 0"),
        (
            {"impls": ["ours", "torch"]},
            'PyTorch is not importable; install it with pip install -e ".',
        ),
        ({"impls": ["torch_no_onednn"]}, "--impls includes torch_no_onednn but PyTorch is not"),
    ],
)
def test_bad_options_name_the_option_and_the_allowed_values(flags, message):
    with pytest.raises(ValueError) as error:
        _parse(**flags)
    assert message in str(error.value)


def test_command_line_reports_a_bad_option_without_running(tmp_path):
    script, workdir = ROOT / "experiments" / "benchmark.py", tmp_path / "unused"
    command = [sys.executable, str(script), "--cells", "nope", "--workdir", str(workdir)]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    assert done.returncode == 1
    assert "--cells must be a comma-separated list of ['gru', " in done.stderr
    assert not workdir.exists()


# Registers an implementation on import, as a user's module would: Flax NNX's GRU, own label.
USER_IMPL = """
from gru_lstm_jax.bench import register_impl
from gru_lstm_jax.bench.impls import build_flax_nnx

register_impl("user_nnx", build_flax_nnx, implements=("gru",), label=lambda cell: f"mine {cell}")
"""


def test_a_users_module_registers_an_implementation(tmp_path, monkeypatch):
    module = "gru_lstm_jax_test_user_impl"
    (tmp_path / f"{module}.py").write_text(USER_IMPL)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv(
        "PYTHONPATH", os.pathsep.join([str(tmp_path), os.environ.get("PYTHONPATH", "")])
    )
    monkeypatch.setenv("XLA_PYTHON_CLIENT_PREALLOCATE", "false")
    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))  # undone after the test
    monkeypatch.delitem(sys.modules, module, raising=False)
    with pytest.raises(ValueError, match="--impls must be a comma-separated list of"):
        _parse(impls=["ours", "user_nnx"])
    options = _parse(imports=[module], impls=["ours", "user_nnx"], workloads=["sine"], quick=True)
    assert options.imports == (module,) and get_impl("user_nnx").label("gru") == "mine gru"
    assert options.impls_for("lstm") == ("ours",) and options.impls_for("gru") == options.impls
    assert "user_nnx has no lstm: those rows are left out" in " ".join(options.notes)
    with pytest.raises(ValueError, match="an impl named 'ours' is already registered"):
        register_impl("ours", build_trainer)
    spec = {
        "kind": "train", "impl": "user_nnx", "cell": "gru", "workload": dataclasses.asdict(TINY),
        "warmup": 0, "repeats": 1, "imports": [module],
    }  # fmt: skip
    result = run_worker_process(spec)  # a fresh process: the module is imported there
    assert math.isfinite(result["first_loss"]) and len(result["step_times_s"]) == 1
    runs = [
        {**run, "cell": "gru", "impl": impl}
        for run, impl in zip(_synthetic_runs()[:2], ("ours", "user_nnx"), strict=True)
    ]
    text = render_markdown(make_report(options, runs, [{"device": "cpu", "size": 8, "gflops": 1}]))
    assert "| mine gru | 166.7 | 6.00 |" in text
    assert "| ours (gru_lstm_jax.GRU) | 250.0 | 4.00 |" in text and "| 1.50x |" in text
