"""Mixed precision, ``compute_dtype="bfloat16"``: bfloat16 products held to derived bounds.

Notation: ``u = 2^-24`` and ``u_b = 2^-8`` are the unit roundoffs of float32 and bfloat16 (24
and 8 significand bits), ``r(a)`` is ``a`` rounded to bfloat16, ``|A|`` is elementwise.

Three facts carry every bound below:

1. A product of two bfloat16 numbers has at most 16 significant bits, so it is exact in
   float32. A bfloat16 matrix product with float32 accumulation, ``matmul(x, r(W))``, is
   therefore the exact ``r(x) @ r(W)`` up to the float32 summation of ``K`` exact terms, which
   is within ``K u (|r(x)| @ |r(W)|)`` of it in any order (Higham 2002, section 3.1).
2. XLA's float32 ``tanh`` and ``logistic`` are within ``e u`` of the exact values, ``e = 8``
   (the first test checks this premise).
3. ``σ' <= 1/4`` and ``tanh' <= 1``: a gate is off by at most its pre-activation's error plus
   ``e u``.

Against float64 on bfloat16 operands (``test_step_matches_float64_on_bfloat16_operands``). A
float64 NumPy step on ``r(x)``, ``r(W)``, ``r(U)``, ``r(h)`` (for the product only) and the
float32 biases is the exact step of the mixed-precision cell, so the layer may differ from it
by float32 rounding only. Each step of the reference starts from the layer's own carry: a
float32-sized difference in ``h`` could otherwise move ``r(h)`` by a whole bfloat16 step. With
``A_x = |r(x)| @ |r(W)|``, ``A_h = |r(h)| @ |r(U)|`` and biases ``b`` (input side) and ``b_h``
(recurrent side, the GRU's), a pre-activation ``x W + b + h U + b_h`` is two products of ``F``
and ``H`` terms (fact 1) and at most three additions, each rounding by ``u`` times a result no
larger than ``A_x + A_h + |b| + |b_h|``; its error is at most ``u Z``,
``Z = (F + 3) A_x + (H + 3) A_h + 3 (|b| + |b_h|)``, and each gate's at most ``u G``,
``G = Z + e`` (facts 2, 3), the largest over the gates of a unit. Then, to first order in ``u``:

- LSTM, ``c' = f c + i g``, ``h' = o tanh(c')``, every gate in ``[-1, 1]``, ``C = |c|``: the
  three roundings of ``c'`` add ``u (2C + 2)``, so ``|δc'| <= u ((C + 2) G + 2C + 2)`` and
  ``|δh'| <= u G + |δc'| + (e + 1) u``.
- GRU (reset after), ``n = tanh(x_n + b_in + r m)`` with ``m = h U_n + b_hn``, ``M = |m|``,
  ``h' = (1 - z) n + z h`` with ``|n|, |h| <= 1``: the candidate's argument is off by at most
  ``u (Z + M G + M + Z)`` (its two sums, ``r``'s error times ``m``, the product and the sum
  rounded), so ``|δn| <= u (2Z + M (G + 2) + e)`` and
  ``|δh'| <= 2 u G + |δn| + 4 u``.

bfloat16 against float32, first order (``test_each_cells_products_are_within_the_bfloat16_bound``):
``|r(x) r(w) - x w| <= (2 u_b + u_b²) |x| |w|`` exactly, so a product of ``K`` terms in
bfloat16 differs from the float32 one by at most
``(2 u_b + u_b²) A + K u (A + (1 + u_b)² A)``, ``A = |x| @ |w|``, the second term being the
two float32 accumulations (fact 1); a bias added in float32 to both adds ``2 u (A + |b|)``.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import ml_dtypes
import numpy as np
import orbax.checkpoint as ocp
import pytest
from flax import nnx
from numpy_reference import np_sigmoid, random_params

from gru_lstm_jax import RNN
from gru_lstm_jax.cells import available_cells, get_cell, matmul
from gru_lstm_jax.cells.layer_norm_lstm import layer_norm
from gru_lstm_jax.configs import seq2seq, sine
from gru_lstm_jax.models import build_model
from gru_lstm_jax.recurrence import run_scan, with_compute_dtype
from gru_lstm_jax.training import prepare_run, train_and_evaluate

U32, U_BF16, E_ACT = 2.0**-24, 2.0**-8, 8
B, T, F, H = 4, 6, 5, 8
# The package's cells, not those that other tests register in the same process.
BUILT_IN = [
    n for n in available_cells() if get_cell(n).project.__module__.startswith("gru_lstm_jax.cells")
]


def _bf16(a):
    """``a`` rounded to bfloat16, as float64."""
    return np.asarray(a, np.float32).astype(ml_dtypes.bfloat16).astype(np.float64)


def test_float32_activations_are_within_eight_u():
    x = np.concatenate([
        np.linspace(-20, 20, 400_001, dtype=np.float32),
        np.random.default_rng(0).standard_normal(200_000).astype(np.float32) * 3,
    ])  # fmt: skip
    exact = {"tanh": np.tanh(x.astype(np.float64)), "sigmoid": np_sigmoid(x.astype(np.float64))}
    for name, fn in (("tanh", jnp.tanh), ("sigmoid", jax.nn.sigmoid)):
        error = np.abs(np.asarray(jax.jit(fn)(x), np.float64) - exact[name])
        assert error.max() <= E_ACT * U32, (name, error.max() / U32)


def _operands(p, x, h):
    """``r(x)``, ``r(h)`` and the cell's matrices rounded, and ``Z`` without its biases."""
    x, h, W, U = map(_bf16, (x, h, p["kernel"], p["recurrent_kernel"]))
    Z = (F + 3) * (np.abs(x) @ np.abs(W)) + (H + 3) * (np.abs(h) @ np.abs(U))
    return x @ W, h @ U, Z


