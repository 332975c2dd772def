"""Gradient flow through time: ``‖∂L/∂h_t‖`` at every step and Jacobian norms ``‖∂h_T/∂h_t‖``.

These are the quantities behind the vanishing-gradient argument (Bengio, Simard & Frasconi 1994;
Hochreiter & Schmidhuber 1997; Pascanu, Mikolov & Bengio 2013): in a simple RNN the gradient of a
late loss with respect to an early hidden state shrinks geometrically with the distance, and the
gated cells keep it alive.

Both are computed exactly, with JAX's automatic differentiation, by one mechanism that works for
any cell of the protocol: the cell's update is wrapped so that it adds a perturbation ``eps_t``
(zeros) to the new hidden state, and the loss (or the final hidden state) is differentiated with
respect to ``eps``. Because the perturbation enters the carry that goes on to the next step *and*
the output of the step, ``∂L/∂eps_t = ∂L/∂h_t`` is the total derivative through everything
``h_t`` influences, and one backward pass gives it for every ``t``.

Requirement on the cell: its carry is a NamedTuple with an ``h`` field of shape ``(B, H)`` (as
``LSTMState``, ``GRUState`` and ``RNNState``), and the output of its step is that new ``h``.
Other fields of the carry (such as the LSTM's ``c``) are not perturbed: they evolve as usual.

The functions are pure and can be wrapped in ``jax.jit`` with ``cell``, ``loss_fn``,
``hidden_size`` and ``steps`` static.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Iterable, Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from gru_lstm_jax.cells import Cell
from gru_lstm_jax.checks import check_positive_int
from gru_lstm_jax.recurrence import run_scan, sequence_mask

__all__ = [
    "GradientNorms",
    "JacobianNorms",
    "gradient_norms_over_time",
    "hidden_state_gradients",
    "jacobian_norms",
]


class GradientNorms(NamedTuple):
    """The result of :func:`gradient_norms_over_time`.

    Attributes:
        per_example: ``(B, T)``: ``‖∂L/∂h_t‖₂`` of each sequence at each step; 0 on masked steps.
        mean: ``(T,)``: the mean of ``per_example`` over the sequences that are valid at step
            ``t``; NaN at a step where no sequence is valid.
    """

    per_example: jax.Array
    mean: jax.Array


class JacobianNorms(NamedTuple):
    """The result of :func:`jacobian_norms`.

    Attributes:
        spectral: ``(B, S)``: the largest singular value of ``∂h_T/∂h_t`` for each sequence and
            each of the ``S`` chosen steps.
        frobenius: ``(B, S)``: the Frobenius norm of the same Jacobians.
    """

    spectral: jax.Array
    frobenius: jax.Array


def _check_xs(xs: Any) -> jax.Array:
    xs = jnp.asarray(xs)
    if xs.ndim != 3:
        raise ValueError(f"xs must have shape (batch, time, features); got shape {tuple(xs.shape)}")
    return xs


def _hidden_state_spec(
    cell: Cell, batch: int, hidden_size: int, initial_carry: Any
) -> jax.ShapeDtypeStruct:
    """The shape ``(B, H)`` and dtype of the carry's ``h``; raises if the carry has no ``h``."""
    check_positive_int(hidden_size, "hidden_size")
    carry = jax.eval_shape(lambda: cell.initial_carry((batch,), hidden_size))
    fields = getattr(carry, "_fields", None)
    if not isinstance(carry, tuple) or fields is None or "h" not in fields:
        raise ValueError(
            f"cell {cell.name!r}: gradient-flow analysis needs a carry that is a NamedTuple with "
            f"an 'h' field (like LSTMState(h, c)); got {type(carry).__name__} with fields {fields}"
        )
    h_shape = tuple(jnp.shape(carry.h))
    if not jnp.issubdtype(jnp.result_type(carry.h), jnp.floating):
        raise ValueError(f"cell {cell.name!r}: the carry's h must be floating point")
    if len(h_shape) != 2 or h_shape[0] != batch:
        raise ValueError(
            f"cell {cell.name!r}: the carry's h must have shape (batch, hidden) with batch = "
            f"{batch}; got {h_shape}"
        )
    if initial_carry is None:
        return jax.ShapeDtypeStruct(h_shape, jnp.result_type(carry.h))
    if jax.tree.structure(initial_carry) != jax.tree.structure(carry) or any(
        tuple(jnp.shape(given)) != tuple(expected.shape)
        for given, expected in zip(
            jax.tree.leaves(initial_carry), jax.tree.leaves(carry), strict=True
        )
    ):
        expected = ", ".join(
            f"{f}={tuple(jnp.shape(a))}" for f, a in zip(fields, carry, strict=True)
        )
        raise ValueError(
            f"initial_carry must be {type(carry).__name__}({expected}) for cell {cell.name!r}; "
            f"got {jax.tree.map(jnp.shape, initial_carry)}"
        )
    # The carry's dtype, not the cell's default, so that a float64 carry gives float64 results.
    return jax.ShapeDtypeStruct(h_shape, jnp.result_type(initial_carry.h))


