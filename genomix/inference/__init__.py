"""Inference: scoring and annotation with trained models (torch; reads inputs through genomix.io)."""
