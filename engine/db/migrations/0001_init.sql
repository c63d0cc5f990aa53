-- kaifuku schema 1: Masakari's failover segments, hosts and notifications, plus
-- the persisted progress of every recovery flow (tasks and flow store).
-- Portable SQL: TEXT timestamps (YYYY-MM-DDTHH:MM:SS.ffffff, UTC), INTEGER
-- booleans; {{AUTOID}} is the dialect's auto-incrementing integer key.
CREATE TABLE failover_segments (
    id {{AUTOID}},
    uuid TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    service_type TEXT NOT NULL,
    enabled INTEGER NOT NULL DEFAULT 1,
    description TEXT,
    recovery_method TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT,
    deleted_at TEXT,
    deleted INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE hosts (
    id {{AUTOID}},
    uuid TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    failover_segment_id TEXT NOT NULL,
    type TEXT NOT NULL,
    reserved INTEGER NOT NULL DEFAULT 0,
    control_attributes TEXT NOT NULL,
    on_maintenance INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL,
    updated_at TEXT,
    deleted_at TEXT,
    deleted INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX hosts_segment ON hosts (failover_segment_id, deleted);
CREATE INDEX hosts_name ON hosts (name, deleted);

CREATE TABLE notifications (
    id {{AUTOID}},
    notification_uuid TEXT NOT NULL UNIQUE,
    generated_time TEXT NOT NULL,
    source_host_uuid TEXT NOT NULL,
    type TEXT NOT NULL,
    payload TEXT NOT NULL,
    -- payload_key: the payload with sorted keys, for the duplicate check
    payload_key TEXT NOT NULL,
    status TEXT NOT NULL,
    failover_segment_uuid TEXT,
    message TEXT,
    retry INTEGER NOT NULL DEFAULT 0,
    owner TEXT,
    lease_until TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT,
    deleted_at TEXT,
    deleted INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX notifications_status ON notifications (status, id);
CREATE INDEX notifications_dup ON notifications (source_host_uuid, type, payload_key, generated_time);

-- One row per flow run of a notification (a priority method may run two).
CREATE TABLE flow_runs (
    notification_uuid TEXT NOT NULL,
    flow TEXT NOT NULL,
    seq INTEGER NOT NULL,
    store TEXT,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (notification_uuid, flow)
);

-- One row per task of a flow run: the task record as JSON.
CREATE TABLE task_records (
    notification_uuid TEXT NOT NULL,
    flow TEXT NOT NULL,
    task TEXT NOT NULL,
    position INTEGER NOT NULL,
    record TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (notification_uuid, flow, task)
);
