"""Models: the ChordMixer backbone (no I/O here); :mod:`genomix.models.fast` makes it fast."""

from genomix.models.chordmixer import ChordMixer, ChordMixerEncoder

__all__ = ["ChordMixer", "ChordMixerEncoder"]
