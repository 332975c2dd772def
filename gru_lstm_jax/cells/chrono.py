"""Chrono initialisation of gate biases (Tallec & Ollivier 2018).

Tallec & Ollivier (2018), "Can Recurrent Neural Networks Warp Time?", ICLR: a gate that keeps
the fraction ``σ(b)`` of the state per step forgets on a time scale of ``1 / (1 - σ(b))`` steps.
Drawing ``b = log(u)`` with ``u ~ U[1, T_max - 1]`` spreads these time scales over
``[2, T_max]``, so that a network can carry information over the dependency range ``T_max`` it
is meant to learn from the first step of training, instead of forgetting it geometrically
(a forget bias of 1 keeps ``σ(1)^100 ≈ 2e-14`` of the state after 100 steps).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from gru_lstm_jax.checks import check_int

__all__ = ["check_chrono_max_length", "chrono_bias"]


def check_chrono_max_length(max_length: object) -> None:
    """Raises ``ValueError`` unless ``max_length`` is an int ``>= 3`` (``U[1, T_max - 1]``)."""
    check_int(max_length, "chrono_max_length", minimum=3)


def chrono_bias(key: jax.Array, hidden_size: int, max_length: int) -> jax.Array:
    """Draws ``log(u)`` with ``u ~ U[1, max_length - 1]``, shape ``(hidden_size,)``.

    Args:
        key: a PRNG key.
        hidden_size: the number of units ``H``.
        max_length: ``T_max``, the longest dependency to remember; an int ``>= 3``.

    Returns:
        ``(H,)`` float32 biases in ``[0, log(T_max - 1)]``.

    Raises:
        ValueError: if ``max_length`` is not an int ``>= 3``.
    """
    check_chrono_max_length(max_length)
    u = jax.random.uniform(key, (hidden_size,), jnp.float32, 1.0, max_length - 1.0)
    return jnp.log(u)
