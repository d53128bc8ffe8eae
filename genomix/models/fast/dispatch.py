"""Which fast path may run each block: decided from the block's exact structure, logged, switchable.

A fast path implements one block: ``norm(x + rotate(mix(prenorm(x))))`` with ``mix`` exactly
:class:`~genomix.models.chordmixer.Mlp` (``Linear -> exact GELU -> Dropout -> Linear -> Dropout``), a
genomix norm or none, and no other parameters or hooks. :func:`block_plan` checks that with exact
types (``type(m) is ...``, never ``isinstance``: a subclass may compute something else) and the exact
set of parameter names; a block that is anything else runs its own ``forward`` (the definition).
What depends on the call (device, dtype, active dropout, whether the kernels loaded) is checked per
call by the paths themselves, on attributes this check has guaranteed to exist.

The plan is made when a model first runs and logged in one line; it is re-derived from the modules
on every call (a few microseconds a block), so a block edited or swapped later never runs a path
that does not implement it, and the log line is repeated whenever the plan changes.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import weakref
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from torch import nn

from genomix.models.chordmixer import ChordMixerBlock, ChordMixerEncoder, Mlp
from genomix.models.norms import BatchNorm, GroupNorm, LayerNorm

LOG = logging.getLogger(__name__)

PATHS = ("folded", "fused", "triton", "chunked", "in_place", "groups", "parallel", "checkpoint")
"""The fast paths, each switchable (:func:`use`):

* ``folded``: ATen ops with the prenorm LayerNorm's affine folded into ``fc1`` and the residual's
  gradients summed out of place (:mod:`genomix.models.fast.folded`);
* ``fused``: the block as fused CPU kernels (:mod:`genomix.models.fast.fused`);
* ``triton``: the block as Triton kernels on CUDA rows (:mod:`genomix.models.fast.triton_block`);
* ``chunked``: with checkpointing, the block recomputed in cache-sized chunks (:mod:`.chunked`);
* ``in_place``: inference on long inputs, overwriting the rows chunk by chunk (:mod:`.inference`);
* ``groups`` / ``parallel``: the batch in cache-sized groups of sequences, on separate threads
  (:mod:`.engine`, :mod:`.parallel`);
