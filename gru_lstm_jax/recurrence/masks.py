"""What every implementation of the recurrence shares: its result, masks, lengths and checks.

Variable-length batches are right-padded and described by ``lengths`` ``(B,)`` and/or a boolean
``mask`` ``(B, T)``; :func:`sequence_mask` combines them into one ``(B, T)`` mask of valid steps.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

__all__ = [
    "ScanOutput",
    "add_batch_axis",
    "check_carry",
    "check_flags",
    "entering",
    "held",
    "last_output",
    "refuse",
    "sequence_mask",
    "time_major",
    "where_steps",
]


class ScanOutput(NamedTuple):
    """The result of :func:`run_scan`.

    Attributes:
        outputs: ``(B, T, H)`` (or ``(T, H)``): ``h_t`` at every valid step, zero on masked steps,
            in the original time order.
        final_carry: the carry after the last processed valid step; leaves ``(B, ...)``.
        carries: the carry after every step (held on masked steps) with leaves ``(B, T, ...)``,
            when ``return_carries=True``; otherwise ``None``.
    """

    outputs: jax.Array
    final_carry: Any
    carries: Any


def refuse(implementation: str, unsupported: dict[str, bool], hint: str = "") -> None:
    """Raises ``ValueError`` naming every key of ``unsupported`` whose value is True.

    ``unsupported`` maps what an implementation cannot run (a cell, an option) to whether the
    call asks for it; ``hint`` ends the message.
    """
    chosen = [name for name, used in unsupported.items() if used]
    if chosen:
        raise ValueError(f"implementation={implementation!r} cannot run {', '.join(chosen)}{hint}")


def check_flags(flags: Any, name: str, batch: int, time: int) -> jax.Array | None:
    """``flags`` as an array, after checking it is ``None`` or boolean ``(batch, time)``."""
    if flags is None:
        return None
    flags = jnp.asarray(flags)
    if flags.shape != (batch, time) or flags.dtype != jnp.bool_:
        raise ValueError(
            f"{name} must be boolean with shape (batch, time) = ({batch}, {time}); got "
            f"{flags.dtype} {tuple(flags.shape)}"
        )
    return flags


def sequence_mask(
    lengths: jax.Array | None, mask: jax.Array | None, batch: int, time: int
) -> jax.Array | None:
    """Validates ``lengths`` and ``mask`` and combines them into one boolean mask.

    Args:
        lengths: ``None`` or integer lengths ``(batch,)`` in ``[0, time]`` (right padding).
        mask: ``None`` or a boolean mask ``(batch, time)``; ``True`` marks a valid step.
        batch: the batch size ``B``.
        time: the number of time steps ``T``.

    Returns:
        ``None`` when both are ``None``, otherwise a boolean ``(batch, time)`` mask that is the
        logical AND of ``mask`` and ``t < lengths``.

    Raises:
        ValueError: if a shape or dtype is wrong, or (for concrete values) a length lies
            outside ``[0, time]``.
    """
    combined = None
    if lengths is not None:
        lengths = jnp.asarray(lengths)
        if lengths.shape != (batch,):
            raise ValueError(
                f"lengths must have shape (batch,) = ({batch},); got {tuple(lengths.shape)}"
            )
        if not jnp.issubdtype(lengths.dtype, jnp.integer):
            raise ValueError(f"lengths must be integers; got dtype {lengths.dtype}")
        if not isinstance(lengths, jax.core.Tracer):
            values = np.asarray(lengths)
            if values.size and (values.min() < 0 or values.max() > time):
                raise ValueError(
                    f"lengths must lie in [0, T] = [0, {time}]; got values from {values.min()} "
                    f"to {values.max()}"
                )
        combined = jnp.arange(time)[None, :] < lengths[:, None]
    mask = check_flags(mask, "mask", batch, time)
    if mask is not None:
        combined = mask if combined is None else combined & mask
    return combined


def where_steps(valid: jax.Array, new: Any, old: Any) -> Any:
    """Per batch row, picks ``new`` where ``valid`` ``(B,)`` is True and ``old`` elsewhere."""

    def pick(n: jax.Array, o: jax.Array) -> jax.Array:
        return jnp.where(valid.reshape(valid.shape + (1,) * (n.ndim - 1)), n, o)

    return jax.tree.map(pick, new, old)


def entering(carry: Any, carry0: Any, reset_t: jax.Array | None) -> Any:
    """The carry that enters a step: ``carry0`` on rows where ``reset_t`` ``(B,)`` is True."""
    return carry if reset_t is None else where_steps(reset_t, carry0, carry)


def held(valid_t: jax.Array | None, new: Any, h: jax.Array, carry: Any) -> tuple[Any, jax.Array]:
    """A step's ``(carry, h_t)``, held and zero on rows where ``valid_t`` ``(B,)`` is False."""
    if valid_t is None:
        return new, h
    return where_steps(valid_t, new, carry), jnp.where(valid_t[:, None], h, jnp.zeros_like(h))


