"""LightningModules: the training logic (loss, metrics, optimizers, decoding) around a
plain ``nn.Module`` from ``models/``."""
