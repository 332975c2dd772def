"""What a benchmark run times: :class:`Options`, checked and resolved from command-line values."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from gru_lstm_jax.bench.impls import LIBRARY_CELLS
from gru_lstm_jax.bench.registry import available_impls, default_impls, get_impl, implements
from gru_lstm_jax.bench.workloads import DEFAULT_WORKLOADS, WORKLOADS

DEFAULTS = {"rounds": 3, "repeats": 20, "warmup": 3}
QUICK = {"rounds": 1, "repeats": 3, "warmup": 1}


@dataclasses.dataclass(frozen=True)
class Options:
    """What to benchmark.

    Attributes:
        workloads: names from ``gru_lstm_jax.bench.workloads.WORKLOADS``.
        cells: registered cell names.
        impls: registered implementations; a cell runs with those that implement it
            (:meth:`impls_for`).
        rounds: interleaved rounds.
        repeats: timed steps per worker.
        warmup: untimed steps per worker after the first (compiling) one.
        peak_size: the peak matmul's size ``n`` (``n x n`` by ``n x n``); ``None`` chooses by
            device (``gru_lstm_jax.bench.timing.PEAK_SIZE``).
        notes: what was skipped and why.
        shared_process: time all implementations of a workload and cell in one process,
            alternating blocks of ``repeats`` steps, instead of one process per worker.
        imports: modules that register cells or implementations of one's own, imported by
            every worker.
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


def parse_names(value: Sequence[str], option: str, allowed: Sequence[str]) -> tuple[str, ...]:
    """Checks the names of a comma-separated option.

    Args:
        value: the option's names, e.g. ``["sine", "wide"]``.
        option: the option's name for the error message, e.g. ``"--workloads"``.
        allowed: the valid names.

    Returns:
        The names in the given order, without blanks and duplicates.

    Raises:
        ValueError: naming ``option``, the bad names and the allowed values.
    """
    names = tuple(dict.fromkeys(name.strip() for name in value if name.strip()))
    unknown = [name for name in names if name not in allowed]
    if unknown or not names:
        raise ValueError(
            f"{option} must be a comma-separated list of {list(allowed)}; got {','.join(value)!r}"
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
    """Imports the modules of ``--import`` (a user's cells or implementations) in this process.

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


def make_options(
    *,
    torch_available: bool,
    workloads: Sequence[str] = DEFAULT_WORKLOADS,
    cells: Sequence[str] = LIBRARY_CELLS,
    impls: Sequence[str] | None = None,
    imports: Sequence[str] = (),
    rounds: int | None = None,
    repeats: int | None = None,
    warmup: int | None = None,
    peak_size: int | None = None,
    quick: bool = False,
    shared_process: bool = False,
) -> Options:
    """Checks the command line's values, imports ``--import``'s modules, resolves the defaults.

    Args are the flags' values; ``None`` for a count or ``impls`` asks for its default
    (:data:`DEFAULTS`, or :data:`QUICK` with ``quick``). ``torch_available``: whether PyTorch
    is importable.

    Returns:
        :class:`Options`. Without ``impls``, the default ones that can run; a missing PyTorch
        is then recorded in ``notes``, as are cells that some implementations do not have
        (their rows are left out).

    Raises:
        ValueError: for unknown names or counts out of range (the message names the option and
            the allowed values), a module of ``--import`` that cannot be imported, a cell that
            none of the implementations has, or a PyTorch implementation requested without
            PyTorch.
    """
    from gru_lstm_jax import available_cells

    notes: list[str] = []
    imports = import_modules(imports)
    if impls is None:
        impls = tuple(i for i in default_impls() if torch_available or not get_impl(i).needs_torch)
        if not torch_available:
            notes.append('PyTorch is not importable, so it was skipped (pip install -e ".[bench]")')
    else:
        impls = parse_names(impls, "--impls", available_impls())
        wanted = [impl for impl in impls if get_impl(impl).needs_torch]
        if wanted and not torch_available:
            raise ValueError(
                f"--impls includes {wanted[0]} but PyTorch is not importable; install it with "
                'pip install -e ".[bench]"'
            )
    if peak_size is not None and peak_size < 1:
        raise ValueError(f"--peak_size must be a positive integer; got {peak_size}")
    cells = parse_names(cells, "--cells", available_cells())
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
        workloads=parse_names(workloads, "--workloads", tuple(WORKLOADS)),
        cells=cells,
        impls=impls,
        rounds=_count(rounds, "rounds", quick, 1),
        repeats=_count(repeats, "repeats", quick, 1),
        warmup=_count(warmup, "warmup", quick, 0),
        peak_size=peak_size,
        shared_process=shared_process,
        notes=tuple(notes),
        imports=imports,
    )
