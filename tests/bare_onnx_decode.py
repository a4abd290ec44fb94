"""A greedy decode of one file with onnxruntime alone: no Voxtune import.

What the README's "Running an export without Voxtune" section shows; the test runs it.
Only onnxruntime, numpy, PyAV (decode), tokenizers and transformers' feature extractor.
"""

from __future__ import annotations

import json
from pathlib import Path

import av
import numpy as np
import onnxruntime as ort
from tokenizers import Tokenizer
from transformers import WhisperFeatureExtractor


def read_audio(path: Path) -> np.ndarray:
    """16 kHz mono float32 samples."""
    with av.open(str(path)) as container:
        resampler = av.AudioResampler(format="flt", layout="mono", rate=16000)
        chunks = [
            frame.to_ndarray().reshape(-1)
            for packet in container.demux(audio=0)
            for decoded in packet.decode()
            for frame in resampler.resample(decoded)
        ]
    return np.concatenate(chunks).astype(np.float32)


def greedy_transcribe(export: Path, audio_path: Path, max_tokens: int = 200) -> str:
    meta = json.loads((export / "voxtune-onnx.json").read_text())
    generation = json.loads((export / "generation_config.json").read_text())
    tokenizer = Tokenizer.from_file(str(export / "tokenizer.json"))
    features = WhisperFeatureExtractor.from_pretrained(str(export))(
        read_audio(audio_path), sampling_rate=16000, return_tensors="np"
    ).input_features.astype(np.float32)
    encoder, cross_kv, decoder = (
        ort.InferenceSession(str(export / name), providers=["CPUExecutionProvider"])
        for name in ("encoder.onnx", "cross_kv.onnx", "decoder.onnx")
    )
    [states] = encoder.run(None, {"input_features": features})
    # One key and one value per decoder layer, named as the decoder's inputs expect.
    cross_names = [o.name for o in cross_kv.get_outputs()]
    cross = dict(zip(cross_names, cross_kv.run(None, {"encoder_states": states}), strict=True))
    self_names = [i.name for i in decoder.get_inputs() if i.name.startswith("self_")]
    heads = meta["decoder_attention_heads"]
    empty = np.zeros((1, heads, 0, meta["d_model"] // heads), np.float32)
    cache = {name: empty for name in self_names}
    # <|startoftranscript|> (+ language and task on multilingual models) <|notimestamps|>
    ids = [generation["decoder_start_token_id"]]
    if generation.get("is_multilingual"):
        ids += [generation["lang_to_id"]["<|en|>"], generation["task_to_id"]["transcribe"]]
    ids.append(generation["no_timestamps_token_id"])
    eot = generation["eos_token_id"]
    written: list[int] = []
    step = np.array([ids], np.int64)
    for _ in range(max_tokens):
        last = np.array([step.shape[1] - 1], np.int64)  # logits of the last position only
        logits, *grown, _ = decoder.run(
            None, {"input_ids": step, "logit_positions": last, **cache, **cross}
        )
        cache = dict(zip(self_names, grown, strict=True))
        token = int(logits[0, -1].argmax())
        if token == eot:
            break
        written.append(token)
        step = np.array([[token]], np.int64)
    return tokenizer.decode(written, skip_special_tokens=True)
