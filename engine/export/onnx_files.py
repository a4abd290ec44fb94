"""What every ONNX export folder holds, and the checks every export and every load share."""

from __future__ import annotations

import json
from pathlib import Path

from voxtune.engine.export.folder import export_model_info, read_export_metadata
from voxtune.engine.export.formats import REPORT_FILE as REPORT_FILE  # one name for all exports

OPSET = 17
METADATA_FILE = "voxtune-onnx.json"  # family, base, quantisation, Voxtune's version, shapes


def read_metadata(folder: Path) -> dict:
    """The export's metadata; ModelError naming the first missing file of a partial export."""
    return read_export_metadata(folder, METADATA_FILE, "ONNX")


def is_onnx_export(folder: Path) -> bool:
    return (folder / METADATA_FILE).is_file()


def check_graphs(folder: Path, names: list[str]) -> None:
    """``onnx.checker`` on every graph (by path: it handles files over 2 GB)."""
    import onnx

    for name in names:
        onnx.checker.check_model(str(folder / name), full_check=True)


def quantise_int8(folder: Path, names: list[str], per_channel: bool = True) -> None:
    """Dynamic int8 quantisation of MatMul/Gemm weights, per output channel (or per tensor),
    in place (activations stay float; the token embedding lookup too)."""
    import logging

    from onnxruntime.quantization import QuantType, quantize_dynamic

    # The quantiser logs advice for image models ("run pre-processing") on the root logger.
    logging.getLogger().setLevel(max(logging.getLogger().level, logging.ERROR))
    for name in names:
        path = folder / name
        tmp = path.with_suffix(".float.onnx")
        path.rename(tmp)
        external = _set_aside_external_data(tmp)
        quantize_dynamic(
            str(tmp),
            str(path),
            # A graph over 2 GB keeps its weights beside it (``<graph>.data``) when quantised.
            use_external_data_format=bool(external),
            weight_type=QuantType.QInt8,
            op_types_to_quantize=["MatMul", "Gemm"],
            # Per-tensor scales cost tiny.en 6.7 WER points under beam 5 on the English
            # FLEURS dev files (12.5% against 5.8%); per-channel scales matched float32
            # greedy (14.42% both) and stay within a point.
            per_channel=per_channel,
            # 7-bit weights: on CPUs without VNNI (this AMD EPYC: AVX2 only) the u8 x s8
            # kernel's pairwise sums saturate, and tiny.en's int8 encoder wrote 21.2% WER
            # greedy on those files; reduce_range gives 14.42%, float32's own figure.
            reduce_range=True,
        )
        tmp.unlink()
        for name in external:
            (folder / name).unlink(missing_ok=True)


def _set_aside_external_data(graph: Path) -> set[str]:
    """Rename the files holding ``graph``'s weights (``float-<name>``, the graph rewritten to
    point at them) and return their new names. onnx appends external data to a file that
    exists, so the quantised weights written as ``<graph>.data`` would follow the float ones
    in one file."""
    import onnx
    from onnx.external_data_helper import uses_external_data

    model = onnx.load(str(graph), load_external_data=False)
    moved: set[str] = set()
    for tensor in model.graph.initializer:
        if not uses_external_data(tensor):
            continue
        for entry in tensor.external_data:
            if entry.key == "location" and not entry.value.startswith("float-"):
                if entry.value not in moved:
                    (graph.parent / entry.value).rename(graph.parent / f"float-{entry.value}")
                    moved.add(entry.value)
                entry.value = f"float-{entry.value}"
    if moved:
        onnx.save_model(model, str(graph))
    return {f"float-{name}" for name in moved}


def external_data_files(graph: Path) -> set[str]:
    """The files beside ``graph`` that hold its weights (a graph over 2 GB has some)."""
    import onnx
    from onnx.external_data_helper import uses_external_data

    model = onnx.load(str(graph), load_external_data=False)
    return {
        entry.value
        for tensor in model.graph.initializer
        if uses_external_data(tensor)
        for entry in tensor.external_data
        if entry.key == "location"
    }


def write_metadata(folder: Path, metadata: dict) -> None:
    (folder / METADATA_FILE).write_text(json.dumps(metadata, indent=2), encoding="utf-8")


ONNX_SOURCE = "onnx"  # ModelInfo.source of an export folder: only the onnx backend runs it


def onnx_export_info(folder: Path, name: str):  # type: ignore[no-untyped-def]
    """The export as a model: its family and languages from its metadata."""
    return export_model_info(folder, name, read_metadata(folder), ONNX_SOURCE)


def export_graph(module, args, path: Path, inputs, outputs, axes) -> None:  # type: ignore[no-untyped-def]
    """One graph through torch's TorchScript exporter (dynamo=False: it handles our
    transformers' modules), at ``OPSET``, its weights gathered into one data file."""
    import torch

    torch.onnx.export(
        module,
        args,
        str(path),
        input_names=inputs,
        output_names=outputs,
        dynamic_axes=axes,
        opset_version=OPSET,
        dynamo=False,
    )
    _gather_external_data(path)


def _gather_external_data(path: Path) -> None:
    """A graph over protobuf's 2 GB limit comes out of the exporter with one file per weight
    beside it (hundreds for Qwen3-ASR-0.6B); move them into one ``<graph>.data``."""
    import onnx

    scattered = external_data_files(path)
    if not scattered:
        return
    model = onnx.load(str(path))  # the weights, read from the scattered files
    data = f"{path.name}.data"
    onnx.save_model(
        model, str(path), save_as_external_data=True, all_tensors_to_one_file=True, location=data
    )
    for name in scattered - {data}:
        (path.parent / name).unlink(missing_ok=True)
