"""Models: the ChordMixer backbone (no I/O here)."""

from genomix.models.chordmixer import ChordMixer, ChordMixerEncoder

__all__ = ["ChordMixer", "ChordMixerEncoder"]
