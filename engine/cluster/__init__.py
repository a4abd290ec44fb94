"""Batch transcription on a Ray cluster (``voxtune batch --cluster``).

The local job store stays the record: the engine process claims jobs, persists every window
and writes the outputs exactly as on one machine (``runner.ClusterRunner``); Ray actors
(``worker.TranscriptionWorker``, one model each) only turn audio into segments. Ray is
imported by the engine process and the actors, never by the UI.
"""

from voxtune.engine.cluster.tasks import MAX_SENT_BYTES, AudioSource, check_address

__all__ = ["MAX_SENT_BYTES", "AudioSource", "check_address"]
