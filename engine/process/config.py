"""Re-export: ``EngineConfig`` lives in ``voxtune.engine.config`` (jobs read it too)."""

from voxtune.engine.config import EngineConfig

__all__ = ["EngineConfig"]
