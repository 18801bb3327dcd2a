"""Plain ``torch.nn.Module`` models. Nothing here imports Lightning.

Every model is built from ``data_config`` (a DataModule's ``config()``: input_dims,
output_dims, mapping) and an optional ``args`` dict of hyperparameters, and has a static
``add_to_argparse`` so ``run_experiment`` can expose its options as CLI flags.
"""
