-- The job store, as it is now (PRAGMA user_version = 4). A fresh database is created from
-- this file; an older one is brought up to date by the migrations in store.py.

CREATE TABLE jobs (
    id          INTEGER PRIMARY KEY,
    job_key     TEXT    NOT NULL UNIQUE,  -- JobSpec.key(): same input, options, output…
    input_path  TEXT    NOT NULL,
    settings    TEXT    NOT NULL,         -- JSON: options, formats, output_dir, model
    state       TEXT    NOT NULL DEFAULT 'queued'
                CHECK (state IN ('queued', 'running', 'done', 'failed', 'cancelled')),
    priority    INTEGER NOT NULL DEFAULT 0,  -- higher runs first
    progress    REAL    NOT NULL DEFAULT 0,
    duration    REAL,                        -- seconds of audio, once probed
    outputs     TEXT    NOT NULL DEFAULT '[]',  -- JSON list of written files
    error       TEXT,
    retryable   INTEGER NOT NULL DEFAULT 1,
    attempts    INTEGER NOT NULL DEFAULT 0,
    worker      INTEGER,                     -- pid of the engine running it
    checkpoint  TEXT,                        -- JSON of longform.Checkpoint: where to resume
    created_at  REAL    NOT NULL,
    started_at  REAL,
    finished_at REAL,
    updated_at  REAL    NOT NULL,
    -- Added at version 2, last as ALTER TABLE puts them, so migrated and new tables match.
    rules       TEXT,                        -- JSON of SubtitleRules; NULL: the defaults
    aligner     TEXT,                        -- JobSpec.aligner; NULL: the default
    -- Added at version 3.
    content     TEXT                         -- JobSpec.content: the input's fingerprint
);

CREATE INDEX jobs_queue ON jobs (state, priority DESC, created_at, id);

-- Segments are written with the checkpoint after each window, in one transaction, so a
-- crash loses at most the window in flight and a restarted job resumes where it stopped.
CREATE TABLE segments (
    job_id   INTEGER NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    position INTEGER NOT NULL,  -- 0, 1, 2 … in the order the model produced them
    start_s  REAL    NOT NULL,
    end_s    REAL    NOT NULL,
    segment  TEXT    NOT NULL,  -- JSON of voxtune.engine.types.Segment
    PRIMARY KEY (job_id, position)
);

-- Added at version 4: the transcript editor's corrected segments (JSON list of Segment),
-- kept beside the model's own so a tune can learn from the corrections.
CREATE TABLE edits (
    job_id   INTEGER PRIMARY KEY REFERENCES jobs (id) ON DELETE CASCADE,
    segments TEXT NOT NULL,
    saved_at REAL NOT NULL
);