def time_major(a: Any) -> Any:
    """``a`` with the first two axes of every leaf swapped (``(B, T, ...)`` and back)."""
    return None if a is None else jax.tree.map(lambda leaf: jnp.swapaxes(leaf, 0, 1), a)


def _describe(tree: Any) -> str:
    """``LSTMState(h=(3, 5), c=(3, 5))``-style text of a pytree's structure and leaf shapes."""
    leaves, treedef = jax.tree.flatten(tree)
    shapes = [f"({', '.join(map(str, jnp.shape(leaf)))})" for leaf in leaves]
    if hasattr(tree, "_fields") and len(tree._fields) == len(shapes):
        fields = ", ".join(f"{n}={s}" for n, s in zip(tree._fields, shapes, strict=True))
        return f"{type(tree).__name__}({fields})"
    return f"{treedef} with leaf shapes {', '.join(shapes)}"


def check_carry(carry: Any, expected: Any, name: str) -> None:
    """Raises ``ValueError`` naming ``name`` unless ``carry`` is shaped like ``expected``."""
    same_structure = jax.tree.structure(carry) == jax.tree.structure(expected)
    if not same_structure or any(
        tuple(jnp.shape(a)) != tuple(b.shape)
        for a, b in zip(jax.tree.leaves(carry), jax.tree.leaves(expected), strict=True)
    ):
        raise ValueError(f"{name} must be {_describe(expected)}; got {_describe(carry)}")


def add_batch_axis(xs: jax.Array, **per_sequence: Any) -> tuple[jax.Array, dict[str, Any]]:
    """One ``(T, F)`` sequence as a batch of one, with its per-sequence arguments.

    Args:
        xs: ``(T, F)``.
        **per_sequence: any of ``lengths`` (a scalar), ``mask`` and ``resets`` (boolean
            ``(T,)``), ``recurrent_mask`` ``(H,)`` and ``initial_carry`` (a carry without batch
            axis); ``None`` stays ``None``.

    Returns:
        ``(xs (1, T, F), {name: the value with a batch axis of 1})``.

    Raises:
        ValueError: if ``lengths`` is not a scalar, ``mask`` or ``resets`` not ``(T,)``, or
            ``recurrent_mask`` not one axis.
    """
    expected = {"lengths": ((), "be a scalar"), "recurrent_mask": (None, "have shape (hidden,)")}
    batched = {}
    for name, value in per_sequence.items():
        shape, text = expected.get(name, ((xs.shape[0],), f"have shape (time,) = ({xs.shape[0]},)"))
        if value is not None and name == "initial_carry":
            value = jax.tree.map(lambda a: jnp.asarray(a)[None], value)
        elif value is not None:
            value = jnp.asarray(value)
            if value.ndim != 1 if shape is None else value.shape != shape:
                raise ValueError(
                    f"{name} must {text} for an unbatched (T, F) input; got shape "
                    f"{tuple(value.shape)}"
                )
            value = value[None]
        batched[name] = value
    return xs[None], batched


def last_output(
    outputs: jax.Array, mask: jax.Array | None = None, *, reverse: bool = False
) -> jax.Array:
    """The output of the last processed valid step of each sequence.

    Forward, that is the output at the last valid time step; with ``reverse=True`` it is the
    output at the first valid time step (the last one the backward pass reaches). A sequence
    with no valid step (or no step at all, ``T = 0``) gives zeros.

    Args:
        outputs: ``(B, T, H)`` from :func:`run_scan`.
        mask: boolean ``(B, T)`` valid-step mask (see :func:`sequence_mask`), or ``None``.
        reverse: whether the outputs came from a reverse scan.

    Returns:
        ``(B, H)``.
    """
    time = outputs.shape[1]
    if time == 0:
        return jnp.zeros((outputs.shape[0], *outputs.shape[2:]), outputs.dtype)
    if mask is None:
        return outputs[:, 0] if reverse else outputs[:, -1]
    # argmax finds the first True; on the flipped mask, the last one.
    first = jnp.argmax(mask, axis=1)
    last = time - 1 - jnp.argmax(mask[:, ::-1], axis=1)
    index = first if reverse else last
    return jnp.take_along_axis(outputs, index[:, None, None], axis=1)[:, 0]
