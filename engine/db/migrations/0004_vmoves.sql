-- kaifuku schema 4: Masakari's vm moves, one row per server that a host
-- recovery moves, written by the evacuation task as it goes.
CREATE TABLE vmoves (
    id {{AUTOID}},
    uuid TEXT NOT NULL UNIQUE,
    notification_uuid TEXT NOT NULL,
    instance_uuid TEXT NOT NULL,
    instance_name TEXT NOT NULL DEFAULT '',
    source_host TEXT,
    dest_host TEXT,
    start_time TEXT,
    end_time TEXT,
    type TEXT,
    status TEXT,
    message TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT,
    deleted_at TEXT,
    deleted INTEGER NOT NULL DEFAULT 0,
    UNIQUE (notification_uuid, instance_uuid)
);
CREATE INDEX vmoves_notification ON vmoves (notification_uuid, deleted);
