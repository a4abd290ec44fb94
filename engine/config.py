"""How an engine process is set up; torch-free, so the client can build one."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class EngineConfig:
    db_path: str  # the job store (the app passes voxtune.engine.home.jobs_db())
    device: str = "cpu"  # "cpu" | "cuda"
    dtype: str = "float32"
    # What runs the models: "torch", or "onnx" (an export folder; any other model is exported
    # once into the model store's onnx folder, see engine/backends/onnx_backend.py).
    backend: str = "torch"
    threads: int | None = None  # torch intra-op threads; None: torch's default
    # Short files (one window, <= 30 s) decoded together; 1 decodes every file on its own.
    batch_size: int = 8
    heartbeat_s: float = 0.5
    # Loaded weights kept for reuse, in bytes (least recently used goes first); None: the
    # VOXTUNE_MODEL_CACHE_BYTES environment variable, else half the machine's memory.
    model_cache_bytes: int | None = None
    run_queue: bool = True  # False: answer commands but start no job (a UI that only lists)
    # A Ray cluster (ray://HOST:PORT, HOST:PORT or auto) that runs the jobs; None: this engine.
    cluster: str | None = None
    cluster_workers: int | None = None  # actors on the cluster; None: one per ``threads`` CPUs