def _per_unit(Z, gates):
    """The largest of a unit's ``gates`` columns: ``(..., gates * H) -> (..., H)``."""
    return Z.reshape(*Z.shape[:-1], gates, -1).max(axis=-2)


def _reference_lstm(p, x, h, c):
    """A float64 LSTM step on bfloat16 operands: ``(h', c')`` and their bounds."""
    xw, hu, Z = _operands(p, x, h)
    zi, zf, zg, zo = np.split(xw + p["bias"] + hu, 4, axis=-1)
    c_new = np_sigmoid(zf) * c + np_sigmoid(zi) * np.tanh(zg)
    h_new = np_sigmoid(zo) * np.tanh(c_new)
    G = _per_unit(Z + 3 * np.abs(p["bias"]), 4) + E_ACT
    C = np.abs(c)
    c_bound = (C + 2) * G + 2 * C + 2
    return (h_new, c_new), (U32 * (G + c_bound + E_ACT + 1), U32 * c_bound)


def _reference_gru(p, x, h):
    """A float64 GRU step (reset after) on bfloat16 operands: ``(h',)`` and its bound."""
    xw, hu, Z = _operands(p, x, h)
    xr, xz, xn = np.split(xw + p["bias"], 3, axis=-1)
    hr, hz, m = np.split(hu + p["recurrent_bias"], 3, axis=-1)
    r, z = np_sigmoid(xr + hr), np_sigmoid(xz + hz)
    h_new = (1 - z) * np.tanh(xn + r * m) + z * h
    Z = _per_unit(Z + 3 * (np.abs(p["bias"]) + np.abs(p["recurrent_bias"])), 3)
    G = Z + E_ACT
    n_bound = 2 * Z + np.abs(m) * (G + 2) + E_ACT
    return (h_new,), (U32 * (2 * G + n_bound + 4),)


