"""genomix: classify long DNA sequences with ChordMixer.

The model classes and the Python API (:func:`genomix.load`, :mod:`genomix.inference.model`) are
imported lazily so that ``import genomix`` (and the CLI's ``--help``) stays fast and the I/O layer
never pulls in torch. Importing genomix changes nothing in the process;
CPU tuning is the explicit call :func:`genomix.models.fast.tune_cpu`.
"""

__version__ = "0.1.0"

__all__ = ["ChordMixer", "ChordMixerEncoder", "Model", "load", "__version__"]


def __getattr__(name: str):
    if name in ("ChordMixer", "ChordMixerEncoder"):
        from genomix.models import chordmixer

        return getattr(chordmixer, name)
    if name in ("load", "Model"):  # the Python API: genomix.load("RUN/best.pt" or an exported folder)
        from genomix.inference import model

        return getattr(model, name)
    raise AttributeError(f"module 'genomix' has no attribute {name!r}")