def _perturbed_cell(cell: Cell, features: int) -> Cell:
    """``cell`` with its update adding a perturbation to the new ``h``, in the cell protocol.

    The perturbation ``eps_t`` ``(B, H)`` rides along the input: the wrapped cell reads inputs
    ``(B, T, features + H)``, projects the first ``features`` as ``cell`` does and passes the
    rest through, so that it runs on every implementation of the recurrence, fused included.
    """

    def project(params: Any, xs: jax.Array) -> tuple[Any, jax.Array]:
        return cell.project(params, xs[..., :features]), xs[..., features:]

    def update(
        params: Any, carry: Any, inputs: tuple[Any, jax.Array], hp_t: Any
    ) -> tuple[Any, jax.Array]:
        xp_t, eps_t = inputs
        new_carry, h, *_ = cell.update(params, carry, xp_t, hp_t)
        h = h + eps_t
        # The same perturbed h goes on in the carry and out as this step's output, so that the
        # derivative with respect to eps_t is the total derivative with respect to h_t.
        return new_carry._replace(h=h), h

    return Cell(
        f"{cell.name}+perturbed_h", cell.init, cell.initial_carry, project, update,
        cell.recurrent_kernel,
    )  # fmt: skip


def _scan_with_perturbation(
    cell: Cell,
    params: Any,
    xs: jax.Array,
    eps: jax.Array,
    *,
    hidden_size: int,
    lengths: jax.Array | None,
    mask: jax.Array | None,
    initial_carry: Any,
) -> tuple[jax.Array, Any]:
    outputs, final_carry, _ = run_scan(
        _perturbed_cell(cell, xs.shape[-1]),
        params,
        jnp.concatenate([xs, eps.astype(xs.dtype)], axis=-1),
        hidden_size=hidden_size,
        initial_carry=initial_carry,
        lengths=lengths,
        mask=mask,
    )
    return outputs, final_carry


