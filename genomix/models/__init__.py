"""Models: the ChordMixer backbone and the ref/alt model (no I/O here).

:mod:`.chordmixer` is the definition; :mod:`.fast` makes it fast; :mod:`.config` holds the options and
:func:`build_model` builds any model from them.
"""

from genomix.models.chordmixer import ChordMixer, ChordMixerEncoder
from genomix.models.config import ModelConfig
from genomix.models.factory import build_model

__all__ = ["ChordMixer", "ChordMixerEncoder", "ModelConfig", "build_model"]
