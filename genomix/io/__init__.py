"""Readers of the input formats genomix builds datasets from: one module per format, no torch."""
