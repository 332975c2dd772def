"""What the fused recurrence derives from a cell's ``update``, by tracing it.

Nothing here is declared by a cell: which stored values vary from step to step, which
parameters ``update`` reads, whether it reads ``xp_t`` and ``hp_t`` only as their sum, and in
how many gate blocks it splits ``xp_t``.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
from jax.extend.core import Literal

__all__ = [
    "added_by_project",
    "depends_on",
    "exact_rounding_removed",
    "hp_terms",
    "keep_activations",
    "multiplied",
    "params_read",
    "passed_through",
    "random_draws",
    "reads_precede",
    "row_blocks_of",
    "spec",
]


def spec(tree: Any) -> Any:
    """``tree`` with every array as a ``jax.ShapeDtypeStruct`` of its shape and dtype."""
    return jax.tree.map(lambda a: jax.ShapeDtypeStruct(jnp.shape(a), jnp.result_type(a)), tree)


# What the linear map of a step keeps: the results of these primitives, the activations (the
# rest is cheap arithmetic, recomputed).
_ACTIVATIONS = frozenset(
    {"logistic", "tanh", "exp", "exp2", "log", "log1p", "expm1", "sqrt", "rsqrt", "cbrt", "pow",
     "erf", "erf_inv", "sin", "cos", "tan", "atan2", "div"}
)  # fmt: skip


def random_draws(seed: int = 0) -> Callable[[Any], Any]:
    """A function that maps a pytree of shapes to fresh standard-normal arrays of those shapes.

    Every call draws new values (keys ``fold_in(key(seed), 0, 1, ...)``); the probes that
    decide what the fused recurrence derives evaluate a cell's functions at such points.
    """
    keys = (jax.random.fold_in(jax.random.key(seed), i) for i in itertools.count())

    def draw(tree: Any) -> Any:
        return jax.tree.map(lambda s: jax.random.normal(next(keys), s.shape, s.dtype), tree)

    return draw


def keep_activations(primitive: Any, *args: Any, **params: Any) -> bool:
    """A ``jax.checkpoint`` policy: keep activations and the parts that ``split`` cuts.

    Activations are the results of nonlinear elementwise functions. Keeping the parts that
    ``split`` cuts lets a step keep the gate block it needs (e.g. the GRU's ``U_n h + b_n``)
    rather than the whole product it was cut from.
    """
    return primitive.name in _ACTIVATIONS or primitive.name == "split"


def _vars(atoms: Any) -> list:
    return [a for a in atoms if not isinstance(a, Literal)]


def depends_on(fn: Callable[..., list], args: tuple, inputs: Any) -> list[bool]:
    """Per output of ``fn(*args)``: whether a leaf of ``args`` numbered in ``inputs`` reaches it.

    The leaves are numbered in the order of ``jax.tree.leaves(args)``.
    """
    jaxpr = jax.make_jaxpr(fn)(*spec(args)).jaxpr
    reached = {jaxpr.invars[i] for i in inputs}
    for eqn in jaxpr.eqns:
        if any(v in reached for v in _vars(eqn.invars)):
            reached.update(eqn.outvars)
    return [not isinstance(v, Literal) and v in reached for v in jaxpr.outvars]


def reads_precede(fn: Callable[..., list], args: tuple, inputs: Any, outputs: Any) -> bool:
    """Whether every reader of the leaves ``inputs`` of ``fn(*args)`` flows into ``outputs``.

    A reader is an operation that reads a leaf numbered in ``inputs``, or a part that ``split``
    cuts from one; ``outputs`` numbers outputs of ``fn``.

    The fused recurrence writes a step's stored values over the step's row of the projection,
    which the step reads: XLA writes in place only where every read of the row comes first,
    that is, where every read flows into what is written, and copies the whole buffer at every
    step otherwise.
    """
    jaxpr = jax.make_jaxpr(fn)(*spec(args)).jaxpr
    reads, readers = {jaxpr.invars[i] for i in inputs}, []
    for eqn in jaxpr.eqns:
        if any(v in reads for v in _vars(eqn.invars)):
            if eqn.primitive.name == "split":
                reads.update(eqn.outvars)
            else:
                readers.append(eqn)
    written = {jaxpr.outvars[k] for k in outputs} - {None}
    before = set(_vars(written))
    for eqn in reversed(jaxpr.eqns):
        if any(v in before for v in eqn.outvars):
            before.update(_vars(eqn.invars))
    returned = {v for k, v in enumerate(jaxpr.outvars) if k not in set(outputs)}
    return all(any(v in before for v in eqn.outvars) for eqn in readers) and not any(
        v in reads for v in _vars(returned)
    )


# Operations that move, cut, join or cast an array but compute nothing from its values.
_LAYOUT = frozenset(
    {"convert_element_type", "slice", "dynamic_slice", "split", "reshape", "transpose", "squeeze",
     "expand_dims", "broadcast_in_dim", "concatenate", "copy"}
)  # fmt: skip


def _sub_jaxprs(eqn: Any) -> list:
    """The jaxprs nested in ``eqn`` (of ``jit``, ``checkpoint``, ``custom_jvp``, ``scan``, ...)."""
    subs = []
    for value in eqn.params.values():
        for sub in value if isinstance(value, tuple | list) else (value,):
            if isinstance(sub, jax.extend.core.ClosedJaxpr):
                subs.append(sub.jaxpr)
            elif isinstance(sub, jax.extend.core.Jaxpr):
                subs.append(sub)
    return subs


def _multiplied_in(jaxpr: Any, sources: list[set]) -> set:
    """The leaves that reach an operand of a ``dot_general`` of ``jaxpr`` or of one nested in it.

    ``sources[k]`` are the leaves that ``jaxpr.invars[k]`` is a layout of.
    """
    source = dict(zip(jaxpr.invars, sources, strict=True))
    found = set()
    for eqn in jaxpr.eqns:
        carried = [set() if isinstance(v, Literal) else source.get(v, set()) for v in eqn.invars]
        reached = set().union(*carried)
        if not reached:
            continue
        if eqn.primitive.name == "dot_general":
            found |= reached
        elif eqn.primitive.name in _LAYOUT:
            source.update(dict.fromkeys(eqn.outvars, reached))
        for sub in _sub_jaxprs(eqn):
            # A nested jaxpr's inputs are the last of the equation's (cond's first is its index).
            inner = carried[len(carried) - len(sub.invars) :]
            found |= _multiplied_in(sub, inner) if len(inner) == len(sub.invars) else reached
    return found


@functools.cache
def _multiplied_at(fn: Callable, leaves: tuple, treedef: Any, count: int) -> tuple[bool, ...]:
    jaxpr = jax.make_jaxpr(fn)(*jax.tree.unflatten(treedef, leaves)).jaxpr
    sources = [{i} if i < count else set() for i in range(len(jaxpr.invars))]
    found = _multiplied_in(jaxpr, sources)
    return tuple(i in found for i in range(count))


def multiplied(fn: Callable[..., Any], params: Any, *args: Any) -> list[bool]:
    """Per leaf of ``params``: whether ``fn(params, *args)`` takes a matrix product of it.

    That is, whether the leaf, or a slice, reshape, transpose, join or cast of it, is an operand
    of a ``dot_general``, also inside a nested ``jit``, ``checkpoint`` or ``scan``: a kernel,
    but not a bias or a gain that a product meets afterwards.
    """
    leaves, treedef = jax.tree.flatten(spec((params, *args)))
    return list(_multiplied_at(fn, tuple(leaves), treedef, len(jax.tree.leaves(params))))


def passed_through(fn: Callable[..., list], *args: Any) -> list[int | None]:
    """Per output of ``fn(*args)``: the index of the leaf of ``args`` it is, or ``None``."""
    jaxpr = jax.make_jaxpr(fn)(*spec(args)).jaxpr
    position = {v: i for i, v in enumerate(jaxpr.invars)}
    return [None if isinstance(v, Literal) else position.get(v) for v in jaxpr.outvars]


def params_read(update: Callable, params: Any, *step: Any) -> list[bool]:
    """Per leaf of ``params``: whether ``update(params, *step)`` reads it at all."""
    jaxpr = jax.make_jaxpr(update)(*spec((params, *step))).jaxpr
    read = {v for eqn in jaxpr.eqns for v in eqn.invars if not isinstance(v, Literal)}
    read.update(v for v in jaxpr.outvars if not isinstance(v, Literal))
    return [v in read for v in jaxpr.invars[: len(jax.tree.leaves(params))]]


@functools.cache
def _hp_terms_at(update: Callable, leaves: tuple, treedef: Any) -> tuple[bool, tuple[bool, ...]]:
    """:func:`hp_terms` at the shapes ``leaves`` of ``(params, carry, xp_t, hp_t)``."""
    draw, hp = random_draws(), len(leaves) - 1

    def tangent(point: list, i: int, direction: jax.Array) -> list[jax.Array]:
        def moved(v: jax.Array) -> Any:
            return update(*jax.tree.unflatten(treedef, [*point[:i], v, *point[i + 1 :]]))[:2]

        return jax.tree.leaves(jax.jvp(moved, (point[i],), (direction,))[1])

    def enters_as_hp(i: int, shape: tuple) -> bool:
        if (leaves[i].shape, leaves[i].dtype) != (shape, leaves[hp].dtype):
            return False
        for point, direction in [(list(draw(leaves)), draw(leaves[i])) for _ in range(2)]:
            as_hp = tangent(point, hp, jnp.broadcast_to(direction, leaves[hp].shape))
            if not all(map(jnp.array_equal, tangent(point, i, direction), as_hp)):
                return False
        return True

    params = treedef.children()[0].num_leaves
    shape = leaves[hp].shape
    return enters_as_hp(hp - 1, shape), tuple(enters_as_hp(i, shape[-1:]) for i in range(params))


@functools.cache
def _added_by_project_at(project: Callable, leaves: tuple, treedef: Any) -> tuple[bool, ...]:
    params, rows = jax.tree.unflatten(treedef, leaves)
    p_leaves, p_tree = jax.tree.flatten(params)
    out = jax.eval_shape(project, params, rows)
    if not isinstance(out, jax.ShapeDtypeStruct):
        return (False,) * len(p_leaves)
    draw = random_draws()

    def adds(i: int, flat: list[jax.Array], x: jax.Array) -> bool:
        without = jax.tree.unflatten(p_tree, [*flat[:i], jnp.zeros_like(flat[i]), *flat[i + 1 :]])
        with_it = project(jax.tree.unflatten(p_tree, flat), x)
        return bool(jnp.array_equal(with_it, project(without, x) + flat[i]))

    points = [(jax.tree.leaves(draw(params)), draw(rows)) for _ in range(2)]
    return tuple(
        leaf.shape == out.shape[-1:] and leaf.dtype == out.dtype
        and all(adds(i, flat, x) for flat, x in points)
        for i, leaf in enumerate(p_leaves)
    )  # fmt: skip


def added_by_project(project: Callable, params: Any, rows: Any) -> list[bool]:
    """Per leaf of ``params``: whether ``project(params, rows)`` adds it as a bias ``(K,)``.

    That is, ``project(params, rows) == project(params with it zero, rows) + it`` to the bit
    at two random points (as for ``xs @ kernel + bias``). The fused recurrence then adds such
    a bias in the time loop, where it costs nothing, instead of in a pass over all ``T * B``
    rows of the projection.
    """
    leaves, treedef = jax.tree.flatten(spec((params, rows)))
    with jax.ensure_compile_time_eval():
        return list(_added_by_project_at(project, tuple(leaves), treedef))


def hp_terms(update: Callable, params: Any, carry: Any, xp_t: Any, hp_t: Any) -> tuple:
    """Which inputs of ``update`` enter it only as terms of ``hp_t``: ``(additive, to_hp)``.

    - ``additive``: whether ``update`` reads ``xp_t`` and ``hp_t`` only as their sum. The
      recurrence then carries one tangent ``d(xp) + d(hp)`` per step instead of two (the LSTM,
      the tanh RNN).
    - ``to_hp``: per leaf of ``params``, whether ``update`` reads it only as a bias ``(K,)``
      added to ``hp_t`` ``(B, K)`` (the GRU's ``recurrent_bias``). The recurrence adds its
      tangent to the one of ``hp_t``, so that reverse mode sums its gradient over all steps at
      once after the loop.

    Each is decided by random probes: moving the input along a random direction moves
    ``update`` exactly as moving ``hp_t`` along the same direction does, to the bit, at two
    random points; that almost never happens unless the input enters only as a term of ``hp_t``.
    """
    if hp_t is None or not isinstance(xp_t, jax.Array | jax.ShapeDtypeStruct):
        return False, [False] * len(jax.tree.leaves(params))
    leaves, treedef = jax.tree.flatten(spec((params, carry, xp_t, hp_t)))
    with jax.ensure_compile_time_eval():
        additive, to_hp = _hp_terms_at(update, tuple(leaves), treedef)
    return additive, list(to_hp)


def row_blocks_of(update: Callable, params: Any, carry: Any, xp_t: Any, hp_t: Any) -> list[int]:
    """Per leaf of ``xp_t``: in how many equal column blocks ``update`` first splits it (or 1).

    The loop then reads each block of a step's row with its own slice (see
    :func:`~gru_lstm_jax.recurrence.fused.read_row`).
    """
    jaxpr = jax.make_jaxpr(update)(*spec((params, carry, xp_t, hp_t))).jaxpr
    first = len(jax.tree.leaves((params, carry)))
    blocks = []
    for var in jaxpr.invars[first : first + len(jax.tree.leaves(xp_t))]:
        uses = [eqn for eqn in jaxpr.eqns if var in eqn.invars] + [var in jaxpr.outvars]
        splits = {
            len(eqn.params["sizes"])
            for eqn in uses[:-1]
            if eqn.primitive.name == "split"
            and eqn.params["axis"] == var.aval.ndim - 1
            and len(set(eqn.params["sizes"])) == 1
        }
        blocks.append(splits.pop() if len(splits) == 1 and len(uses) - 1 == 1 else 1)
    return blocks


def _is_identity_rounding(eqn: Any) -> bool:
    dtype = eqn.invars[0].aval.dtype
    if eqn.primitive.name != "reduce_precision" or dtype.itemsize < 4:
        return False  # 16-bit values may be computed in excess precision: rounding matters
    finfo = jnp.finfo(dtype)
    return (eqn.params["exponent_bits"], eqn.params["mantissa_bits"]) == (finfo.nexp, finfo.nmant)


def exact_rounding_removed(fn: Callable) -> Callable:
    """``fn`` without the roundings of 32- and 64-bit values to their own precision.

    ``jax.checkpoint`` rounds every value it keeps to its own dtype's precision, against
    excess precision (16-bit values computed in 32 bits); XLA (CPU) runs each such rounding
    as a kernel of its own, though for 32- and 64-bit values it is the identity. The result
    is ``fn`` evaluated from its jaxpr with those identities left out.
    """

    def stripped(*args: Any) -> Any:
        closed, shapes = jax.make_jaxpr(fn, return_shape=True)(*args)
        jaxpr, same, eqns = closed.jaxpr, {}, []

        def renamed(atoms: list) -> list:
            return [a if isinstance(a, Literal) else same.get(a, a) for a in atoms]

        for eqn in jaxpr.eqns:
            eqn = eqn.replace(invars=renamed(eqn.invars))
            if _is_identity_rounding(eqn):
                same[eqn.outvars[0]] = eqn.invars[0]
            else:
                eqns.append(eqn)
        jaxpr = jaxpr.replace(eqns=eqns, outvars=renamed(jaxpr.outvars))
        out = jax.core.eval_jaxpr(jaxpr, closed.consts, *jax.tree.leaves(args))
        return jax.tree.unflatten(jax.tree.structure(shapes), out)

    return stripped
