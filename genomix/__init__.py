"""genomix: classify long DNA sequences with ChordMixer.

The model classes are imported lazily so that ``import genomix`` (and the CLI's ``--help``)
stays fast and the I/O layer never pulls in torch.
"""

import os as _os

__version__ = "0.1.0"

# Large CPU tensors on 2 MB transparent huge pages (read by PyTorch's CPU allocator; works as long as
# it is set before the first large allocation). Fresh megabyte-size activations are then faulted in
# 512x fewer pages and the rotation's long-range gathers miss the TLB far less: measured in
# docs/benchmarks.md. Set THP_MEM_ALLOC_ENABLE=0 to opt out.
_os.environ.setdefault("THP_MEM_ALLOC_ENABLE", "1")

__all__ = ["ChordMixer", "ChordMixerEncoder", "__version__"]


def __getattr__(name: str):
    if name in ("ChordMixer", "ChordMixerEncoder"):
        from genomix.models import chordmixer

        return getattr(chordmixer, name)
    raise AttributeError(f"module 'genomix' has no attribute {name!r}")
