"""Peak memory of one training step on a long sequence, with and without ``remat``.

The step is the project's own jitted train step (:func:`gru_lstm_jax.training.make_steps`) on a
``Forecaster``: one recurrent layer (any registered cell) over ``(B, T, I)`` inputs, its last
output -> ``Linear(1)`` -> mean squared error, gradients, and an Adam update. Each configuration
runs in a fresh worker process (:mod:`gru_lstm_jax.bench.worker`) and is measured twice:

- **compiled**: XLA's memory analysis of the compiled step (``compile().memory_analysis()``):
  temporaries + arguments + outputs - the donated (aliased) bytes, i.e. what the step needs
  while it runs.
- **RSS**: the process's resident set around one actual execution of the step. The peak is
  reset (``/proc/self/clear_refs``) after compilation and after the inputs exist, so ``VmHWM``
  is the peak during the step; the table also gives the increase over the RSS just before it.

Configurations: ``none`` (``remat=False``: ``run_scan``'s default, the fused recurrence for the
built-in cells) and ``remat`` (``remat=True``: the reference scan with every step, its input
projection included, in one ``jax.checkpoint``, so that the backward pass keeps only the inputs
and the carries and not the ``(T, B, 4H)`` projection, ``3H`` for the GRU; see ``run_scan``).
"""

from __future__ import annotations

import functools
import hashlib
import json
import pathlib
import platform
import subprocess
from collections.abc import Callable, Sequence
from typing import Any

import jax
import optax
from flax import nnx

from gru_lstm_jax import get_cell, recurrence
from gru_lstm_jax.bench.options import import_modules
from gru_lstm_jax.bench.runner import run_worker_process
from gru_lstm_jax.models import Forecaster
from gru_lstm_jax.training import get_objective, make_steps

CONFIGURATIONS = ("none", "remat")
GIB = 2**30
MIB = 2**20


def _status_kib(field: str) -> int:
    """A ``kB`` field of ``/proc/self/status`` (``VmRSS``, ``VmHWM``) in KiB."""
    for line in pathlib.Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    raise RuntimeError(f"/proc/self/status has no {field} field")


def measure(cell_name: str, configuration: str, sizes: dict[str, int], seed: int) -> dict:
    """Compiles and runs one train step in this process and measures its memory.

    Args:
        cell_name: ``"lstm"`` or ``"gru"`` (any registered cell).
        configuration: one of :data:`CONFIGURATIONS`.
        sizes: ``batch_size``, ``time_steps``, ``input_size``, ``hidden_size``.
        seed: seed of the parameters and the batch.

    Returns:
        A JSON-ready dict: the configuration, XLA's compiled memory analysis (bytes), the RSS
        before and at the peak of the step (bytes), and the step's loss and gradient norm.

    Raises:
        ValueError: for an unknown configuration.
    """
    if configuration not in CONFIGURATIONS:
        raise ValueError(
            f"configuration must be one of {list(CONFIGURATIONS)}; got {configuration!r}"
        )
    batch_size, time_steps = sizes["batch_size"], sizes["time_steps"]
    input_size, hidden_size = sizes["input_size"], sizes["hidden_size"]
    model = Forecaster(
        cell_name, input_size, [hidden_size], remat=configuration == "remat", rngs=nnx.Rngs(seed)
    )
    steps = make_steps(
        model, optax.adam(1e-3), get_objective("regression"), jax.random.key(seed + 1)
    )
    state = steps.init_state()
    k_inputs, k_targets = jax.random.split(jax.random.key(seed + 2))
    batch = {
        "inputs": jax.random.normal(k_inputs, (batch_size, time_steps, input_size)),
        "targets": jax.random.normal(k_targets, (batch_size, 1)),
    }
    compiled = steps.train_step.lower(state, batch).compile()
    analysis = compiled.memory_analysis()
    compiled_bytes = {
        "temp": analysis.temp_size_in_bytes,
        "argument": analysis.argument_size_in_bytes,
        "output": analysis.output_size_in_bytes,
        "alias": analysis.alias_size_in_bytes,
    }
    compiled_bytes["total"] = (
        compiled_bytes["temp"]
        + compiled_bytes["argument"]
        + compiled_bytes["output"]
        - compiled_bytes["alias"]
    )
    jax.block_until_ready((state, batch))
    rss_before = _status_kib("VmRSS") * 1024
    # Writing 5 resets VmHWM to the current RSS (Linux >= 4.0), so the peak read after the step
    # is the step's, not compilation's.
    pathlib.Path("/proc/self/clear_refs").write_text("5")
    _, metrics = compiled(state, batch)
    metrics = jax.device_get(metrics)
    rss_peak = _status_kib("VmHWM") * 1024
    return {
        "cell": cell_name,
        "configuration": configuration,
        **sizes,
        "compiled_bytes": compiled_bytes,
        "rss_bytes": {"before_step": rss_before, "peak_during_step": rss_peak},
        "loss": float(metrics["loss"]),
        "grad_norm": float(metrics["grad_norm"]),
    }


