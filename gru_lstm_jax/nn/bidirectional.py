"""A bidirectional wrapper over two recurrent layers, correct for padded sequences."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
from flax import nnx

from gru_lstm_jax.nn.rnn import RNN

__all__ = ["MERGE_MODES", "Bidirectional"]

MERGE_MODES = ("concat", "sum", "mul", "ave")


def merge_directions(forward: jax.Array, backward: jax.Array, merge: str) -> jax.Array:
    """Merges the outputs of the two directions, each ``(..., H)``.

    Returns:
        ``(..., 2H)`` for ``"concat"`` (forward first), otherwise ``(..., H)``.
    """
    if merge == "concat":
        return jnp.concatenate([forward, backward], axis=-1)
    if merge == "sum":
        return forward + backward
    if merge == "mul":
        return forward * backward
    return 0.5 * (forward + backward)


class Bidirectional(nnx.Module):
    """Runs a forward and a backward recurrent layer over a sequence and merges their outputs.

    The backward layer reverses each sequence within its own length (from ``lengths`` or
    ``mask``), so it starts at the last real token, and its outputs come back in the original
    time order, as Keras's ``Bidirectional`` and PyTorch's ``bidirectional=True`` with packed
    sequences.

    Example:
        >>> rngs = nnx.Rngs(0)
        >>> bi = Bidirectional(LSTM(1, 64, return_sequences=True, rngs=rngs),
        ...                    LSTM(1, 64, return_sequences=True, go_backwards=True, rngs=rngs))
        >>> bi(jnp.zeros((8, 50, 1))).shape
        (8, 50, 128)

    Attributes:
        forward: the forward :class:`~gru_lstm_jax.nn.RNN`.
        backward: the backward :class:`~gru_lstm_jax.nn.RNN` (``go_backwards=True``).
        merge: one of ``"concat"``, ``"sum"``, ``"mul"``, ``"ave"``.
        in_features: input features ``F``.
        out_features: ``2H`` for ``"concat"``, else ``H``.
    """

    def __init__(self, forward: RNN, backward: RNN, *, merge: str = "concat"):
        """Wraps two layers.

        Args:
            forward: a layer with ``go_backwards=False``.
            backward: a layer with ``go_backwards=True`` and the same ``in_features``,
                ``hidden_size``, ``return_sequences`` and ``return_state`` as ``forward``.
            merge: how to merge the two directions: ``"concat"``, ``"sum"``, ``"mul"`` or
                ``"ave"``.

        Raises:
            ValueError: for an unknown ``merge`` or layers that do not match.
        """
        if merge not in MERGE_MODES:
            raise ValueError(f"merge must be one of {list(MERGE_MODES)}; got {merge!r}")
        if forward.go_backwards or not backward.go_backwards:
            raise ValueError(
                "Bidirectional needs forward.go_backwards=False and backward.go_backwards=True; "
                f"got {forward.go_backwards} and {backward.go_backwards}"
            )
        for name in ("in_features", "hidden_size", "return_sequences", "return_state"):
            if getattr(forward, name) != getattr(backward, name):
                raise ValueError(
                    f"forward and backward must have the same {name}; got "
                    f"{getattr(forward, name)!r} and {getattr(backward, name)!r}"
                )
        self.forward = forward
        self.backward = backward
        self.merge = merge
        self.in_features = forward.in_features
        self.out_features = forward.hidden_size * (2 if merge == "concat" else 1)
        self.return_state = forward.return_state

    def __call__(
        self,
        xs: jax.Array,
        *,
        initial_state: tuple[Any, Any] | None = None,
        lengths: jax.Array | None = None,
        mask: jax.Array | None = None,
        resets: jax.Array | None = None,
    ) -> Any:
        """Runs both directions.

        Args:
            xs: ``(B, T, F)`` or ``(T, F)``.
            initial_state: ``None`` or the pair ``(forward_carry, backward_carry)``.
            lengths: integer lengths ``(B,)`` of right-padded sequences.
            mask: boolean ``(B, T)``; True on valid steps.
            resets: boolean ``(B, T)`` (or ``(T,)``), True at the first step of each new
                episode. The forward direction resets its carry before that step, the backward
                direction before the step just ahead of it (the last step of the episode
                before), so that no information crosses a boundary either way.

        Returns:
            The merged output, ``(B, T, out_features)`` or ``(B, out_features)``; with
            ``return_state``, ``(output, (forward_carry, backward_carry))``.
        """
        if initial_state is None:
            initial_state = (None, None)
        # A plain pair: a carry NamedTuple such as LSTMState(h, c) is a 2-tuple too.
        elif type(initial_state) not in (tuple, list) or len(initial_state) != 2:
            raise ValueError(
                "initial_state must be a pair (forward_carry, backward_carry); "
                f"got {type(initial_state).__name__}"
            )
        kwargs = {"lengths": lengths, "mask": mask}
        backward_resets = None
        if resets is not None:
            resets = jnp.asarray(resets)
            # The backward pass meets an episode's last step first: it resets there instead.
            shifted = jnp.zeros_like(resets[..., :1])
            backward_resets = jnp.concatenate([resets[..., 1:], shifted], axis=-1)
        fwd = self.forward(xs, initial_state=initial_state[0], resets=resets, **kwargs)
        bwd = self.backward(xs, initial_state=initial_state[1], resets=backward_resets, **kwargs)
        if not self.return_state:
            return merge_directions(fwd, bwd, self.merge)
        return merge_directions(fwd[0], bwd[0], self.merge), (fwd[1], bwd[1])