@pytest.mark.parametrize("name", ["lstm", "gru"])
def test_step_matches_float64_on_bfloat16_operands(name, rng):
    cell = get_cell(name)
    params = random_params(cell, 3, F, H)
    xs = rng.normal(size=(B, T, F)).astype(np.float32)
    carry0 = cell.initial_carry((B,), H)
    carry0 = jax.tree.map(lambda a: rng.uniform(-1, 1, a.shape).astype(np.float32), carry0)
    p = {k: np.asarray(v, np.float64) for k, v in params.items()}
    reference = _reference_lstm if name == "lstm" else _reference_gru
    mixed = with_compute_dtype(cell, jnp.bfloat16)
    for implementation in ("fused", "scan"):
        out = run_scan(
            mixed, params, xs, initial_carry=carry0, return_carries=True,
            implementation=implementation,
        )  # fmt: skip
        carries = [np.asarray(a, np.float64) for a in out.carries]
        for t in range(T):
            before = [a[:, t - 1] for a in carries] if t else [np.asarray(a) for a in carry0]
            expected, bounds = reference(p, xs[:, t], *before)
            for got, want, bound in zip([a[:, t] for a in carries], expected, bounds, strict=True):
                error = np.abs(got - want)
                assert np.all(error <= bound), (implementation, t, np.max(error / bound))
    layer = RNN(cell, F, H, return_sequences=True, compute_dtype="bfloat16", rngs=nnx.Rngs(0))
    layer.load_cell_params(params)
    fused = run_scan(mixed, params, xs, initial_carry=carry0, implementation="fused").outputs
    np.testing.assert_array_equal(layer(xs, initial_state=carry0), fused)


@pytest.mark.parametrize("name", BUILT_IN)
def test_each_cells_products_are_within_the_bfloat16_bound(name, rng):
    cell = get_cell(name)
    mixed = with_compute_dtype(cell, jnp.bfloat16)
    params = random_params(cell, 5, F, H)
    xs = rng.normal(size=(B, T, F)).astype(np.float32)
    h = rng.uniform(-1, 1, (B, H)).astype(np.float32)

    def bound(a, w, terms, bias=0.0):
        A = np.abs(np.asarray(a, np.float64)) @ np.abs(np.asarray(w, np.float64))
        rounding = (2 * U_BF16 + U_BF16**2) * A
        return rounding + terms * U32 * (2 + 3 * U_BF16) * A + 2 * U32 * (A + np.abs(bias))

    kernel = params["kernel"]
    if name == "layer_norm_lstm":  # its projection normalises the product: check the product
        products = [(matmul(xs, kernel.astype(jnp.bfloat16)), xs @ kernel, bound(xs, kernel, F))]
        # ... and that the cell's projection is exactly the normalised bfloat16 product.
        expected = layer_norm(products[0][0], params["ln_x"]) + params["bias"]
        np.testing.assert_array_equal(mixed.project(params, xs), expected)
    else:
        projection = bound(xs, kernel, F, params["bias"])
        products = [(mixed.project(params, xs), cell.project(params, xs), projection)]
    if cell.recurrent_kernel is not None:
        U = cell.recurrent_kernel(params)
        products.append(
            (mixed.recurrent_product(params, h), cell.recurrent_product(params, h), bound(h, U, H))
        )
    for mixed_product, product, limit in products:
        assert mixed_product.dtype == jnp.float32
        error = np.abs(np.asarray(mixed_product, np.float64) - np.asarray(product, np.float64))
        assert np.all(error <= limit), np.max(error / limit)
        assert np.max(error) > 0  # bfloat16 did round


def _dot_generals(jaxpr):
    """Every ``dot_general`` of ``jaxpr`` and of the jaxprs nested in it."""
    for eqn in jaxpr.eqns:
        if eqn.primitive.name == "dot_general":
            yield eqn
        for value in eqn.params.values():
            for sub in value if isinstance(value, tuple | list) else (value,):
                if isinstance(sub, jax.extend.core.ClosedJaxpr):
                    yield from _dot_generals(sub.jaxpr)
                elif isinstance(sub, jax.extend.core.Jaxpr):
                    yield from _dot_generals(sub)


