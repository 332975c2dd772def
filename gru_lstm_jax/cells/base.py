"""The cell protocol (:class:`Cell`), :func:`matmul`, and the registry of cells by name.

A cell states its equations once, as a frozen bundle of pure functions over plain pytrees (see
``DESIGN.md`` and :class:`Cell`). Everything else is derived from them: the plain step
(:meth:`Cell.step`), the gates (:meth:`Cell.gates`), and in :mod:`gru_lstm_jax.recurrence` the
fused recurrence with its derivative (from ``jax.linearize`` of ``update``), recurrent dropout
(:func:`recurrent_dropout`), resets, mixed precision and the gradient-flow perturbation. Every
layer, wrapper, trainer and analysis accepts any :class:`Cell`.
"""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp

__all__ = [
    "Cell",
    "available_cells",
    "cell_option_names",
    "get_cell",
    "input_projection",
    "matmul",
    "recurrent_dropout",
    "recurrent_kernel",
    "register_cell",
]


def matmul(x: jax.Array, w: jax.Array) -> jax.Array:
    """``x @ w`` with operands in ``w``'s dtype and a result of at least float32.

    A bfloat16 ``w`` (mixed precision) gets bfloat16 operands and a float32 result: XLA
    accumulates in float32, and the products of bfloat16 values are exact in float32. With a
    float32 or float64 ``w`` and an ``x`` no wider, it is exactly ``x @ w``.

    Args:
        x: ``(..., K)``.
        w: ``(K, N)``.

    Returns:
        ``(..., N)`` in ``promote_types(w.dtype, float32)``.
    """
    accumulation = jnp.promote_types(w.dtype, jnp.float32)
    return jnp.matmul(x.astype(w.dtype), w, preferred_element_type=accumulation)


def recurrent_dropout(carry: Any, mask: jax.Array | None, has_kernel: bool) -> tuple[Any, Any]:
    """Applies a recurrent-dropout mask: the carry ``update`` reads, and the ``h`` of ``h @ U``.

    Recurrent dropout (Gal & Ghahramani 2016, as Keras applies it) drops units of ``h`` where
    ``h`` feeds the recurrent weights: a cell with a recurrent kernel gets ``(h * mask) @ U``
    and reads its carried state undropped (the GRU's ``z * h``), so the mask never compounds
    over steps. A cell without one (IndRNN, minGRU) reads ``h`` only in ``update``, and gets
    ``h * mask`` there.

    Args:
        carry: the carry entering a step, with ``h`` ``(*batch, H)``.
        mask: ``(*batch, H)``, or ``None`` for no dropout.
        has_kernel: whether the cell has a recurrent kernel.

    Returns:
        ``(the carry update reads, the h that multiplies the recurrent kernel)``.
    """
    if mask is None:
        return carry, carry.h
    if has_kernel:
        return carry, carry.h * mask
    carry = carry._replace(h=carry.h * mask)
    return carry, carry.h


def input_projection(params: dict[str, Any], xs: jax.Array) -> jax.Array:
    """``matmul(xs, kernel) + bias``: the ``project`` of the built-in cells.

    ``xs`` ``(*batch, T, I)`` and ``params["kernel"]`` ``(I, K)`` give ``(*batch, T, K)``.
    """
    return matmul(xs, params["kernel"]) + params["bias"]


def recurrent_kernel(params: dict[str, Any]) -> jax.Array:
    """``params["recurrent_kernel"]``: the ``recurrent_kernel`` of the built-in cells."""
    return params["recurrent_kernel"]


