"""Plain ``torch.nn.Module`` models. Nothing here imports Lightning.

Every model is built from ``data_config`` (a DataModule's ``config()``: input_dims,
output_dims, mapping) and an optional ``args`` dict of hyperparameters, and has a static
``add_to_argparse`` so ``run_experiment`` can expose its options as CLI flags.
"""

from __future__ import annotations

import importlib

# Name -> "module:Class"; imported on first use, so importing this package stays cheap.
MODEL_CLASSES = {
    "MLP": "text_recognizer.models.mlp:MLP",
    "CNN": "text_recognizer.models.cnn:CNN",
    "LineCNNSimple": "text_recognizer.models.line_cnn_simple:LineCNNSimple",
    "LineCNN": "text_recognizer.models.line_cnn:LineCNN",
    "LineCNNTransformer": "text_recognizer.models.line_cnn_transformer:LineCNNTransformer",
    "ResnetTransformer": "text_recognizer.models.resnet_transformer:ResnetTransformer",
    "LineCRNN": "text_recognizer.models.line_crnn:LineCRNN",
}


def model_class(name: str) -> type:
    """The model class registered as ``name`` (e.g. the one a model card names).

    >>> model_class("LineCRNN").__name__
    'LineCRNN'
    >>> model_class("Nope")
    Traceback (most recent call last):
    ...
    ValueError: unknown model class 'Nope'; known: MLP, CNN, ...
    """
    if name not in MODEL_CLASSES:
        raise ValueError(f"unknown model class {name!r}; known: {', '.join(MODEL_CLASSES)}")
    module_name, _, class_name = MODEL_CLASSES[name].partition(":")
    return getattr(importlib.import_module(module_name), class_name)
