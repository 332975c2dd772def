"""The cell protocol and the registry of cells by name.

A cell is a frozen bundle of four pure functions over plain pytrees (see ``DESIGN.md``):

- ``init(key, input_size, hidden_size) -> params``: a dict of arrays.
- ``initial_carry(batch_shape, hidden_size) -> carry``: zeros, a NamedTuple.
- ``project(params, xs) -> xp``: the input-side work for every time step at once,
  ``xs`` of shape ``(*batch, T, input_size)``; a cell without such a split returns ``xs``.
- ``step(params, carry, xp_t) -> (carry, h_t)``: one time step, with the ``lax.scan`` signature.

A cell may also offer ``gates(params, carry, xp_t) -> {name: gate values}``, the gate
activations of the step that ``step`` would take, for the gate statistics of the analysis.

The recurrence (``gru_lstm_jax.recurrence``), every layer, wrapper, trainer and analysis accept
any :class:`Cell`, so a new cell needs nothing but these functions.
"""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Callable
from typing import Any

__all__ = ["Cell", "available_cells", "cell_option_names", "get_cell", "register_cell"]


@dataclasses.dataclass(frozen=True)
class Cell:
    """A recurrent cell: a name and the four pure functions of the cell protocol.

    Cells are compared by value (their name and functions), so two cells built from the same
    functions are equal and a jitted function that takes a cell as a static argument does not
    retrace for an equal cell.

    Attributes:
        name: a human-readable name, e.g. ``"lstm"``.
        init: ``init(key, input_size, hidden_size) -> params`` (a dict of arrays).
        initial_carry: ``initial_carry(batch_shape, hidden_size) -> carry``; ``batch_shape`` is a
            tuple (``()`` for one unbatched sequence); every leaf of the carry has shape
            ``(*batch_shape, ...)``.
        project: ``project(params, xs) -> xp`` with ``xs`` of shape
            ``(*batch_shape, T, input_size)`` and every leaf of ``xp`` of shape
            ``(*batch_shape, T, ...)``.
        step: ``step(params, carry, xp_t) -> (carry, h_t)`` where ``xp_t`` is one time slice of
            ``xp`` and ``h_t`` has shape ``(*batch_shape, hidden_size)``.
        gates: optional ``gates(params, carry, xp_t) -> dict[str, array]``: the activations of
            each gate (values in ``[0, 1]``, shape ``(*batch, H)``) at the step ``step`` would
            take from ``carry``; ``None`` for a cell without gates.
    """

    name: str
    init: Callable[..., dict[str, Any]]
    initial_carry: Callable[..., Any]
    project: Callable[..., Any]
    step: Callable[..., tuple[Any, Any]]
    gates: Callable[..., dict[str, Any]] | None = None


_REGISTRY: dict[str, Callable[..., Cell]] = {}


def register_cell(name: str, factory: Callable[..., Cell], *, overwrite: bool = False) -> None:
    """Registers a cell factory under ``name`` so that configs and layers can name the cell.

    Example:
        >>> def my_cell():
        ...     return Cell("my_rnn", my_init, my_initial_carry, my_project, my_step)
        >>> register_cell("my_rnn", my_cell)       # doctest: +SKIP
        >>> get_cell("my_rnn")                     # doctest: +SKIP

    Args:
        name: the name, e.g. ``"my_rnn"``.
        factory: a callable that takes keyword options (possibly none) and returns a
            :class:`Cell`. It should return equal cells for equal options.
        overwrite: allow replacing a registered name.

    Raises:
        ValueError: if ``name`` is empty or already registered and ``overwrite`` is False.
    """
    if not isinstance(name, str) or not name:
        raise ValueError(f"name must be a non-empty string; got {name!r}")
    if name in _REGISTRY and not overwrite:
        raise ValueError(f"a cell named {name!r} is already registered; pass overwrite=True")
    _REGISTRY[name] = factory


def available_cells() -> tuple[str, ...]:
    """Returns the registered cell names, sorted."""
    return tuple(sorted(_REGISTRY))


def cell_option_names(name: str) -> tuple[str, ...]:
    """The keyword options that the factory of the registered cell ``name`` takes.

    Raises:
        ValueError: for an unknown name.
    """
    if name not in _REGISTRY:
        raise ValueError(f"cell must be one of the registered names {list(available_cells())}")
    return tuple(inspect.signature(_REGISTRY[name]).parameters)


def get_cell(cell: str | Cell, **options: Any) -> Cell:
    """Returns a :class:`Cell` given its registered name (and factory options) or a cell.

    Args:
        cell: a registered name such as ``"lstm"``, ``"gru"``, ``"gru_reset_before"``, ``"rnn"``,
            or a :class:`Cell`, which is returned unchanged.
        **options: keyword options for the factory, e.g. ``gate_activation=jax.nn.hard_sigmoid``.

    Returns:
        The cell.

    Raises:
        ValueError: for an unknown name, options the factory does not take, or options given
            together with a :class:`Cell`.
    """
    if isinstance(cell, Cell):
        if options:
            raise ValueError(
                f"cell options {sorted(options)} can only be used with a registered cell name"
            )
        return cell
    if not isinstance(cell, str) or cell not in _REGISTRY:
        raise ValueError(
            f"cell must be a Cell or one of the registered names {list(available_cells())}; "
            f"got {cell!r}"
        )
    factory = _REGISTRY[cell]
    try:
        inspect.signature(factory).bind(**options)
    except TypeError as error:
        raise ValueError(f"invalid options {sorted(options)} for cell {cell!r}: {error}") from None
    return factory(**options)