def _both_paths(name, xs):
    """``(jitted params -> [(outputs, carry), grads] per path, params)`` of a bfloat16 layer."""
    layer = RNN(
        name, F, H, return_sequences=True, return_state=True, compute_dtype="bfloat16",
        implementation="fused", rngs=nnx.Rngs(0),
    )  # fmt: skip
    scan_layer = nnx.clone(layer)
    scan_layer.implementation = "scan"
    layers = [layer, scan_layer]

    def run(params):
        def loss(params, graph):
            outputs, carry = nnx.merge(graph, params)(xs)
            return jnp.sum(outputs**2), (outputs, carry)

        derivative = jax.value_and_grad(loss, has_aux=True)
        return [(out, grads) for (_, out), grads in (
            derivative(params, nnx.graphdef(layer)) for layer in layers
        )]  # fmt: skip

    return jax.jit(run), nnx.state(layers[0], nnx.Param), layers[0]


def test_every_cell_runs_in_bfloat16_on_both_paths(rng):
    """Fused and scan in bfloat16: float32 state, parameters and gradients; bfloat16 products.

    The paths take the same bfloat16 products of the same operands, so they differ by float32
    rounding, unless such a difference moves a bfloat16 rounding of ``h`` by one step
    ``u_b |h|``, which a product passes on as at most ``u_b (|h| @ |U|)`` (the tolerance of the
    outputs). Their gradients differ where bfloat16 rounds them: the scan rounds each step's
    part of a matrix's gradient (the cotangent of a bfloat16 value), the fused path the sum,
    so they agree to ``2 u_b T max|g|``. Every cell runs in one program: one compilation.
    """
    xs = jnp.asarray(rng.normal(size=(B, T, F)), jnp.float32)
    cells = {name: _both_paths(name, xs) for name in BUILT_IN}
    for name, (run, params, _) in cells.items():
        # Every product takes a bfloat16 operand and gives float32: the forward ones take two,
        # their derivatives (JAX's transposes) a float32 cotangent and the other factor.
        dots = [[v.aval.dtype for v in (*eqn.invars, *eqn.outvars)] for eqn in _dot_generals(
            run.trace(params).jaxpr.jaxpr
        )]  # fmt: skip
        assert [jnp.bfloat16, jnp.bfloat16, jnp.float32] in dots, name
        assert all(d[2] == jnp.float32 and jnp.bfloat16 in d[:2] for d in dots), (name, dots)
    results = jax.jit(lambda every: {name: cells[name][0](every[name]) for name in every})(
        {name: params for name, (_, params, _) in cells.items()}
    )
    for name, ((fused, fused_grads), (scan, scan_grads)) in results.items():
        _, params, layer = cells[name]
        for leaf in jax.tree.leaves((fused, scan, params)):
            assert leaf.dtype == jnp.float32, name
        for leaf in jax.tree.leaves((fused_grads, scan_grads)):
            assert leaf.dtype == jnp.float32 and np.all(np.isfinite(leaf)), name
        atol = 0.0
        if layer.cell.recurrent_kernel is not None:
            U = np.abs(np.asarray(layer.cell.recurrent_kernel(layer.cell_params())))
            atol = U_BF16 * np.max(np.abs(np.asarray(fused[0])) @ U)
        for a, b in zip(jax.tree.leaves(fused), jax.tree.leaves(scan), strict=True):
            np.testing.assert_allclose(a, b, rtol=0, atol=atol + 1e-6, err_msg=name)
        scale = max(np.max(np.abs(g)) for g in jax.tree.leaves(fused_grads))
        for a, b in zip(jax.tree.leaves(fused_grads), jax.tree.leaves(scan_grads), strict=True):
            np.testing.assert_allclose(a, b, rtol=0, atol=2 * U_BF16 * T * scale, err_msg=name)