def hidden_state_gradients(
    cell: Cell,
    params: Any,
    xs: jax.Array,
    loss_fn: Callable[[jax.Array, Any], jax.Array],
    *,
    hidden_size: int,
    lengths: jax.Array | None = None,
    mask: jax.Array | None = None,
    initial_carry: Any = None,
) -> jax.Array:
    """The gradient ``∂L/∂h_t`` of a loss with respect to the hidden state at every step.

    ``h_t`` is the carry's ``h`` after step ``t`` and ``L = loss_fn(outputs, final_carry)``. The
    derivative is total: it counts every path from ``h_t`` to ``L``, through the outputs of all
    later steps and through the final carry. One backward pass computes it for every step.

    Args:
        cell: any cell whose carry is a NamedTuple with an ``h`` field ``(B, H)`` and whose step
            outputs that ``h`` (see the module docstring).
        params: the cell's parameters.
        xs: inputs ``(B, T, F)``.
        loss_fn: ``loss_fn(outputs, final_carry) -> scalar`` with ``outputs`` ``(B, T, H)`` and
            ``final_carry`` the carry after the last step (leaves ``(B, ...)``).
        hidden_size: ``H``.
        lengths: optional integer lengths ``(B,)`` of right-padded sequences.
        mask: optional boolean ``(B, T)``, True on valid steps (combined with ``lengths``).
        initial_carry: the carry to start from (leaves ``(B, ...)``); default zeros.

    Returns:
        ``(B, T, H)``: ``∂L/∂h_t`` for every sequence and step; zeros on masked steps (a masked
        step holds the carry, so its own hidden state influences nothing).

    Raises:
        ValueError: if ``xs`` is not ``(B, T, F)``, ``hidden_size`` is not a positive int, the
            carry has no ``h`` field, ``loss_fn`` does not return a scalar, or ``lengths``,
            ``mask`` or ``initial_carry`` are malformed (see
            :func:`~gru_lstm_jax.recurrence.run_scan`).
    """
    xs = _check_xs(xs)
    batch, time = xs.shape[:2]
    h = _hidden_state_spec(cell, batch, hidden_size, initial_carry)
    eps = jnp.zeros((batch, time, h.shape[-1]), h.dtype)

    def loss_of_eps(eps: jax.Array) -> jax.Array:
        outputs, final_carry = _scan_with_perturbation(
            cell, params, xs, eps, hidden_size=hidden_size, lengths=lengths, mask=mask,
            initial_carry=initial_carry,
        )  # fmt: skip
        return loss_fn(outputs, final_carry)

    loss, pullback = jax.vjp(loss_of_eps, eps)
    if jnp.shape(loss) != ():
        raise ValueError(f"loss_fn must return a scalar; got an array of shape {jnp.shape(loss)}")
    (grads,) = pullback(jnp.ones_like(loss))
    return grads


def gradient_norms_over_time(
    cell: Cell,
    params: Any,
    xs: jax.Array,
    loss_fn: Callable[[jax.Array, Any], jax.Array],
    *,
    hidden_size: int,
    lengths: jax.Array | None = None,
    mask: jax.Array | None = None,
    initial_carry: Any = None,
) -> GradientNorms:
    """``‖∂L/∂h_t‖₂`` at every step ``t``: how much gradient reaches each hidden state.

    See :func:`hidden_state_gradients` for the definition; this takes the Euclidean norm over the
    ``H`` units. Plotted against ``t`` for a loss on the last step, it shows the vanishing
    gradient of a simple RNN and its absence in an LSTM or GRU.

    Example:
        >>> def last_step_loss(outputs, final_carry):
        ...     return jnp.sum(outputs[:, -1] ** 2)
        >>> norms = gradient_norms_over_time(
        ...     get_cell("rnn"), params, xs, last_step_loss, hidden_size=32
        ... )  # doctest: +SKIP
        >>> norms.mean.shape  # doctest: +SKIP
        (100,)

    Args:
        cell: any cell whose carry is a NamedTuple with an ``h`` field ``(B, H)`` and whose step
            outputs that ``h``.
        params: the cell's parameters.
        xs: inputs ``(B, T, F)``.
        loss_fn: ``loss_fn(outputs, final_carry) -> scalar``, ``outputs`` ``(B, T, H)``.
        hidden_size: ``H``.
        lengths: optional integer lengths ``(B,)`` of right-padded sequences.
        mask: optional boolean ``(B, T)``, True on valid steps (combined with ``lengths``).
        initial_carry: the carry to start from (leaves ``(B, ...)``); default zeros.

    Returns:
        :class:`GradientNorms` with ``per_example`` ``(B, T)`` (0 on masked steps) and ``mean``
        ``(T,)``, the mean over the sequences valid at each step (NaN where none is).

    Raises:
        ValueError: as :func:`hidden_state_gradients`.
    """
    grads = hidden_state_gradients(
        cell, params, xs, loss_fn, hidden_size=hidden_size, lengths=lengths, mask=mask,
        initial_carry=initial_carry,
    )  # fmt: skip
    per_example = jnp.linalg.norm(grads, axis=-1)
    batch, time = per_example.shape
    valid = sequence_mask(lengths, mask, batch, time)
    if valid is None:
        return GradientNorms(per_example, jnp.mean(per_example, axis=0))
    count = jnp.sum(valid, axis=0)
    total = jnp.sum(jnp.where(valid, per_example, 0.0), axis=0)
    mean = jnp.where(count > 0, total / jnp.maximum(count, 1), jnp.nan)
    return GradientNorms(per_example, mean)


