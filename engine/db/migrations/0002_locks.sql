-- kaifuku schema 2: locks shared by every daemon of the database, and the
-- last run of each periodic task.
-- A lock is held by a notification (holder) run by a daemon (owner) while
-- that notification is running under that daemon's live lease and the lock
-- is not released; the row stays after release to remember the last holder.
CREATE TABLE locks (
    name TEXT PRIMARY KEY,
    holder TEXT NOT NULL,
    owner TEXT NOT NULL,
    released INTEGER NOT NULL DEFAULT 0,
    acquired_at TEXT NOT NULL
);

-- One row per periodic task: which daemon ran it last, and when.
CREATE TABLE periodic_runs (
    name TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    ran_at TEXT NOT NULL
);
