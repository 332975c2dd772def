"""An attentional encoder-decoder over any cell, with teacher forcing and greedy decoding.

References:
    Bahdanau, Cho & Bengio (2015), "Neural Machine Translation by Jointly Learning to Align and
    Translate" (bidirectional encoder, additive attention).
    Luong, Pham & Manning (2015), "Effective Approaches to Attention-based Neural Machine
    Translation" (the attentional vector ``h̃_t = tanh(W_c [h_t; c_t])`` and input feeding).

Equations, with ``y`` the target tokens, ``s`` the encoder outputs ``(B, T_src, 2H)`` (the
forward and backward outputs concatenated) and ``h_t`` the decoder's hidden state::

    h_0   = tanh(W_b [h_fwd_final; h_bwd_final] + b_b)      (a cell with a c: c_0 = 0)
    x_t   = [embed(y_{t-1}); h̃_{t-1}]                      (h̃_0 = 0; input feeding)
    h_t   = cell.step(x_t, state_{t-1})
    c_t, a_t = AdditiveAttention(h_t, s, source mask)      (a_t: weights over the source)
    h̃_t  = tanh(W_c [h_t; c_t])                            (no bias, as Luong et al.)
    logits_t = W_o h̃_t + b_o

The decoder is a cell of the cell protocol (``init``/``initial_carry``/``project``/``step``), so
any registered cell works; its carry must be a NamedTuple with an ``h`` field.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
from flax import nnx

from gru_lstm_jax.cells import Cell, get_cell
from gru_lstm_jax.checks import check_compute_dtype, check_positive_int
from gru_lstm_jax.nn import RNN, AdditiveAttention, Bidirectional, linear
from gru_lstm_jax.recurrence import sequence_mask, with_compute_dtype

__all__ = ["Seq2SeqAttention"]


class _DecoderState(NamedTuple):
    """What the decoder carries between target steps."""

    cell_carry: Any
    attentional: jax.Array


class Seq2SeqAttention(nnx.Module):
    """Bidirectional recurrent encoder, additive attention and an input-feeding decoder.

    Example:
        >>> model = Seq2SeqAttention(13, 13, cell="gru", rngs=nnx.Rngs(0))
        >>> source = jnp.full((4, 10), 3); lengths = jnp.array([10, 5, 3, 1])
        >>> logits, weights = model(source, lengths, jnp.ones((4, 11), jnp.int32))
        >>> logits.shape, weights.shape
        ((4, 11, 13), (4, 11, 10))

    Attributes:
        source_embed: ``nnx.Embed`` of the source tokens.
        target_embed: ``nnx.Embed`` of the target tokens.
        encoder: a :class:`~gru_lstm_jax.nn.Bidirectional` pair of :class:`~gru_lstm_jax.nn.RNN`.
        decoder_cell: the decoder's :class:`~gru_lstm_jax.cells.Cell`.
        decoder_params: the decoder cell's parameters (``nnx.Param``), input size
            ``embed_dim + decoder_hidden``, hidden size ``decoder_hidden``.
        bridge: ``W_b``, ``2H -> D``, the decoder's initial ``h``.
        attention: :class:`~gru_lstm_jax.nn.AdditiveAttention` from ``h_t`` over the encoder.
        combine: ``W_c``, ``D + 2H -> D``.
        output: ``W_o``, ``D -> target_vocab_size``.
        bos_id: the token that starts every decoder input.
        eos_id: the token that ends every target.
        pad_id: the token that fills decoded positions after ``eos_id``.
        step_cell: ``decoder_cell`` with its products in the compute dtype, which each decoder
            step runs (:func:`~gru_lstm_jax.recurrence.with_compute_dtype`).
    """

    def __init__(
        self,
        source_vocab_size: int,
        target_vocab_size: int,
        *,
        cell: str | Cell = "gru",
        embed_dim: int = 32,
        encoder_hidden: int = 64,
        decoder_hidden: int = 128,
        attention_features: int | None = None,
        pad_id: int = 0,
        bos_id: int = 1,
        eos_id: int = 2,
        compute_dtype: Any = jnp.float32,
        rngs: nnx.Rngs,
        **cell_options: Any,
    ):
        """Creates the model.

        Args:
            source_vocab_size: source token ids are in ``[0, source_vocab_size)``.
            target_vocab_size: target token ids (and logits) ``V``.
            cell: the cell of the encoder and the decoder: a registered name (``"gru"``,
                ``"lstm"``, ...) or a :class:`~gru_lstm_jax.cells.Cell`.
            embed_dim: embedding size ``E`` of source and target tokens.
            encoder_hidden: hidden units per encoder direction ``H``.
            decoder_hidden: decoder hidden units ``D`` (also the size of ``h̃``).
            attention_features: the attention's hidden width ``A``; default ``D``.
            pad_id: the padding token.
            bos_id: the begin-of-sequence token.
            eos_id: the end-of-sequence token.
            compute_dtype: the operands' dtype in every matrix product, ``"float32"`` or
                ``"bfloat16"`` (mixed precision: see :class:`~gru_lstm_jax.nn.RNN`); the
                embeddings, the decoder's state and the logits are float32.
            rngs: ``nnx.Rngs`` with a ``params`` stream.
            **cell_options: options of a named cell, e.g. ``reset_after=False``.

        Raises:
            ValueError: for a non-positive size, a decoder cell whose carry has no ``h``, or
                another ``compute_dtype``.
        """
        for value, name in (
            (source_vocab_size, "source_vocab_size"),
            (target_vocab_size, "target_vocab_size"),
            (embed_dim, "embed_dim"),
            (encoder_hidden, "encoder_hidden"),
            (decoder_hidden, "decoder_hidden"),
        ):
            check_positive_int(value, name)
        attention_features = decoder_hidden if attention_features is None else attention_features
        check_positive_int(attention_features, "attention_features")
        compute_dtype = check_compute_dtype(compute_dtype, "compute_dtype")
        self.decoder_cell = get_cell(cell, **cell_options)
        self.step_cell = with_compute_dtype(self.decoder_cell, compute_dtype)
        carry = jax.eval_shape(lambda: self.decoder_cell.initial_carry((1,), decoder_hidden))
        if not hasattr(carry, "h") or not hasattr(carry, "_replace"):
            raise ValueError(
                f"the decoder needs a carry NamedTuple with an 'h' field; cell "
                f"{self.decoder_cell.name!r} has carry {type(carry).__name__}"
            )
        self.target_vocab_size = target_vocab_size
        self.decoder_hidden = decoder_hidden
        self.pad_id, self.bos_id, self.eos_id = pad_id, bos_id, eos_id
        self.source_embed = nnx.Embed(source_vocab_size, embed_dim, rngs=rngs)
        self.target_embed = nnx.Embed(target_vocab_size, embed_dim, rngs=rngs)
        layer = {
            "return_sequences": True, "return_state": True, "compute_dtype": compute_dtype,
            "rngs": rngs,
        }  # fmt: skip
        self.encoder = Bidirectional(
            RNN(self.decoder_cell, embed_dim, encoder_hidden, **layer),
            RNN(self.decoder_cell, embed_dim, encoder_hidden, go_backwards=True, **layer),
        )
        encoded = 2 * encoder_hidden
        params = self.decoder_cell.init(rngs.params(), embed_dim + decoder_hidden, decoder_hidden)
        self.decoder_params = nnx.Dict({name: nnx.Param(value) for name, value in params.items()})
        dense = {"compute_dtype": compute_dtype, "rngs": rngs}
        self.bridge = linear(encoded, decoder_hidden, **dense)
        self.attention = AdditiveAttention(decoder_hidden, encoded, attention_features, **dense)
        self.combine = linear(decoder_hidden + encoded, decoder_hidden, use_bias=False, **dense)
        self.output = linear(decoder_hidden, target_vocab_size, **dense)

    def _check_source(self, source: Any, source_lengths: Any) -> tuple[jax.Array, jax.Array]:
        source = jnp.asarray(source)
        if source.ndim != 2 or not jnp.issubdtype(source.dtype, jnp.integer):
            raise ValueError(
                f"source must be integer token ids of shape (batch, source_time); got shape "
                f"{tuple(source.shape)} and dtype {source.dtype}"
            )
        source_lengths = jnp.asarray(source_lengths)
        mask = sequence_mask(source_lengths, None, *source.shape)
        return source, mask

    def encode(self, source: jax.Array, source_lengths: jax.Array) -> dict[str, Any]:
        """Runs the encoder and everything the decoder needs once per sequence.

        Args:
            source: token ids ``(B, T_src)``, right-padded.
            source_lengths: ``(B,)`` in ``[0, T_src]``.

        Returns:
            ``{"keys": (B, T_src, 2H), "projected_keys": (B, T_src, A), "mask": (B, T_src),
            "initial_state": the decoder's initial state}``.

        Raises:
            ValueError: naming the argument and the expected shape, for bad inputs.
        """
        source, mask = self._check_source(source, source_lengths)
        keys, (forward_carry, backward_carry) = self.encoder(
            self.source_embed(source), lengths=source_lengths
        )
        final_h = jnp.concatenate([forward_carry.h, backward_carry.h], axis=-1)
        carry = self.decoder_cell.initial_carry((source.shape[0],), self.decoder_hidden)
        carry = carry._replace(h=jnp.tanh(self.bridge(final_h)))
        attentional = jnp.zeros((source.shape[0], self.decoder_hidden), keys.dtype)
        return {
            "keys": keys,
            "projected_keys": self.attention.project_keys(keys),
            "mask": mask,
            "initial_state": _DecoderState(carry, attentional),
        }

    def _decode_step(
        self, encoded: Mapping[str, Any], state: _DecoderState, previous_tokens: jax.Array
    ) -> tuple[_DecoderState, tuple[jax.Array, jax.Array]]:
        """One decoder step: ``(state, y_{t-1} (B,)) -> (state, (logits (B, V), a_t (B, T)))``."""
        inputs = jnp.concatenate([self.target_embed(previous_tokens), state.attentional], axis=-1)
        params = {name: param[...] for name, param in self.decoder_params.items()}
        cell = self.step_cell
        # The cell's input projection expects a time axis; here it has one step.
        projected = jax.tree.map(lambda a: a[:, 0], cell.project(params, inputs[:, None]))
        carry, h = cell.step(params, state.cell_carry, projected)
        context, weights = self.attention(
            h, encoded["keys"], mask=encoded["mask"], projected_keys=encoded["projected_keys"]
        )
        attentional = jnp.tanh(self.combine(jnp.concatenate([h, context], axis=-1)))
        return _DecoderState(carry, attentional), (self.output(attentional), weights[..., 0])

    def __call__(
        self, source: jax.Array, source_lengths: jax.Array, target_in: jax.Array
    ) -> tuple[jax.Array, jax.Array]:
        """Teacher forcing: decodes ``target_in`` (BOS then the target) in one ``lax.scan``.

        Args:
            source: token ids ``(B, T_src)``, right-padded.
            source_lengths: ``(B,)``.
            target_in: token ids ``(B, T_out)``; step ``t`` reads ``target_in[:, t]``.

        Returns:
            ``(logits (B, T_out, V), attention weights (B, T_out, T_src))``.

        Raises:
            ValueError: naming the argument and the expected shape, for bad inputs.
        """
        source, _ = self._check_source(source, source_lengths)
        batch = source.shape[0]
        target_in = jnp.asarray(target_in)
        if (
            target_in.ndim != 2
            or target_in.shape[0] != batch
            or not jnp.issubdtype(target_in.dtype, jnp.integer)
        ):
            raise ValueError(
                f"target_in must be integer token ids of shape (batch, target_time) with batch = "
                f"{batch}; got shape {tuple(target_in.shape)} and dtype {target_in.dtype}"
            )
        encoded = self.encode(source, source_lengths)

        def body(state: _DecoderState, tokens: jax.Array) -> tuple[_DecoderState, Any]:
            return self._decode_step(encoded, state, tokens)

        _, (logits, weights) = jax.lax.scan(
            body, encoded["initial_state"], jnp.swapaxes(target_in, 0, 1)
        )
        return jnp.swapaxes(logits, 0, 1), jnp.swapaxes(weights, 0, 1)

    def greedy_decode(
        self, source: jax.Array, source_lengths: jax.Array, max_length: int
    ) -> tuple[jax.Array, jax.Array]:
        """Greedy decoding: starts from BOS and feeds back the argmax token at every step.

        Args:
            source: token ids ``(B, T_src)``, right-padded.
            source_lengths: ``(B,)``.
            max_length: decoder steps ``T_max``.

        Returns:
            ``(tokens (B, T_max), attention weights (B, T_max, T_src))``; the tokens after the
            first ``eos_id`` of a row are ``pad_id`` (the decoder runs on regardless, fed its own
            argmax, so every step equals teacher forcing on the greedy tokens).
        """
        check_positive_int(max_length, "max_length")
        encoded = self.encode(source, source_lengths)
        batch = encoded["keys"].shape[0]

        def body(carry: tuple[_DecoderState, jax.Array], _: Any) -> tuple[Any, Any]:
            state, tokens = carry
            state, (logits, weights) = self._decode_step(encoded, state, tokens)
            predicted = jnp.argmax(logits, axis=-1).astype(jnp.int32)
            return (state, predicted), (predicted, weights)

        start = jnp.full((batch,), self.bos_id, jnp.int32)
        _, (tokens, weights) = jax.lax.scan(
            body, (encoded["initial_state"], start), None, length=max_length
        )
        tokens, weights = jnp.swapaxes(tokens, 0, 1), jnp.swapaxes(weights, 0, 1)
        # Positions after the first EOS (the EOS itself stays).
        after_eos = jnp.cumsum(tokens == self.eos_id, axis=1) - (tokens == self.eos_id) > 0
        return jnp.where(after_eos, self.pad_id, tokens), weights
