"""DataModules: each one downloads or generates its data, then serves PyTorch DataLoaders.

Classes are looked up by name in ``training/experiment_args.py`` (``--data_class``).
Import them from their modules; this package's ``__init__`` stays light on purpose.
"""
