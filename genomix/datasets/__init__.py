"""Datasets: builders per task, the HDF5 dataset file (format version 1) and its reader."""