@pytest.mark.parametrize("name", BUILT_IN)
def test_bfloat16_cells_cast_exactly_the_matrices_they_multiply(name):
    # Biases (the GRU's recurrent_bias too), peepholes and gains stay float32.
    matrices = {
        "lstm_fgr": {"kernel", "recurrent_kernel", "gate_recurrent_kernel"},
        "min_gru": {"kernel"},
        "min_lstm": {"kernel"},
    }.get(name, {"kernel", "recurrent_kernel"})
    cell = get_cell(name)
    mixed = with_compute_dtype(cell, jnp.bfloat16)
    params = cell.init(jax.random.key(0), F, H)
    carry = cell.initial_carry((B,), H)

    def step(params):
        projected = mixed.project(params, jnp.zeros((B, 1, F)))
        return mixed.step(params, carry, jax.tree.map(lambda a: a[:, 0], projected))

    jaxpr = jax.make_jaxpr(step)(params).jaxpr
    source = dict(zip(jaxpr.invars, sorted(params), strict=True))
    cast = set()
    for eqn in (e for e in jaxpr.eqns if isinstance(e.invars[0], jax.extend.core.Var)):
        if eqn.invars[0] in source and eqn.primitive.name == "slice":
            source[eqn.outvars[0]] = source[eqn.invars[0]]
        if eqn.invars[0] in source and eqn.outvars[0].aval.dtype == jnp.bfloat16:
            cast.add(source[eqn.invars[0]])
    assert cast == matrices, name


def test_a_product_inside_a_nested_jit_is_cast_too(rng):
    rnn = get_cell("rnn")
    jitted = jax.jit(matmul)
    cell = dataclasses.replace(
        rnn, name="rnn_jitted", project=lambda p, xs: jitted(xs, p["kernel"]) + p["bias"]
    )
    params = rnn.init(jax.random.key(0), F, H)
    xs = jnp.asarray(rng.normal(size=(B, T, F)), jnp.float32)
    projected = with_compute_dtype(cell, jnp.bfloat16).project(params, xs)
    expected = matmul(xs, params["kernel"].astype(jnp.bfloat16)) + params["bias"]
    np.testing.assert_array_equal(projected, expected)
    assert not np.array_equal(projected, cell.project(params, xs))


def test_float32_is_the_cell_itself_and_matmul_is_x_at_w(rng):
    for name in BUILT_IN:
        assert with_compute_dtype(get_cell(name), "float32") is get_cell(name)
    x, w = jnp.ones((2, 3, 4)), jnp.ones((4, 5))
    assert str(jax.make_jaxpr(matmul)(x, w)) == str(jax.make_jaxpr(jnp.matmul)(x, w))
    with jax.enable_x64(True):
        x64, w64 = x.astype(jnp.float64), w.astype(jnp.float64)
        assert str(jax.make_jaxpr(matmul)(x64, w64)) == str(jax.make_jaxpr(jnp.matmul)(x64, w64))
    layer = RNN("lstm", F, H, return_sequences=True, compute_dtype="float32", rngs=nnx.Rngs(0))
    xs = rng.normal(size=(B, T, F)).astype(np.float32)
    graph, params = nnx.split(layer, nnx.Param)
    program = jax.make_jaxpr(jax.grad(lambda p: jnp.sum(nnx.merge(graph, p)(xs))))(params)
    assert "bf16" not in str(program)
    p = {k: np.asarray(v, np.float64) for k, v in layer.cell_params().items()}
    h = c = np.zeros((B, H))
    for t in range(T):
        zi, zf, zg, zo = np.split(
            xs[:, t] @ p["kernel"] + h @ p["recurrent_kernel"] + p["bias"], 4, -1
        )
        c = np_sigmoid(zf) * c + np_sigmoid(zi) * np.tanh(zg)
        h = np_sigmoid(zo) * np.tanh(c)
        np.testing.assert_allclose(layer(xs)[:, t], h, atol=1e-5)


