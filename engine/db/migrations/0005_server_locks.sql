-- kaifuku schema 3: the servers a recovery locked in Nova and has not yet
-- unlocked. A row is written before Nova is asked for the lock and deleted
-- once Nova unlocked the server: a row left by a daemon that died tells the
-- resumed recovery that the server's lock is its own, to release, and not a
-- lock a user set.
CREATE TABLE server_locks (
    notification_uuid TEXT NOT NULL,
    server_id TEXT NOT NULL,
    locked_at TEXT NOT NULL,
    PRIMARY KEY (notification_uuid, server_id)
);
