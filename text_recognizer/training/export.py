"""Checkpoint -> model -> files: rebuild the trained ``nn.Module`` from a Lightning
checkpoint, then export it as TorchScript (scripted) and ONNX (checked against PyTorch)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

ONNX_OPSET = 17


def load_checkpoint(checkpoint: str | Path) -> tuple[torch.nn.Module, dict[str, Any], Any]:
    """Rebuild the trained ``nn.Module`` (eval mode), its hyperparameters and its data module
    (not prepared: only its config and fingerprints are needed) from a Lightning checkpoint."""
    from text_recognizer.training.experiment_args import DATA_CLASSES, MODEL_CLASSES, import_class

    state = torch.load(checkpoint, map_location="cpu", weights_only=False)
    hparams = dict(state.get("hyper_parameters", {}))
    data_class = import_class(hparams.get("data_class", "SyntheticParagraphLines"), DATA_CLASSES)
    model_class = import_class(hparams.get("model_class", "LineCRNN"), MODEL_CLASSES)
    data = data_class(hparams)
    model = model_class(data.config(), hparams)
    weights = {
        k.removeprefix("model."): v
        for k, v in state["state_dict"].items()
        if k.startswith("model.")
    }
    model.load_state_dict(weights)
    model.eval()
    hparams["_epoch"], hparams["_global_step"] = state.get("epoch"), state.get("global_step")
    return model, hparams, data


def export_torchscript(model: torch.nn.Module, path: Path) -> None:
    """Script (not trace) the model: any batch size and width work."""
    torch.jit.script(model).save(str(path))


def export_onnx(model: torch.nn.Module, path: Path, height: int) -> None:
    """ONNX with dynamic batch and width axes, checked against PyTorch at another width."""
    import onnxruntime as ort

    example = torch.rand(1, 1, height, 256)
    torch.onnx.export(
        model,
        (example,),
        str(path),
        input_names=["image"],
        output_names=["logits"],
        dynamic_axes={"image": {0: "batch", 3: "width"}, "logits": {0: "batch", 2: "columns"}},
        opset_version=ONNX_OPSET,
        dynamo=False,
    )
    check = torch.rand(2, 1, height, 400)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    got = session.run(None, {"image": check.numpy()})[0]
    with torch.no_grad():
        want = model(check).numpy()
    if got.shape != want.shape or not np.allclose(got, want, atol=1e-3):
        raise RuntimeError(f"ONNX export disagrees with PyTorch (max diff {abs(got - want).max()})")