def test_bad_compute_dtype_names_the_argument():
    with pytest.raises(ValueError, match=r"compute_dtype must be 'float32' or 'bfloat16'"):
        RNN("lstm", F, H, compute_dtype="float16", rngs=nnx.Rngs(0))
    layer = RNN("lstm", F, H, implementation="cudnn", compute_dtype="bfloat16", rngs=nnx.Rngs(0))
    with pytest.raises(ValueError, match=r"cannot run cell 'lstm in bfloat16' \(only the float32"):
        layer(jnp.ones((2, 3, F)))


@pytest.mark.parametrize("config", [sine.get_config("smoke"), seq2seq.get_config("smoke")])
def test_config_compute_dtype_reaches_every_layer_and_the_outputs_stay_float32(config):
    config.model.compute_dtype = "bfloat16"
    run = prepare_run(config)
    modules = [module for _, module in nnx.iter_graph(run.model)]
    layers = [m for m in modules if isinstance(m, RNN)]
    dense = [m for m in modules if isinstance(m, nnx.Linear)]
    assert layers and dense
    assert all(m.compute_dtype == jnp.bfloat16 for m in layers)
    assert all(m.dtype == jnp.bfloat16 and m.preferred_element_type == jnp.float32 for m in dense)
    batch = next(iter(run.eval_batches(run.splits["val"])))
    predictions = jax.eval_shape(run.steps.predict, nnx.state(run.model, nnx.Param), batch)
    assert {str(leaf.dtype) for leaf in jax.tree.leaves(predictions)} <= {"float32", "int32"}


@pytest.mark.parametrize("kind", ["classifier", "text_classifier"])
def test_build_model_passes_compute_dtype(kind):
    config = {"kind": kind, "cell": "gru", "hidden_sizes": (4,), "compute_dtype": "bfloat16"}
    if kind == "text_classifier":
        config.update(embed_dim=3, pooling="attention")
    model = build_model(config, 10, 1, 7, rngs=nnx.Rngs(0))
    modules = [module for _, module in nnx.iter_graph(model)]
    assert all(m.compute_dtype == jnp.bfloat16 for m in modules if isinstance(m, RNN))
    assert all(m.dtype == jnp.bfloat16 for m in modules if isinstance(m, nnx.Linear))
    inputs = jnp.ones((2, 7), int) if kind == "text_classifier" else jnp.ones((2, 7, 10))
    assert jax.eval_shape(model, inputs).dtype == jnp.float32


def test_bfloat16_run_trains_and_checkpoints_float32_parameters(tmp_path):
    config = sine.get_config("smoke")
    config.model.compute_dtype = "bfloat16"
    results = train_and_evaluate(config, tmp_path / "run")
    # It trains as float32 does: the same run in float32 ends within 2^-5 of its losses (bf16
    # rounds each product by 2^-8; the runs drift apart over the training steps).
    reference = train_and_evaluate(sine.get_config("smoke"), tmp_path / "float32")
    for split in ("train", "val", "test"):
        loss, float32 = results["final"][split]["loss"], reference["final"][split]["loss"]
        assert loss != float32 and abs(loss - float32) <= 2**-5 * float32, split
    last = tmp_path / "run" / "checkpoints" / "last"
    step = max(int(p.name) for p in last.iterdir() if p.name.isdigit())
    saved = ocp.StandardCheckpointer().metadata(last / str(step) / "default").item_metadata.tree
    assert {str(leaf.dtype) for leaf in jax.tree.leaves(saved["params"])} == {"float32"}


def test_bad_config_compute_dtype_names_the_field(tmp_path):
    config = sine.get_config("smoke")
    config.model.compute_dtype = "float16"
    with pytest.raises(ValueError, match=r"config\.model\.compute_dtype must be 'float32' or"):
        train_and_evaluate(config, tmp_path / "run")
    assert not (tmp_path / "run").exists()
