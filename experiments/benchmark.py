"""Training-step throughput of our LSTM and GRU beside Flax linen, Flax NNX and PyTorch.

Usage (from the repository root)::

    python experiments/benchmark.py --workdir runs/benchmark
    python experiments/benchmark.py --quick --workloads sine --cells lstm --impls ours,flax_nnx
    python experiments/benchmark.py --shared-process --rounds 5 --workdir runs/benchmark_shared
    PYTHONPATH=. python experiments/benchmark.py --quick --import my_cells --cells lstm,my_cell

For every workload (``sine``: B 32, T 50, I 1, H 64; ``imdb``: B 32, T 200, I 128, H 64;
``wide``: B 64, T 100, I 256, H 256), cell (default ``lstm``, ``gru``; any registered cell) and
implementation (``ours``, ``flax_linen``, ``flax_nnx``, ``torch``, and on request
``torch_no_onednn``, PyTorch with oneDNN turned off; see ``experiments/benchmark_impls.py``) one
worker
process builds the model on a fixed random batch, times its first training step (trace and
compile for JAX; the compile column), takes ``--warmup`` more steps, then times ``--repeats``
steps one by one, each waited for (``block_until_ready`` / ``torch.cuda.synchronize``), and
reports their median. Workers run one at a time, interleaved: every round runs each
implementation once per workload and cell, in an order rotated from round to round, so slow
phases of a shared machine hit all implementations alike. The result of an implementation is
the median over rounds of its worker medians.

``--shared-process`` times instead all implementations of a workload and cell in one process:
each is built, compiled and warmed up, then every round times ``--repeats`` steps of each in
turn (order rotated per round, a 0.1 s pause before each block so that the previous one's
threads settle). Drift of a shared machine then hits all implementations within seconds of
each other, and the ratios are steadier; the price is that the implementations share one
process's memory and threads (PyTorch's OpenMP pool beside XLA's).

Each round also measures the machine's peak: a large float32 matmul in JAX (2048 x 2048 on a CPU,
8192 x 8192 on an accelerator) in a process of its own, median of repetitions; the fraction of peak
is achieved GFLOP/s over the median peak. FLOPs per step follow
``benchmark_impls.train_step_flops``, with the gate count ``G`` derived from each cell's input
projection.

``ours`` runs any registered cell (``gru_lstm_jax.RNN(cell)``); Flax and PyTorch implement only
``lstm`` and ``gru``, so for another cell their rows are left out, with a note in the report.
``--import MODULE`` (repeatable, or comma-separated) imports a module that registers cells of
one's own, in this process before ``--cells`` is checked and in every worker before it builds;
the module must be importable there (installed, or its folder on ``PYTHONPATH``).

The JAX implementations run on ``jax.devices()[0]`` and PyTorch on CUDA when it is available,
so the same command benchmarks a CPU or a GPU machine; the devices are recorded. PyTorch is
timed when it is importable (``pip install -e ".[bench]"``) and skipped with a note otherwise.
Benchmark on a machine with nothing else running and ``OMP_WAIT_POLICY`` unset, so that
PyTorch's OpenMP threads spin between operations as they are built to. ``OMP_WAIT_POLICY=PASSIVE``
makes them sleep, which slowed PyTorch's small steps sixfold here (sine LSTM); it is only the
lesser evil on a CPU shared with other work, where spinning threads slow down tenfold or more.
Each worker's settings and the relevant environment variables are recorded, with the minor
page faults per timed step (Linux and macOS): a step whose temporary buffers are mapped afresh
on every call (XLA's, above glibc's 32 MiB ``mmap`` ceiling) takes thousands; the README's
"Speed" section gives the ``GLIBC_TUNABLES`` that keep freed memory for reuse instead.

Writes ``benchmark.json`` (machine, options, every worker's raw step times, the peak runs and
the summary) and ``benchmark.md`` (a table per workload and cell) into ``--workdir``.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import importlib.metadata
import json
import os
import pathlib
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

try:
    import resource
except ImportError:  # Windows
    resource = None

import benchmark_impls
from benchmark_impls import (
    DEFAULT_IMPLS,
    DEFAULT_WORKLOADS,
    IMPLS,
    LIBRARY_CELLS,
    OURS_IMPLS,
    TORCH_IMPLS,
    WORKLOADS,
    Workload,
    implements,
)

DEFAULTS = {"rounds": 3, "repeats": 20, "warmup": 3}
QUICK = {"rounds": 1, "repeats": 3, "warmup": 1}
# A 2048^3 matmul takes a fraction of a second on a CPU but microseconds on a GPU, where
# launch overhead would hide the peak; accelerators get a larger one.
PEAK_SIZE = {"cpu": 2048, "accelerator": 8192}
WORKER_TIMEOUT_S = 1800
# Environment variables that change how fast the workers run.
RECORDED_ENVIRONMENT = (
    "XLA_FLAGS", "OMP_NUM_THREADS", "OMP_WAIT_POLICY", "MKL_NUM_THREADS", "CUDA_VISIBLE_DEVICES",
    "XLA_PYTHON_CLIENT_PREALLOCATE", "XLA_PYTHON_CLIENT_MEM_FRACTION", "GLIBC_TUNABLES",
    "MALLOC_ARENA_MAX", "LD_PRELOAD",
)  # fmt: skip
IMPL_LABELS = {
    ("ours", "lstm"): "ours (gru_lstm_jax.LSTM)",
    ("ours", "gru"): "ours (gru_lstm_jax.GRU)",
    ("ours_scan", "lstm"): "ours (gru_lstm_jax.LSTM), implementation='scan'",
    ("ours_scan", "gru"): "ours (gru_lstm_jax.GRU), implementation='scan'",
    ("ours_cudnn", "lstm"): "ours (gru_lstm_jax.LSTM), implementation='cudnn'",
    ("ours_associative", "min_gru"): "ours (gru_lstm_jax.RNN('min_gru')), associative",
    ("ours_associative", "min_lstm"): "ours (gru_lstm_jax.RNN('min_lstm')), associative",
    ("flax_linen", "lstm"): "Flax linen nn.RNN(OptimizedLSTMCell)",
    ("flax_linen", "gru"): "Flax linen nn.RNN(GRUCell)",
    ("flax_nnx", "lstm"): "Flax NNX nnx.RNN(OptimizedLSTMCell)",
    ("flax_nnx", "gru"): "Flax NNX nnx.RNN(GRUCell)",
    ("torch", "lstm"): "PyTorch nn.LSTM",
    ("torch", "gru"): "PyTorch nn.GRU",
    ("torch_no_onednn", "lstm"): "PyTorch nn.LSTM, oneDNN off",
    ("torch_no_onednn", "gru"): "PyTorch nn.GRU, oneDNN off",
}


@dataclasses.dataclass(frozen=True)
class Options:
    """What to benchmark.

    Attributes:
        workloads: names from ``benchmark_impls.WORKLOADS``.
        cells: registered cell names.
        impls: names from ``benchmark_impls.IMPLS``; a cell runs with those that implement it
            (:meth:`impls_for`).
        rounds: interleaved rounds.
        repeats: timed steps per worker.
        warmup: untimed steps per worker after the first (compiling) one.
        peak_size: the peak matmul's size ``n`` (``n x n`` by ``n x n``); ``None`` chooses by
            device (``PEAK_SIZE``).
        notes: what was skipped and why.
        shared_process: time all implementations of a workload and cell in one process,
            alternating blocks of ``repeats`` steps, instead of one process per worker.
        imports: modules that register cells of one's own, imported by every worker.
    """

    workloads: tuple[str, ...]
    cells: tuple[str, ...]
    impls: tuple[str, ...]
    rounds: int
    repeats: int
    warmup: int
    peak_size: int | None = None
    notes: tuple[str, ...] = ()
    shared_process: bool = False
    imports: tuple[str, ...] = ()

    def impls_for(self, cell: str) -> tuple[str, ...]:
        """The implementations of :attr:`impls` that have ``cell``, in their order."""
        return tuple(impl for impl in self.impls if implements(impl, cell))


def make_parser() -> argparse.ArgumentParser:
    """The command-line parser (values are checked by :func:`options_from_args`)."""
    parser = argparse.ArgumentParser(
        description="Training-step throughput of LSTM/GRU implementations, side by side."
    )
    parser.add_argument("--workdir", default="runs/benchmark", help="Folder for the outputs.")
    parser.add_argument(
        "--workloads",
        default=",".join(DEFAULT_WORKLOADS),
        help=f"Comma-separated, from {list(WORKLOADS)}; default {list(DEFAULT_WORKLOADS)}.",
    )
    parser.add_argument(
        "--cells",
        default=",".join(LIBRARY_CELLS),
        help=(
            "Comma-separated registered cells (with --import, one's own); Flax and PyTorch "
            f"implement only {list(LIBRARY_CELLS)}."
        ),
    )
    parser.add_argument(
        "--import",
        dest="imports",
        action="append",
        default=[],
        metavar="MODULE",
        help="A module that registers cells of one's own (repeatable, or comma-separated).",
    )
    parser.add_argument(
        "--impls",
        default=None,
        help=(
            f"Comma-separated, from {list(IMPLS)}; default {list(DEFAULT_IMPLS)} (torch when "
            "importable)."
        ),
    )
    parser.add_argument("--rounds", type=int, help=f"Rounds (default {DEFAULTS['rounds']}).")
    parser.add_argument(
        "--repeats", type=int, help=f"Timed steps per worker (default {DEFAULTS['repeats']})."
    )
    parser.add_argument(
        "--warmup", type=int, help=f"Warm-up steps per worker (default {DEFAULTS['warmup']})."
    )
    parser.add_argument(
        "--peak-size", type=int, help="Size n of the n x n peak matmul (default: by device)."
    )
    parser.add_argument(
        "--quick", action="store_true", help=f"A smoke check: {QUICK} unless given explicitly."
    )
    parser.add_argument(
        "--shared-process",
        action="store_true",
        help="Time all implementations of a workload and cell in one process, alternating.",
    )
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    return parser


def parse_names(value: str, option: str, allowed: Sequence[str]) -> tuple[str, ...]:
    """Splits a comma-separated option value and checks every name.

    Args:
        value: e.g. ``"sine,wide"``.
        option: the option's name for the error message, e.g. ``"--workloads"``.
        allowed: the valid names.

    Returns:
        The names in the given order, without duplicates.

    Raises:
        ValueError: naming ``option``, the bad names and the allowed values.
    """
    names = tuple(dict.fromkeys(name.strip() for name in value.split(",") if name.strip()))
    unknown = [name for name in names if name not in allowed]
    if unknown or not names:
        raise ValueError(
            f"{option} must be a comma-separated list of {list(allowed)}; got {value!r}"
            + (f" (unknown: {unknown})" if unknown else "")
        )
    return names


def _count(value: int | None, option: str, quick: bool, minimum: int) -> int:
    if value is None:
        return (QUICK if quick else DEFAULTS)[option]
    if value < minimum:
        raise ValueError(f"--{option} must be an integer >= {minimum}; got {value}")
    return value


def import_modules(names: Sequence[str]) -> tuple[str, ...]:
    """Imports the modules of ``--import`` (a user's cells) in this process.

    Args:
        names: module names, each possibly comma-separated.

    Returns:
        The module names, one each.

    Raises:
        ValueError: naming ``--import`` and the module that cannot be imported.
    """
    if not names:  # The default run does not even import the training package.
        return ()
    from gru_lstm_jax.training import import_cell_modules

    return import_cell_modules(names, "--import")


def _skipped_cells_note(impls: Sequence[str], cells: Sequence[str]) -> str | None:
    """The note for cells that some of ``impls`` do not implement, or ``None``."""
    skipped = {impl: [cell for cell in cells if not implements(impl, cell)] for impl in impls}
    notes = [f"{impl} has no {', '.join(absent)}" for impl, absent in skipped.items() if absent]
    return "; ".join(notes) + ": those rows are left out" if notes else None


def options_from_args(args: argparse.Namespace, *, torch_available: bool) -> Options:
    """Checks the parsed command line, imports ``--import``'s modules and resolves the defaults.

    Args:
        args: from :func:`make_parser`.
        torch_available: whether PyTorch is importable.

    Returns:
        :class:`Options`. Without ``--impls``, those of ``DEFAULT_IMPLS`` that can run; a
        missing PyTorch is then recorded in ``notes``, as are cells that some implementations
        do not have (their rows are left out).

    Raises:
        ValueError: for unknown names or counts out of range (the message names the option and
            the allowed values), a module of ``--import`` that cannot be imported, a cell that
            none of the implementations has, or a PyTorch implementation requested without
            PyTorch.
    """
    from gru_lstm_jax import available_cells

    notes: list[str] = []
    imports = import_modules(args.imports)
    if args.impls is None:
        impls = tuple(i for i in DEFAULT_IMPLS if torch_available or i not in TORCH_IMPLS)
        if not torch_available:
            notes.append('PyTorch is not importable, so it was skipped (pip install -e ".[bench]")')
    else:
        impls = parse_names(args.impls, "--impls", IMPLS)
        wanted = [impl for impl in impls if impl in TORCH_IMPLS]
        if wanted and not torch_available:
            raise ValueError(
                f"--impls includes {wanted[0]} but PyTorch is not importable; install it with "
                'pip install -e ".[bench]"'
            )
    if args.peak_size is not None and args.peak_size < 1:
        raise ValueError(f"--peak-size must be a positive integer; got {args.peak_size}")
    cells = parse_names(args.cells, "--cells", available_cells())
    for cell in cells:
        if not any(implements(impl, cell) for impl in impls):
            raise ValueError(
                f"--cells includes {cell}, which none of the implementations {list(impls)} "
                f"has: Flax and PyTorch implement only {list(LIBRARY_CELLS)}; add ours to "
                "--impls"
            )
    note = _skipped_cells_note(impls, cells)
    if note:
        notes.append(note)
    return Options(
        workloads=parse_names(args.workloads, "--workloads", tuple(WORKLOADS)),
        cells=cells,
        impls=impls,
        rounds=_count(args.rounds, "rounds", args.quick, 1),
        repeats=_count(args.repeats, "repeats", args.quick, 1),
        warmup=_count(args.warmup, "warmup", args.quick, 0),
        peak_size=args.peak_size,
        shared_process=args.shared_process,
        notes=tuple(notes),
        imports=imports,
    )


def _minor_page_faults() -> int | None:
    """This process's minor page faults so far (``None`` without the ``resource`` module)."""
    return None if resource is None else resource.getrusage(resource.RUSAGE_SELF).ru_minflt


def _prepare(
    impl: str, cell: str, workload: Workload, warmup: int, seed: int
) -> tuple[Any, dict[str, Any]]:
    """Builds a trainer, times its first step, takes ``warmup`` more: ``(trainer, facts)``.

    The facts include the trainer's ``recurrent_kernel()``, which for PyTorch profiles one more
    (untimed) step.
    """
    start = time.perf_counter()
    trainer = benchmark_impls.build_trainer(impl, cell, workload, seed=seed)
    build_s = time.perf_counter() - start
    start = time.perf_counter()
    trainer.step()
    compile_s = time.perf_counter() - start
    first_loss = trainer.loss()
    for _ in range(warmup):
        trainer.step()
    facts = {
        "device": trainer.device,
        "settings": trainer.settings(),
        "recurrent_kernel": trainer.recurrent_kernel(),
        "build_s": build_s,
        "compile_s": compile_s,
        "first_loss": first_loss,
    }
    return trainer, facts


def _time_steps(trainer: Any, repeats: int) -> dict[str, Any]:
    """Times ``repeats`` steps one by one: step times, their median and page faults per step."""
    step_times = []
    faults_before = _minor_page_faults()
    for _ in range(repeats):
        start = time.perf_counter()
        trainer.step()
        step_times.append(time.perf_counter() - start)
    faults = _minor_page_faults()
    return {
        "step_times_s": step_times,
        "median_step_s": statistics.median(step_times),
        "page_faults_per_step": None if faults is None else (faults - faults_before) / repeats,
        "last_loss": trainer.loss(),
    }


def time_training(
    impl: str, cell: str, workload: Workload, *, warmup: int, repeats: int, seed: int = 0
) -> dict[str, Any]:
    """Builds one implementation and times its training steps, in this process.

    Args:
        impl: one of ``benchmark_impls.IMPLS``.
        cell: a cell that ``impl`` has (``benchmark_impls.implements``).
        workload: the shape ``(B, T, I, H)``.
        warmup: untimed steps after the first.
        repeats: timed steps, each waited for.
        seed: seeds the parameters and the data.

    Returns:
        A JSON-able dict: ``device``, ``settings``, ``recurrent_kernel`` (PyTorch's, profiled:
        ``benchmark_impls.TorchTrainer.recurrent_kernel``; ``None`` for the JAX
        implementations), ``build_s`` (model and data), ``compile_s``
        (the first step: trace, compile and run for JAX), ``step_times_s`` (``repeats``
        floats), ``median_step_s``, ``page_faults_per_step`` (the process's minor page faults
        over the timed steps, per step; ``None`` where the ``resource`` module is missing),
        ``first_loss`` and ``last_loss``.
    """
    trainer, facts = _prepare(impl, cell, workload, warmup, seed)
    return {**facts, **_time_steps(trainer, repeats)}


def time_training_together(
    impls: Sequence[str],
    cell: str,
    workload: Workload,
    *,
    rounds: int,
    warmup: int,
    repeats: int,
    seed: int = 0,
    pause_s: float = 0.1,
) -> list[dict[str, Any]]:
    """Times several implementations in this process, alternating blocks of steps.

    Every implementation is built, compiled and warmed up first; then each round times
    ``repeats`` steps of each, in :func:`round_order`, after a pause of ``pause_s`` seconds.

    Args:
        impls: names from ``benchmark_impls.IMPLS`` that have ``cell``.
        cell: a registered cell name.
        workload: the shape ``(B, T, I, H)``.
        rounds: blocks per implementation.
        warmup: untimed steps of each after its first.
        repeats: timed steps per block.
        seed: seeds the parameters and the data.
        pause_s: the pause before each block.

    Returns:
        One dict per round and implementation, in the order timed: ``round``, ``impl`` and the
        keys of :func:`time_training`'s result (``build_s``, ``compile_s`` and ``first_loss``
        the same for every round of an implementation; the page faults count the block).
    """
    prepared = {impl: _prepare(impl, cell, workload, warmup, seed) for impl in impls}
    results = []
    for index in range(rounds):
        for impl in round_order(impls, index):
            trainer, facts = prepared[impl]
            time.sleep(pause_s)
            results.append({"round": index, "impl": impl, **facts, **_time_steps(trainer, repeats)})
    return results


def measure_peak(size: int | None, repeats: int) -> dict[str, Any]:
    """Times a float32 ``size x size`` matmul in JAX on ``jax.devices()[0]``, in this process.

    Args:
        size: the matrix size ``n``; ``None`` picks ``PEAK_SIZE`` by the device's platform.
        repeats: timed matmuls (after one compiling and two warm-up calls).

    Returns:
        A JSON-able dict: ``device``, ``size``, ``precision`` (JAX's default matmul precision),
        ``times_s``, ``median_s`` and ``gflops`` (``2·n³`` over the median time).
    """
    import jax
    import jax.numpy as jnp

    device = jax.devices()[0]
    if size is None:
        size = PEAK_SIZE["cpu" if device.platform == "cpu" else "accelerator"]
    key_a, key_b = jax.random.split(jax.random.key(0))
    a = jax.random.normal(key_a, (size, size), jnp.float32)
    b = jax.random.normal(key_b, (size, size), jnp.float32)
    matmul = jax.jit(jnp.matmul)
    for _ in range(3):
        matmul(a, b).block_until_ready()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        matmul(a, b).block_until_ready()
        times.append(time.perf_counter() - start)
    median = statistics.median(times)
    return {
        "device": benchmark_impls.describe_jax_device(device),
        "size": size,
        "precision": jax.config.jax_default_matmul_precision,
        "times_s": times,
        "median_s": median,
        "gflops": 2 * size**3 / median / 1e9,
    }


def run_worker(spec: dict[str, Any]) -> dict[str, Any]:
    """Runs one worker's job in this process.

    Args:
        spec: ``{"kind": "train", "impl", "cell", "workload": {batch, time, features,
            hidden}, "warmup", "repeats"}``, ``{"kind": "together", "impls", "cell",
            "workload", "rounds", "warmup", "repeats"}`` or ``{"kind": "peak", "size",
            "repeats"}``; a training spec may name ``"imports"``, modules imported before the
            model is built (a user's cells).

    Returns:
        :func:`time_training`'s or :func:`measure_peak`'s result, or ``{"results": [...]}``
        with :func:`time_training_together`'s.
    """
    import_modules(spec.get("imports", ()))
    if spec["kind"] == "peak":
        return measure_peak(spec["size"], spec["repeats"])
    if spec["kind"] == "together":
        results = time_training_together(
            spec["impls"],
            spec["cell"],
            Workload(**spec["workload"]),
            rounds=spec["rounds"],
            warmup=spec["warmup"],
            repeats=spec["repeats"],
        )
        return {"results": results}
    return time_training(
        spec["impl"],
        spec["cell"],
        Workload(**spec["workload"]),
        warmup=spec["warmup"],
        repeats=spec["repeats"],
    )


def run_worker_process(spec: dict[str, Any]) -> dict[str, Any]:
    """Runs :func:`run_worker` in a fresh Python process (this script with ``--worker``).

    Args:
        spec: as for :func:`run_worker`.

    Returns:
        The worker's result, read from the last line of its standard output.

    Raises:
        RuntimeError: if the worker fails; the message holds the end of its standard error.
    """
    command = [sys.executable, str(pathlib.Path(__file__).resolve()), "--worker", json.dumps(spec)]
    done = subprocess.run(
        command, capture_output=True, text=True, timeout=WORKER_TIMEOUT_S, check=False
    )
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        raise RuntimeError(
            f"benchmark worker {spec} failed with exit code {done.returncode}:\n"
            f"{done.stderr[-4000:]}"
        )
    return json.loads(lines[-1])


def round_order(impls: Sequence[str], round_index: int) -> tuple[str, ...]:
    """The implementations in the order of round ``round_index`` (rotated by one per round)."""
    shift = round_index % len(impls)
    return (*impls[shift:], *impls[:shift])


def run_rounds(
    options: Options,
    run: Callable[[dict[str, Any]], dict[str, Any]] = run_worker_process,
    log: Callable[[str], None] = print,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Runs every worker of every round, interleaved.

    Each cell runs with the implementations that have it (:meth:`Options.impls_for`). With
    ``options.shared_process`` the peak workers run first, one per round, then one
    ``"together"`` worker per workload and cell times those implementations over all rounds.

    Args:
        options: what to run.
        run: runs one worker spec and returns its result (default: in its own process).
        log: receives one progress line per worker (per block with ``shared_process``).

    Returns:
        ``(runs, peaks)``: every training worker's result (one per round and implementation)
        with ``round``, ``workload``, ``workload_shape``, ``cell`` and ``impl`` added; every peak
        worker's result with ``round`` added.
    """
    if options.shared_process:
        return _run_shared(options, run, log)
    runs, peaks = [], []
    for index in range(options.rounds):
        prefix = _round_prefix(options, index)
        peaks.append(_run_peak(options, run, index, log))
        for name in options.workloads:
            shape = dataclasses.asdict(WORKLOADS[name])
            for cell in options.cells:
                for impl in round_order(options.impls_for(cell), index):
                    spec = {
                        "kind": "train", "impl": impl, "cell": cell, "workload": shape,
                        "warmup": options.warmup, "repeats": options.repeats,
                        **_imports_spec(options),
                    }  # fmt: skip
                    result = run(spec)
                    runs.append(
                        {"round": index, "workload": name, "workload_shape": shape,
                         "cell": cell, "impl": impl, **result}
                    )  # fmt: skip
                    log(
                        f"{prefix} {name} {cell} {impl}: {result['median_step_s'] * 1e3:.2f} "
                        f"ms/step, first step {result['compile_s']:.1f} s"
                    )
    return runs, peaks


def _imports_spec(options: Options) -> dict[str, list[str]]:
    """``{"imports": [...]}`` for a training spec, or nothing when there are none."""
    return {"imports": list(options.imports)} if options.imports else {}


def _round_prefix(options: Options, index: int) -> str:
    return f"[round {index + 1}/{options.rounds}]"


def _run_peak(
    options: Options,
    run: Callable[[dict[str, Any]], dict[str, Any]],
    index: int,
    log: Callable[[str], None],
) -> dict[str, Any]:
    """Runs round ``index``'s peak worker and logs it: its result with ``round`` added."""
    peak = run({"kind": "peak", "size": options.peak_size, "repeats": max(options.repeats, 5)})
    prefix = _round_prefix(options, index)
    log(f"{prefix} peak {peak['size']}^2 matmul: {peak['gflops']:.1f} GFLOP/s")
    return {"round": index, **peak}


def _run_shared(
    options: Options,
    run: Callable[[dict[str, Any]], dict[str, Any]],
    log: Callable[[str], None],
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """:func:`run_rounds` with ``shared_process``: one process per workload and cell."""
    peaks = [_run_peak(options, run, index, log) for index in range(options.rounds)]
    runs = []
    for name in options.workloads:
        shape = dataclasses.asdict(WORKLOADS[name])
        for cell in options.cells:
            spec = {
                "kind": "together", "impls": list(options.impls_for(cell)), "cell": cell,
                "workload": shape, "rounds": options.rounds, "warmup": options.warmup,
                "repeats": options.repeats, **_imports_spec(options),
            }  # fmt: skip
            for result in run(spec)["results"]:
                runs.append({"workload": name, "workload_shape": shape, "cell": cell, **result})
                log(
                    f"[round {result['round'] + 1}/{options.rounds}, one process] {name} {cell} "
                    f"{result['impl']}: {result['median_step_s'] * 1e3:.2f} ms/step"
                )
    return runs, peaks


def summarize(runs: Sequence[dict[str, Any]], peaks: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Combines the rounds: medians, throughput, FLOP rates and our speed-up.

    For each (workload, cell, implementation): the median over rounds of the workers' median
    step times, steps per second (its inverse), the median first-step (compile) time, the cell's
    gate count ``gates`` and whether it has a ``recurrent_matrix`` (see
    ``benchmark_impls.forward_flops``), FLOPs per step (``benchmark_impls.train_step_flops``),
    achieved GFLOP/s and its fraction of the median peak. For ``ours``,
    ``speedup_vs_fastest_other`` is our steps/s over the highest steps/s of the other
    implementations (``None`` when there is no other).
    ``page_faults_per_step`` is the median over the rounds that report it (``None`` if none).
    ``recurrent_kernel`` is what the first round's worker recorded (see :func:`time_training`).

    Args:
        runs: training worker results as returned by :func:`run_rounds`.
        peaks: peak worker results (each with ``gflops``).

    Returns:
        ``{"peak_gflops": float, "rows": [...]}``, rows in the order first seen in ``runs``.
    """
    peak_gflops = statistics.median(peak["gflops"] for peak in peaks)
    groups: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
    for run in runs:
        groups.setdefault((run["workload"], run["cell"], run["impl"]), []).append(run)
    rows = []
    for (workload, cell, impl), group in groups.items():
        shape = Workload(**group[0]["workload_shape"])
        round_medians = [run["median_step_s"] for run in group]
        median_step = statistics.median(round_medians)
        flops = benchmark_impls.train_step_flops(cell, shape)
        gflops = flops / median_step / 1e9
        faults = [
            run["page_faults_per_step"]
            for run in group
            if run.get("page_faults_per_step") is not None
        ]
        rows.append(
            {
                "workload": workload,
                "workload_shape": dataclasses.asdict(shape),
                "cell": cell,
                "impl": impl,
                "device": group[0]["device"],
                "rounds": len(group),
                "round_median_step_s": round_medians,
                "median_step_s": median_step,
                "steps_per_s": 1.0 / median_step,
                "ms_per_step": median_step * 1e3,
                "compile_s": statistics.median(run["compile_s"] for run in group),
                "gates": benchmark_impls.gate_count(cell, shape),
                "recurrent_matrix": benchmark_impls.has_recurrent_matrix(cell),
                "flops_per_step": flops,
                "gflops": gflops,
                "peak_fraction": gflops / peak_gflops,
                "page_faults_per_step": statistics.median(faults) if faults else None,
                "recurrent_kernel": group[0].get("recurrent_kernel"),
                "speedup_vs_fastest_other": None,
            }
        )
    for row in rows:
        if row["impl"] != "ours":
            continue
        others = [
            other["steps_per_s"]
            for other in rows
            if (other["workload"], other["cell"]) == (row["workload"], row["cell"])
            and other["impl"] not in OURS_IMPLS
        ]
        if others:
            row["speedup_vs_fastest_other"] = row["steps_per_s"] / max(others)
    return {"peak_gflops": peak_gflops, "rows": rows}


def _version(package: str) -> str | None:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return None


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def describe_machine(runs: Sequence[dict[str, Any]], peaks: Sequence[dict[str, Any]]) -> dict:
    """The machine and software the benchmark ran on.

    Devices come from the workers' reports: this process never starts a JAX backend, which on
    a GPU would hold memory that the workers need.

    Args:
        runs: training worker results (each with ``impl`` and ``device``).
        peaks: peak worker results (each with ``device``).

    Returns:
        A JSON-able dict: CPU model, logical and usable cores, OS, Python and package versions,
        the set ones of ``RECORDED_ENVIRONMENT``, the JAX device and each implementation's
        device.
    """
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    devices: dict[str, list[str]] = {}
    for run in runs:
        found = devices.setdefault(run["impl"], [])
        if run["device"] not in found:
            found.append(run["device"])
    return {
        "cpu_model": _cpu_model(),
        "cpu_count": os.cpu_count(),
        "usable_cpus": usable,
        "os": platform.platform(),
        "python": platform.python_version(),
        "versions": {
            package: _version(package)
            for package in ("jax", "jaxlib", "flax", "optax", "numpy", "torch")
        },
        "environment": {
            name: os.environ[name] for name in RECORDED_ENVIRONMENT if name in os.environ
        },
        "jax_device": peaks[0]["device"] if peaks else None,
        "devices": devices,
    }


def _format_speedup(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}x"


def _format_faults(value: float | None) -> str:
    return "—" if value is None else f"{value:,.0f}"


def impl_label(impl: str, cell: str) -> str:
    """What ``impl`` runs for ``cell``, e.g. ``"PyTorch nn.LSTM"``, for the report's tables."""
    if (impl, cell) in IMPL_LABELS:
        return IMPL_LABELS[impl, cell]
    suffix = ", implementation='scan'" if impl == "ours_scan" else ""
    return f"ours (gru_lstm_jax.RNN({cell!r})){suffix}"


def _flops_formula(rows: Sequence[dict[str, Any]]) -> str:
    """The FLOP count's formula with each cell's gate count ``G``, for the report's header."""
    cells: dict[str, tuple[float, bool]] = {}
    for row in rows:
        cells.setdefault(row["cell"], (row["gates"], row["recurrent_matrix"]))
    gates = [f"{count:g} ({cell.upper()})" for cell, (count, _) in cells.items()]
    listed = gates[0] if len(gates) == 1 else f"{', '.join(gates[:-1])} or {gates[-1]}"
    text = f"3 x 2·B·T·(I+H)·G·H, G = {listed}"
    flat = [cell.upper() for cell, (_, recurrent) in cells.items() if not recurrent]
    if flat:
        text += f"; 3 x 2·B·T·I·G·H for {', '.join(flat)}, without a recurrent matrix"
    return text


def render_markdown(report: dict[str, Any]) -> str:
    """The report as markdown: a header describing the run and one table per workload and cell.

    Args:
        report: as built by :func:`make_report`.

    Returns:
        The markdown text.
    """
    machine, options, summary = report["machine"], report["options"], report["summary"]
    versions = machine["versions"]
    software = ", ".join(f"{name} {version}" for name, version in versions.items() if version)
    devices = "; ".join(f"{impl}: {', '.join(found)}" for impl, found in machine["devices"].items())
    settings: dict[str, str] = {}
    for run in report["runs"]:
        values = ", ".join(f"{key}={value}" for key, value in run.get("settings", {}).items())
        settings.setdefault(run["impl"], values)
    settings_text = "; ".join(f"{impl}: {values}" for impl, values in settings.items() if values)
    environment = ", ".join(f"{name}={value}" for name, value in machine["environment"].items())
    peak = report["peaks"][0] if report["peaks"] else {"size": "?"}
    where = (
        "all implementations of a workload and cell in one process, alternating blocks"
        if options.get("shared_process")
        else "each implementation in its own process"
    )
    lines = [
        "# LSTM and GRU training-step benchmark",
        "",
        f"Machine: {machine['cpu_model']}, {machine['usable_cpus']} usable of "
        f"{machine['cpu_count']} logical CPUs; {machine['os']}; Python {machine['python']}; "
        f"{software}. Devices: {devices}. Settings: {settings_text or 'none recorded'}. "
        f"Environment: {environment or 'nothing set'}. Run {report['created']}.",
        "",
        f"Peak: a float32 {peak['size']} x {peak['size']} matmul in JAX on "
        f"{machine['jax_device']}, {summary['peak_gflops']:.1f} GFLOP/s (median over rounds).",
        "",
        f"One step: forward over the sequence, last output into a linear head, MSE, backward, "
        f"Adam update, on a fixed random batch. Each figure is the median over "
        f"{options['rounds']} interleaved rounds ({where}) of "
        f"the median of {options['repeats']} timed steps after {options['warmup']} warm-up "
        f"steps. Compile s: the first step (trace, compile and run; for PyTorch its first "
        f"step). FLOPs per step: {_flops_formula(summary['rows'])}. Page faults: the "
        f"worker's minor page faults per timed step. Speed-up: ours over the fastest other "
        f"implementation.",
    ]
    lines += [f"\nNote: {note}." for note in report["notes"]]
    tables: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for row in summary["rows"]:
        tables.setdefault((row["workload"], row["cell"]), []).append(row)
    for (workload, cell), rows in tables.items():
        shape = Workload(**rows[0]["workload_shape"])
        lines += [
            "",
            f"### {workload} ({shape.describe()}), {cell.upper()}",
            "",
            "| implementation | steps/s | ms/step | compile s | GFLOP/s | % of peak "
            "| page faults/step | speed-up |",
            "|---|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for row in rows:
            label = impl_label(row["impl"], row["cell"])
            if row.get("recurrent_kernel"):
                label += f" [{row['recurrent_kernel']}]"
            lines.append(
                f"| {label} | {row['steps_per_s']:.1f} "
                f"| {row['ms_per_step']:.2f} | {row['compile_s']:.2f} | {row['gflops']:.2f} "
                f"| {100 * row['peak_fraction']:.1f}% "
                f"| {_format_faults(row['page_faults_per_step'])} "
                f"| {_format_speedup(row['speedup_vs_fastest_other'])} |"
            )
    return "\n".join(lines) + "\n"


def make_report(
    options: Options, runs: Sequence[dict[str, Any]], peaks: Sequence[dict[str, Any]]
) -> dict[str, Any]:
    """Everything ``benchmark.json`` holds.

    Args:
        options: what was run.
        runs: training worker results from :func:`run_rounds`.
        peaks: peak worker results from :func:`run_rounds`.

    Returns:
        ``{"created", "machine", "options", "notes", "peaks", "runs", "summary"}``.
    """
    return {
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "machine": describe_machine(runs, peaks),
        "options": {k: v for k, v in dataclasses.asdict(options).items() if k != "notes"},
        "notes": list(options.notes),
        "peaks": list(peaks),
        "runs": list(runs),
        "summary": summarize(runs, peaks),
    }


def write_outputs(report: dict[str, Any], workdir: pathlib.Path) -> tuple[pathlib.Path, ...]:
    """Writes ``benchmark.json`` and ``benchmark.md``, each whole or not at all.

    Args:
        report: from :func:`make_report`.
        workdir: the output folder (created if needed).

    Returns:
        The two paths.
    """
    workdir.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, text in (
        ("benchmark.json", json.dumps(report, indent=2) + "\n"),
        ("benchmark.md", render_markdown(report)),
    ):
        path = workdir / name
        partial = path.with_suffix(path.suffix + ".partial")
        partial.write_text(text)
        partial.replace(path)
        paths.append(path)
    return tuple(paths)


def main(argv: Sequence[str] | None = None) -> None:
    parser = make_parser()
    args = parser.parse_args(argv)
    if args.worker is not None:
        print(json.dumps(run_worker(json.loads(args.worker))))
        return
    try:
        options = options_from_args(args, torch_available=benchmark_impls.torch_available())
    except ValueError as error:
        parser.error(str(error))
    for note in options.notes:
        print(f"note: {note}")
    runs, peaks = run_rounds(options)
    report = make_report(options, runs, peaks)
    print(render_markdown(report))
    for path in write_outputs(report, pathlib.Path(args.workdir)):
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
