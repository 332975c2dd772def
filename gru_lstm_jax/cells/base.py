"""The cell protocol and the registry of cells by name.

A cell is a frozen bundle of four pure functions over plain pytrees (see ``DESIGN.md``):

- ``init(key, input_size, hidden_size) -> params``: a dict of arrays.
- ``initial_carry(batch_shape, hidden_size) -> carry``: zeros, a NamedTuple.
- ``project(params, xs) -> xp``: the input-side work for every time step at once, each step
  on its own, ``xs`` of shape ``(*batch, T, input_size)``; a cell without such a split returns
  ``xs``.
- ``step(params, carry, xp_t) -> (carry, h_t)``: one time step, with the ``lax.scan`` signature.

A cell may also offer ``gates(params, carry, xp_t) -> {name: gate values}``, the gate
activations of the step that ``step`` would take, for the gate statistics of the analysis, and a
:class:`SplitStep`: its step split around the matrix products, which lets the recurrence run the
cell with one large matrix product per weight over all time steps instead of one per step (the
fused recurrence of ``gru_lstm_jax.recurrence``). A cell without one runs the reference scan.

The recurrence (``gru_lstm_jax.recurrence``), every layer, wrapper, trainer and analysis accept
any :class:`Cell`, so a new cell needs nothing but these functions.
"""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Callable
from typing import Any, NamedTuple

__all__ = [
    "Cell",
    "SplitStep",
    "SplitWeights",
    "available_cells",
    "cell_option_names",
    "get_cell",
    "register_cell",
]


class SplitWeights(NamedTuple):
    """The weights of a :class:`SplitStep`, taken out of a cell's parameters.

    Attributes:
        kernel: ``W`` ``(input_size, K)``; the input projection is ``xp_t = x_t @ W + b``.
        bias: ``b`` ``(K,)``.
        recurrent_kernel: ``U`` ``(H, K_h)``; the recurrent product is ``hp_t = h @ U + b_h``
            with ``h`` the ``h`` field of the carry before the step.
        recurrent_bias: ``b_h`` ``(K_h,)``, or ``None`` for none.
        inner: any further weights the step uses inside (a pytree, e.g. the candidate kernel of
            Cho et al.'s GRU, which multiplies ``r * h``), or ``None``.
    """

    kernel: Any
    bias: Any
    recurrent_kernel: Any
    recurrent_bias: Any = None
    inner: Any = None


@dataclasses.dataclass(frozen=True)
class SplitStep:
    """A cell's step split around its matrix products (an optional part of the cell protocol).

    With ``w = weights(params)``, ``xp_t = x_t @ w.kernel + w.bias`` (the cell's ``project``) and
    ``hp_t = carry.h @ w.recurrent_kernel + w.recurrent_bias``, the step must satisfy
    ``step(params, carry, xp_t) == (new, new.h)`` with ``new = forward(w.inner, carry, xp_t,
    hp_t)[0]``. The fused recurrence computes every ``xp_t`` with one matrix product, runs only
    ``forward`` and ``hp_t`` in its time loop, and differentiates through ``tangent``; the
    gradients of ``W`` and ``U`` then come out of one matrix product each over all ``T * B``
    rows, as cuDNN does, instead of one small product per step.

    Attributes:
        step: the :attr:`Cell.step` this split describes; a cell whose ``step`` was replaced
            (e.g. wrapped for recurrent dropout) no longer matches it and runs the reference scan.
        weights: ``weights(params) -> SplitWeights``.
        forward: ``forward(inner, carry, xp_t, hp_t) -> (new_carry, saved_t, extra_t)``:
            ``saved_t`` is ``None`` or an array shaped like ``xp_t`` (e.g. the gate activations)
            that the recurrence stores in place of ``xp_t``; ``extra_t`` is ``None`` or a pytree
            of arrays ``(B, ...)`` that it stores per step. Both go to ``tangent``. Compute
            ``saved_t`` from everything the step reads of ``xp_t`` (as activations are): XLA
            overwrites ``xp_t`` in place only after all its readers, and copies the whole buffer
            at every step when a reader does not lead to ``saved_t``.
        tangent: ``tangent(inner, d_inner, saved_t, extra_t, prev, new, d_prev, d_xp, d_hp) ->
            d_new``: the derivative of ``forward``'s new carry at the step from carry ``prev``
            to ``new``, linear in ``(d_inner, d_prev, d_xp, d_hp)``; ``d_inner`` is ``None``
            where the inner weights are not differentiated. Reverse mode transposes it, so it
            should cut its linear inputs with ``jnp.split`` (whose transpose is a concatenation)
            rather than with slices (whose transpose pads).
        additive: whether ``forward`` depends on ``xp_t`` and ``hp_t`` only through their sum
            (then ``K == K_h`` and ``tangent`` gets ``d_xp + d_hp`` as ``d_xp`` and ``None`` as
            ``d_hp``).
        blocks: the number of equal column blocks (the gates) in which ``forward`` and
            ``tangent`` read ``xp_t`` and ``saved_t``; it must divide ``K``. The recurrence
            reads each block of a step with its own slice, and a step that splits ``xp_t`` (or
            ``saved_t``) into these blocks before any arithmetic on it lets XLA vectorise the
            gate math (on CPU the wide GRU's forward gate math ran 4-6x faster than when it read
            one ``(B, K)`` row and split it). ``1`` reads the row whole. The results are the
            same for any valid value.
    """

    step: Callable[..., tuple[Any, Any]]
    weights: Callable[[Any], SplitWeights]
    forward: Callable[..., tuple[Any, Any, Any]]
    tangent: Callable[..., Any]
    additive: bool = False
    blocks: int = 1


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
            ``(*batch_shape, T, ...)``; time step ``t`` of ``xp`` depends only on time step
            ``t`` of ``xs`` (``run_scan`` with ``remat=True`` projects one step at a time).
        step: ``step(params, carry, xp_t) -> (carry, h_t)`` where ``xp_t`` is one time slice of
            ``xp`` and ``h_t`` has shape ``(*batch_shape, hidden_size)``.
        gates: optional ``gates(params, carry, xp_t) -> dict[str, array]``: the activations of
            each gate (values in ``[0, 1]``, shape ``(*batch, H)``) at the step ``step`` would
            take from ``carry``; ``None`` for a cell without gates.
        split: optional :class:`SplitStep` of ``step`` for the fused recurrence; ``None`` for a
            cell that runs only the reference scan.
    """

    name: str
    init: Callable[..., dict[str, Any]]
    initial_carry: Callable[..., Any]
    project: Callable[..., Any]
    step: Callable[..., tuple[Any, Any]]
    gates: Callable[..., dict[str, Any]] | None = None
    split: SplitStep | None = None


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
