"""The engine process: started by ``voxtune.engine.client.EngineClient`` with spawn.

``serve`` (in ``main``) is the process body; it imports the heavy modules itself, so
importing this package costs nothing.
"""

from voxtune.engine.config import EngineConfig

__all__ = ["EngineConfig"]
