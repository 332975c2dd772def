"""Peak memory of one training step on a long sequence, with and without ``remat``.

The step is the project's own jitted train step (``gru_lstm_jax.training.make_steps``) on a
``Forecaster``: one recurrent layer (LSTM or GRU) over ``(B, T, I)`` inputs, its last output ->
``Linear(1)`` -> mean squared error, gradients, and an Adam update. Each configuration runs in a
fresh subprocess and is measured twice:

- **compiled**: XLA's memory analysis of the compiled step (``compile().memory_analysis()``):
  temporaries + arguments + outputs - the donated (aliased) bytes, i.e. what the step needs
  while it runs.
- **RSS**: the process's resident set around one actual execution of the step. The peak is
  reset (``/proc/self/clear_refs``) after compilation and after the inputs exist, so ``VmHWM``
  is the peak during the step; the table also gives the increase over the RSS just before it.

Configurations: ``none`` (``remat=False``: ``run_scan``'s default, the fused recurrence for these
cells) and ``remat`` (``remat=True``: the reference scan with every step, its input projection
included, in one ``jax.checkpoint``, so that the backward pass keeps only the inputs and the
carries and not the ``(T, B, 4H)`` projection, ``3H`` for the GRU; see ``run_scan``).

Usage (from the repository root)::

    python experiments/long_sequence_memory.py --workdir runs/memory
    PYTHONPATH=. python experiments/long_sequence_memory.py --import my_cells --cells my_cell

It writes ``memory.json`` and ``memory.md`` to ``--workdir`` and prints the table. At the
default size (B = 16, T = 10,000, I = 32, H = 256) it took 1.5 minutes on this project's 2-core
CPU (shared with other jobs) and needs 3 GB of RAM (the GRU without remat peaks at 2.7 GB RSS).
With remat the step needs 669 MiB compiled (LSTM) and 511 MiB (GRU), against 2,075 and
2,230 MiB without.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import pathlib
import platform
import subprocess
import sys

import jax
import optax
from flax import nnx

from gru_lstm_jax import get_cell, recurrence
from gru_lstm_jax.models import Forecaster
from gru_lstm_jax.training import get_objective, import_cell_modules, make_steps

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


def _run_worker(spec: str, sizes: dict[str, int], seed: int, imports: tuple[str, ...]) -> dict:
    """Runs :func:`measure` for ``spec`` (``"cell:configuration"``) in a fresh subprocess."""
    args = [f"--{name}={value}" for name, value in sizes.items()]
    args += [f"--import={name}" for name in imports]
    command = [sys.executable, __file__, f"--worker={spec}", f"--seed={seed}", *args]
    completed = subprocess.run(command, capture_output=True, text=True, check=False)
    if completed.returncode != 0:
        raise RuntimeError(f"measuring {spec} failed:\n{completed.stderr[-4000:]}")
    return json.loads(completed.stdout.strip().splitlines()[-1])


def _file_sha256(path: pathlib.Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


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


def make_parser() -> argparse.ArgumentParser:
    """The command line of this script."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", default="runs/memory", help="folder for the results")
    parser.add_argument("--cells", default="lstm,gru", help="comma-separated cells to measure")
    parser.add_argument(
        "--import",
        dest="imports",
        action="append",
        default=[],
        metavar="MODULE",
        help="a module that registers cells of one's own (repeatable, or comma-separated)",
    )
    parser.add_argument(
        "--configurations",
        default=",".join(CONFIGURATIONS),
        help=f"comma-separated, among {', '.join(CONFIGURATIONS)}",
    )
    parser.add_argument("--batch_size", type=int, default=16, help="B")
    parser.add_argument("--time_steps", type=int, default=10_000, help="T")
    parser.add_argument("--input_size", type=int, default=32, help="I")
    parser.add_argument("--hidden_size", type=int, default=256, help="H")
    parser.add_argument("--seed", type=int, default=0, help="seed of the parameters and batch")
    # Internal: measure one "cell:configuration" in this process and print it as JSON.
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    return parser


def main(argv: list[str] | None = None) -> None:
    parser = make_parser()
    args = parser.parse_args(argv)
    sizes = {
        "batch_size": args.batch_size,
        "time_steps": args.time_steps,
        "input_size": args.input_size,
        "hidden_size": args.hidden_size,
    }
    for name, value in sizes.items():
        if value <= 0:
            parser.error(f"--{name} must be positive; got {value}")
    try:
        imports = import_cell_modules(args.imports, "--import")
    except ValueError as error:
        parser.error(str(error))
    if args.worker is not None:
        cell_name, configuration = args.worker.split(":")
        print(json.dumps(measure(cell_name, configuration, sizes, args.seed)))
        return
    cells = args.cells.split(",")
    configurations = args.configurations.split(",")
    unknown = sorted(set(configurations) - set(CONFIGURATIONS))
    if unknown:
        parser.error(f"--configurations must be among {list(CONFIGURATIONS)}; got {unknown}")
    for cell_name in cells:
        try:
            get_cell(cell_name)
        except ValueError as error:  # an unknown name fails here, before any subprocess starts
            parser.error(f"--cells: {error}")
    results = []
    for cell_name in cells:
        for configuration in configurations:
            result = _run_worker(f"{cell_name}:{configuration}", sizes, args.seed, imports)
            results.append(result)
            print(
                f"{cell_name} {configuration}: compiled "
                f"{result['compiled_bytes']['total'] / MIB:,.0f} MiB, "
                f"RSS peak {result['rss_bytes']['peak_during_step'] / MIB:,.0f} MiB",
                flush=True,
            )
    repo = pathlib.Path(__file__).resolve().parent.parent
    git_head = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True, text=True, check=False
    ).stdout.strip()
    report = {
        "step": "Forecaster(cell, I, [H]) -> Linear(1), MSE, value_and_grad, optax.adam(1e-3)",
        "sizes": sizes,
        "seed": args.seed,
        "jax_version": jax.__version__,
        "backend": jax.default_backend(),
        "machine": platform.machine(),
        "git_head": git_head,
        "recurrence_py_sha256": _file_sha256(pathlib.Path(recurrence.__file__)),
        "results": results,
    }
    table = markdown_table(results)
    workdir = pathlib.Path(args.workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "memory.json").write_text(json.dumps(report, indent=2) + "\n")
    header = (
        f"One train step, B = {sizes['batch_size']}, T = {sizes['time_steps']:,}, "
        f"I = {sizes['input_size']}, H = {sizes['hidden_size']}, float32, "
        f"{jax.default_backend()} (jax {jax.__version__}).\n\n"
    )
    (workdir / "memory.md").write_text(header + table + "\n")
    print(header + table)
    print(f"written: {workdir / 'memory.json'}, {workdir / 'memory.md'}")


if __name__ == "__main__":
    main()