* ``checkpoint``: activation checkpointing (``grad_checkpointing``), per block or per segment.
"""
_ENABLED: set[str] = set(PATHS)
_LOCK = threading.Lock()
_TRACE: list[list[str]] = []


@dataclass(frozen=True)
class BlockPlan:
    """What may run one block.

    Attributes:
        exact: the block is the one the fast block paths implement (``folded``, ``fused``, ``chunked``,
            ``in_place``); otherwise its own ``forward`` runs.
        kernel_form: also ``prenorm`` is a LayerNorm with affine or none (what ``fused`` and
            ``chunked`` compute).
        position_wise: ``prenorm`` and ``norm`` act on each row alone (``in_place`` chunks rows).
        reason: why, in words (for the log).
    """

    exact: bool
    kernel_form: bool
    position_wise: bool
    reason: str


@dataclass(frozen=True)
class Plan:
    """The plan of an encoder: one :class:`BlockPlan` per block."""

    blocks: tuple[BlockPlan, ...]

    @property
    def all_exact(self) -> bool:
        """Every block is exact: the batch may be split into groups and overwritten in place."""
        return all(block.exact for block in self.blocks)

    def describe(self) -> str:
        """One line: which blocks take which path and why (consecutive equal blocks together)."""
        if not self.blocks:
            return "no blocks"
        parts, start = [], 0
        for end in range(1, len(self.blocks) + 1):
            if end == len(self.blocks) or self.blocks[end] != self.blocks[start]:
                block = self.blocks[start]
                span = f"block {start}" if end - start == 1 else f"blocks {start}-{end - 1}"
                path = "fast paths" if block.exact else "definition"
                parts.append(f"{span}: {path} ({block.reason})")
                start = end
        return "; ".join(parts)


_PRENORMS = (LayerNorm, nn.Identity)
_NORMS = (LayerNorm, BatchNorm, GroupNorm, nn.Identity)


def block_plan(block: nn.Module) -> BlockPlan:
    """The :class:`BlockPlan` of one block (never raises on an unexpected block: it says why)."""
    problem = _not_exact(block)
    if problem is not None:
        return BlockPlan(False, False, False, problem)
    prenorm, norm = type(block.prenorm), type(block.norm)
    kernel_form = prenorm in _PRENORMS
    position_wise = prenorm is not GroupNorm and norm is not GroupNorm
    names = f"prenorm {_norm_name(prenorm)}, norm {_norm_name(norm)}"
    return BlockPlan(True, kernel_form, position_wise, f"exact ChordMixerBlock, {names}")


def _not_exact(block: nn.Module) -> str | None:
    """Why ``block`` is not exactly the block the fast paths implement, or None."""
    if type(block) is not ChordMixerBlock:
        return f"block is {type(block).__name__}, not ChordMixerBlock"
    mix = block._modules.get("mix")
    if type(mix) is not Mlp:
        return f"mix is {type(mix).__name__}, not Mlp"
    if set(mix._modules) != {"fc1", "act", "fc2", "drop"}:
        return f"mix holds modules {sorted(mix._modules)}, not fc1, act, fc2, drop"
    for name in ("fc1", "fc2"):
        linear = mix._modules[name]
        if type(linear) is not nn.Linear or linear.bias is None:
            return f"mix.{name} is not an nn.Linear with bias"
    act = mix._modules["act"]
    if type(act) is not nn.GELU or act.approximate != "none":
        return f"mix.act is {act!r}, not nn.GELU(approximate='none')"
    for name, dropout in (("mix.drop", mix._modules["drop"]), ("dropout", block._modules.get("dropout"))):
        if type(dropout) is not nn.Dropout:
            return f"{name} is {type(dropout).__name__}, not nn.Dropout"
    prenorm, norm = block._modules.get("prenorm"), block._modules.get("norm")
    if type(prenorm) not in _NORMS or type(norm) not in _NORMS:
        kind = type(prenorm if type(prenorm) not in _NORMS else norm).__name__
        return f"a norm is {kind}, not one of genomix's norms"
    for label, module in (("prenorm", prenorm), ("norm", norm)):
        if type(module) is LayerNorm and (module.weight is None or module.bias is None):
            return f"{label} LayerNorm has no affine"
    for wrapper in (prenorm, norm):
        inner = _WRAPPED.get(type(wrapper))
        if inner is not None and type(wrapper._modules.get(inner[0])) is not inner[1]:
            return f"{type(wrapper).__name__}.{inner[0]} is not {inner[1].__name__}"
    return _layout_problem(block)


_WRAPPED = {BatchNorm: ("bn", nn.BatchNorm1d), GroupNorm: ("gn", nn.GroupNorm)}
_AFFINE = ("weight", "bias")
_LAYOUT = {ChordMixerBlock: ((), ("prenorm", "mix", "dropout", "norm")), Mlp: ((), ("fc1", "act", "fc2", "drop")),
           nn.Linear: (_AFFINE, ()), nn.GELU: ((), ()), nn.Dropout: ((), ()), nn.Identity: ((), ()),
           LayerNorm: (_AFFINE, ()), BatchNorm: ((), ("bn",)), nn.BatchNorm1d: (_AFFINE, ()),
           GroupNorm: ((), ("gn",)), nn.GroupNorm: (_AFFINE, ())}
"""Module type -> (its parameter names, its child names) in the block the fast paths implement."""


def _layout_problem(module: nn.Module, prefix: str = "") -> str | None:
    """Why the modules under an (exactly typed) block hold other parameters, children or hooks, or None.

    Compares each module's own dicts with :data:`_LAYOUT` (no generic walk: the plan is re-derived on every
    call, at a few microseconds a block).
    """
    if module._forward_hooks or module._forward_pre_hooks:
        return f"{prefix.rstrip('.') or 'block'} has forward hooks"
    parameters, children = _LAYOUT[type(module)]
    names = [name for name, value in module._parameters.items() if value is not None]
    if set(names) != set(parameters) or set(module._modules) != set(children):
        have = {prefix + name for name in (*names, *module._modules)}
        want = {prefix + name for name in (*parameters, *children)}
        return (f"parameters differ from the fast paths' block (extra {sorted(have - want)}, "
                f"missing {sorted(want - have)})")
    for name in children:
        problem = _layout_problem(module._modules[name], f"{prefix}{name}.")
        if problem is not None:
            return problem
    return None


def _norm_name(kind: type) -> str:
    return {LayerNorm: "LN", BatchNorm: "BN", GroupNorm: "GN", nn.Identity: "None"}[kind]


_LOGGED: weakref.WeakKeyDictionary[ChordMixerEncoder, Plan] = weakref.WeakKeyDictionary()


def plan_for(encoder: ChordMixerEncoder) -> Plan:
    """The plan of ``encoder``'s blocks; logged (INFO) when it is first made and whenever it changes."""
    plan = Plan(tuple(block_plan(block) for block in encoder.chordmixer_blocks))
    with _LOCK:
        if _LOGGED.get(encoder) != plan:
            _LOGGED[encoder] = plan
            LOG.info("ChordMixer %s", plan.describe())
    return plan


def active(path: str | None = None) -> bool:
    """Whether fast path ``path`` is switched on (``None``: whether any is; if none is, the encoder runs
    its definition, :meth:`~genomix.models.chordmixer.ChordMixerEncoder.encode_rows`)."""
    return bool(_ENABLED) if path is None else path in _ENABLED


@contextlib.contextmanager
def use(paths: Iterable[str]) -> Iterator[None]:
    """Switch on exactly ``paths`` (names from :data:`PATHS`) for the duration; ``use(())`` runs the
    definition everywhere. Process-wide (the paths' threads read it too)."""
    paths = set(paths)
    unknown = paths - set(PATHS)
    if unknown:
        raise ValueError(f"unknown fast paths {sorted(unknown)}; known: {', '.join(PATHS)}")
    with _LOCK:
        before = set(_ENABLED)
        _ENABLED.clear()
        _ENABLED.update(paths)
    try:
        yield
    finally:
        with _LOCK:
            _ENABLED.clear()
            _ENABLED.update(before)


@contextlib.contextmanager
def trace() -> Iterator[list[str]]:
    """Record the path that runs each block call: ``with trace() as ran: model(x)`` -> ``['fused', ...]``
    (``'definition'`` for a block's own forward)."""
    record: list[str] = []
    _TRACE.append(record)
    try:
        yield record
    finally:
        _TRACE.remove(record)


def record(path: str) -> None:
    """Note that ``path`` ran a block (for :func:`trace`)."""
    for ran in _TRACE:
        ran.append(path)


__all__ = ["PATHS", "BlockPlan", "Plan", "block_plan", "plan_for", "active", "use", "trace", "record"]
