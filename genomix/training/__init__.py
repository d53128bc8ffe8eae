"""Training, evaluation and baselines: the loop, checkpoints, metrics, plots, DDP.

Modules: ``config`` (options), ``loop`` (the trainer), ``checkpoint`` (save/load, ``load_model``),
``metrics``, ``plots``, ``evaluate``, ``baseline`` (k-mer reference), ``distributed`` (torchrun/DDP),
``tasks`` (what a dataset's task means for the model and the loss), ``rundir`` (run folder files).
"""