@dataclasses.dataclass(frozen=True)
class Cell:
    """A recurrent cell: a name and the pure functions of the cell protocol.

    A cell takes every matrix product with :func:`matmul`, so that it runs in the weights' dtype
    (a layer with ``compute_dtype=jnp.bfloat16`` hands it bfloat16 matrices). Cells are compared
    by value (their name and functions), so a jitted function that takes a cell as a static
    argument does not retrace for an equal cell.

    Attributes:
        name: a human-readable name, e.g. ``"lstm"``.
        init: ``init(key, input_size, hidden_size) -> params`` (a dict of arrays).
        initial_carry: ``initial_carry(batch_shape, hidden_size) -> carry``, zeros;
            ``batch_shape`` is a tuple (``()`` for one unbatched sequence); the carry is a
            NamedTuple with an ``h`` field ``(*batch_shape, H)``, the hidden state that the
            recurrent weights multiply, every leaf of shape ``(*batch_shape, ...)``.
        project: ``project(params, xs) -> xp``, the input-side work for every step at once
            (e.g. ``matmul(xs, W) + b``), with ``xs`` of shape ``(*batch_shape, T, input_size)``
            and every leaf of ``xp`` of shape ``(*batch_shape, T, ...)``; time step ``t`` of
            ``xp`` depends only on time step ``t`` of ``xs``.
        update: ``update(params, carry, xp_t, hp_t) -> (carry, h_t)`` or
            ``(carry, h_t, gates)``: the rest of one step, with ``xp_t`` one time slice of
            ``xp``, ``hp_t`` the recurrent product ``carry.h @ recurrent_kernel(params)``
            (``None`` without a recurrent kernel), ``h_t`` ``(*batch_shape, H)`` and ``gates``
            an optional dict of named gate values ``(*batch_shape, H)`` in ``[0, 1]`` for the
            analysis. A step with a second, staged product of a gated ``h`` (Cho et al.'s GRU,
            ``(r * h) @ U_n``) computes it here from ``params``.
        recurrent_kernel: ``recurrent_kernel(params) -> U`` ``(H, K)``, the weights that
            multiply ``h`` at every step, or ``None`` for a cell without such a product (e.g.
            IndRNN's elementwise recurrence).
    """

    name: str
    init: Callable[..., dict[str, Any]]
    initial_carry: Callable[..., Any]
    project: Callable[..., Any]
    update: Callable[..., tuple[Any, ...]]
    recurrent_kernel: Callable[[Any], jax.Array] | None = None

    def recurrent_product(self, params: Any, h: jax.Array) -> jax.Array | None:
        """``h @ recurrent_kernel(params)`` ``(*batch, K)``, or ``None`` without a kernel."""
        return None if self.recurrent_kernel is None else matmul(h, self.recurrent_kernel(params))

    def step(
        self, params: Any, carry: Any, xp_t: Any, recurrent_mask: jax.Array | None = None
    ) -> tuple[Any, jax.Array]:
        """One time step: ``(carry, xp_t) -> (carry, h_t)``, the ``lax.scan`` signature.

        Args:
            params: the cell's parameters.
            carry: the carry before the step, leaves ``(*batch, ...)``.
            xp_t: the step's slice of ``project(params, xs)``.
            recurrent_mask: an optional recurrent-dropout mask ``(*batch, H)``, applied as
                :func:`recurrent_dropout` says.

        Returns:
            ``(carry after the step, h_t (*batch, H))``.
        """
        carry, h_in = recurrent_dropout(carry, recurrent_mask, self.recurrent_kernel is not None)
        new_carry, h, *_ = self.update(params, carry, xp_t, self.recurrent_product(params, h_in))
        return new_carry, h

    def gates(self, params: Any, carry: Any, xp_t: Any) -> dict[str, jax.Array]:
        """The named gate values of the step :meth:`step` takes; ``{}`` for a cell without.

        Args:
            params: the cell's parameters.
            carry: the carry before the step, leaves ``(*batch, ...)``.
            xp_t: the step's slice of ``project(params, xs)``.

        Returns:
            ``{name: (*batch, H)}``.
        """
        result = self.update(params, carry, xp_t, self.recurrent_product(params, carry.h))
        return dict(result[2]) if len(result) > 2 else {}


_REGISTRY: dict[str, Callable[..., Cell]] = {}


def register_cell(name: str, factory: Callable[..., Cell], *, overwrite: bool = False) -> None:
    """Registers a cell factory under ``name`` so that configs and layers can name the cell.

    Example:
        >>> def my_cell():
        ...     return Cell("my_rnn", my_init, my_initial_carry, my_project, my_update)
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
        TypeError: for a non-bool value of an option whose default is a bool (``"false"`` is
            not False), or an activation that is not a function.
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
    signature = inspect.signature(factory)
    try:
        signature.bind(**options)
    except TypeError as error:
        raise ValueError(f"invalid options {sorted(options)} for cell {cell!r}: {error}") from None
    for key, value in options.items():
        default = signature.parameters[key].default
        if isinstance(default, bool) and not isinstance(value, bool):
            raise TypeError(f"cell {cell!r}: {key} must be a bool (True or False); got {value!r}")
        if key.endswith("activation") and not callable(value):
            raise TypeError(
                f"cell {cell!r}: {key} must be a function such as jax.nn.sigmoid or jnp.tanh; "
                f"got {value!r}"
            )
    return factory(**options)