def markdown_table(results: list[dict]) -> str:
    """The results as a markdown table, memory in MiB."""
    lines = [
        "| cell | configuration | compiled temp | compiled total | under 2 GiB | RSS before step "
        "| RSS peak during step | RSS increase |",
        "|---|---|---:|---:|---|---:|---:|---:|",
    ]
    for r in results:
        compiled, rss = r["compiled_bytes"], r["rss_bytes"]
        increase = rss["peak_during_step"] - rss["before_step"]
        under = "yes" if compiled["total"] < 2 * GIB else "no"
        lines.append(
            f"| {r['cell']} | {r['configuration']} | {compiled['temp'] / MIB:,.0f} MiB "
            f"| {compiled['total'] / MIB:,.0f} MiB | {under} "
            f"| {rss['before_step'] / MIB:,.0f} MiB | {rss['peak_during_step'] / MIB:,.0f} MiB "
            f"| {increase / MIB:,.0f} MiB |"
        )
    return "\n".join(lines)


def measure_all(
    cells: Sequence[str],
    configurations: Sequence[str],
    sizes: dict[str, int],
    *,
    seed: int = 0,
    imports: Sequence[str] = (),
    run: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Checks the options, then measures each cell and configuration (:func:`measure`) in a worker.

    Args:
        cells: registered cell names (with ``imports``, one's own).
        configurations: names from :data:`CONFIGURATIONS`.
        sizes: ``batch_size``, ``time_steps``, ``input_size``, ``hidden_size``, all positive.
        seed: seed of the parameters and the batch.
        imports: modules that register cells of one's own, imported here and in every worker.
        run: runs one worker spec and returns its result (default: in its own process, with
            no time limit).
        log: receives one line per measurement.

    Returns:
        What ``memory.json`` holds: the step, ``sizes``, ``seed``, the JAX version and backend,
        the machine, the git commit, a hash of ``gru_lstm_jax/recurrence/__init__.py`` and the
        ``results`` of :func:`measure`, one per cell and configuration.

    Raises:
        ValueError: naming the option, before any worker starts, for a size that is not
            positive, a module that cannot be imported, an unknown configuration or cell.
    """
    for name, value in sizes.items():
        if value <= 0:
            raise ValueError(f"--{name} must be positive; got {value}")
    imports = import_modules(imports)
    unknown = sorted(set(configurations) - set(CONFIGURATIONS))
    if unknown or not configurations:
        raise ValueError(f"--configurations must be among {list(CONFIGURATIONS)}; got {unknown}")
    for cell_name in cells or [""]:  # no cell: get_cell's error lists the registered ones
        try:
            get_cell(cell_name)
        except ValueError as error:
            raise ValueError(f"--cells: {error}") from None
    run = run or functools.partial(run_worker_process, timeout_s=None)
    results = []
    for cell_name in cells:
        for configuration in configurations:
            spec = {"kind": "memory", "cell": cell_name, "configuration": configuration}
            spec |= {"sizes": sizes, "seed": seed, "imports": list(imports)}
            result = run(spec)
            results.append(result)
            log(
                f"{cell_name} {configuration}: compiled "
                f"{result['compiled_bytes']['total'] / MIB:,.0f} MiB, "
                f"RSS peak {result['rss_bytes']['peak_during_step'] / MIB:,.0f} MiB"
            )
    here = pathlib.Path(__file__).resolve().parent
    git_head = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=here, capture_output=True, text=True, check=False
    ).stdout.strip()
    return {
        "step": "Forecaster(cell, I, [H]) -> Linear(1), MSE, value_and_grad, optax.adam(1e-3)",
        "sizes": sizes,
        "seed": seed,
        "jax_version": jax.__version__,
        "backend": jax.default_backend(),
        "machine": platform.machine(),
        "git_head": git_head,
        # One hash of every module of the recurrence package, in name order.
        "recurrence_sha256": hashlib.sha256(
            b"".join(
                path.read_bytes()
                for path in sorted(pathlib.Path(recurrence.__file__).parent.glob("*.py"))
            )
        ).hexdigest(),
        "results": results,
    }


def render_memory(report: dict[str, Any]) -> str:
    """``memory.md``'s text: the step's sizes and backend, then :func:`markdown_table`."""
    sizes = report["sizes"]
    header = (
        f"One train step, B = {sizes['batch_size']}, T = {sizes['time_steps']:,}, "
        f"I = {sizes['input_size']}, H = {sizes['hidden_size']}, float32, "
        f"{report['backend']} (jax {report['jax_version']}).\n\n"
    )
    return header + markdown_table(report["results"]) + "\n"


def write_memory(report: dict[str, Any], workdir: pathlib.Path) -> tuple[pathlib.Path, ...]:
    """Writes ``memory.json`` and ``memory.md`` (:func:`render_memory`) into ``workdir``."""
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "memory.json").write_text(json.dumps(report, indent=2) + "\n")
    (workdir / "memory.md").write_text(render_memory(report))
    return workdir / "memory.json", workdir / "memory.md"