def _check_steps(steps: Sequence[int], time: int) -> tuple[int, ...]:
    if isinstance(steps, (str, bytes)) or not isinstance(steps, Iterable):
        raise ValueError(f"steps must be a sequence of ints in [0, T); got {steps!r}")
    checked = []
    for t in list(steps):
        try:
            if isinstance(t, bool):
                raise TypeError
            t = operator.index(t)
        except TypeError:
            raise ValueError(f"steps must contain ints; got {t!r} in {steps!r}") from None
        if not 0 <= t < time:
            raise ValueError(f"steps must lie in [0, T) = [0, {time}); got {t} in {steps!r}")
        checked.append(t)
    if not checked:
        raise ValueError("steps must name at least one step")
    return tuple(checked)


def jacobian_norms(
    cell: Cell,
    params: Any,
    xs: jax.Array,
    *,
    hidden_size: int,
    steps: Sequence[int],
    initial_carry: Any = None,
) -> JacobianNorms:
    """Norms of the Jacobians ``∂h_T/∂h_t`` of the final hidden state w.r.t. earlier ones.

    ``h_t`` is the carry's ``h`` after step ``t`` (0-based) and ``h_T`` the one after the last
    step, so ``t = T - 1`` gives the identity. Only ``h_t`` is perturbed; the other fields of the
    carry (an LSTM's ``c``) evolve as usual. For each sequence the ``(H, H)`` Jacobian is exact
    (reverse mode, ``H`` backward passes that serve all steps at once); its spectral norm bounds
    how much any direction of ``h_t`` can be amplified on its way to ``h_T`` (Pascanu et al. 2013).

    Args:
        cell: any cell whose carry is a NamedTuple with an ``h`` field ``(B, H)`` and whose step
            outputs that ``h``.
        params: the cell's parameters.
        xs: inputs ``(B, T, F)``.
        hidden_size: ``H``.
        steps: the ``S`` steps ``t`` to report, ints in ``[0, T)``.
        initial_carry: the carry to start from (leaves ``(B, ...)``); default zeros.

    Returns:
        :class:`JacobianNorms` with ``spectral`` and ``frobenius``, each ``(B, S)``.

    Raises:
        ValueError: if ``xs`` is not ``(B, T, F)``, ``steps`` is empty or holds anything but
            ints in ``[0, T)``, ``hidden_size`` is not a positive int, the carry has no ``h``
            field, or ``initial_carry`` is malformed.
    """
    xs = _check_xs(xs)
    batch, time = xs.shape[:2]
    chosen = jnp.asarray(_check_steps(steps, time))
    h = _hidden_state_spec(cell, batch, hidden_size, initial_carry)
    width = h.shape[-1]
    eps = jnp.zeros((batch, time, width), h.dtype)

    def final_h_of_eps(eps: jax.Array) -> jax.Array:
        _, final_carry = _scan_with_perturbation(
            cell, params, xs, eps, hidden_size=hidden_size, lengths=None, mask=None,
            initial_carry=initial_carry,
        )  # fmt: skip
        return final_carry.h

    final_h, pullback = jax.vjp(final_h_of_eps, eps)
    # Sequences are independent, so pulling back unit k of every sequence at once gives row k of
    # every sequence's Jacobian: H backward passes instead of B * H.
    unit_cotangents = jnp.broadcast_to(
        jnp.eye(width, dtype=final_h.dtype)[:, None, :], (width, batch, width)
    )
    (rows,) = jax.vmap(pullback)(unit_cotangents)  # (H_out, B, T, H_in)
    jacobians = jnp.moveaxis(rows[:, :, chosen], 0, 2)  # (B, S, H_out, H_in)
    spectral = jnp.linalg.svd(jacobians, compute_uv=False)[..., 0]
    frobenius = jnp.sqrt(jnp.sum(jacobians**2, axis=(-2, -1)))
    return JacobianNorms(spectral, frobenius)
