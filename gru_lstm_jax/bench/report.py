"""The benchmark's report: the machine it ran on, ``benchmark.json`` and ``benchmark.md``."""

from __future__ import annotations

import dataclasses
import datetime
import importlib.metadata
import json
import os
import pathlib
import platform
from collections.abc import Sequence
from typing import Any

from gru_lstm_jax.bench.options import Options
from gru_lstm_jax.bench.registry import get_impl
from gru_lstm_jax.bench.stats import summarize
from gru_lstm_jax.bench.workloads import Workload

# Environment variables that change how fast the workers run.
RECORDED_ENVIRONMENT = (
    "XLA_FLAGS", "OMP_NUM_THREADS", "OMP_WAIT_POLICY", "MKL_NUM_THREADS", "CUDA_VISIBLE_DEVICES",
    "XLA_PYTHON_CLIENT_PREALLOCATE", "XLA_PYTHON_CLIENT_MEM_FRACTION", "GLIBC_TUNABLES",
    "MALLOC_ARENA_MAX", "LD_PRELOAD",
)  # fmt: skip


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
            label = get_impl(row["impl"]).label(row["cell"])
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
        runs: training worker results from :func:`gru_lstm_jax.bench.runner.run_rounds`.
        peaks: peak worker results from the same.

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
