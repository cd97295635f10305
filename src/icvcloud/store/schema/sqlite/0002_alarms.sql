-- Alarms, their handling, commands to vehicles, notifications, the rule engine's
-- definitions and checkpoints, alarm attachments. Times are integer microseconds
-- since the Unix epoch (UTC).

-- One row per alarm. An alarm holds one episode or several (repeats of the same
-- type on the same vehicle within the merge window are folded in): see
-- alarm_episodes. ``version`` grows with every change, so a client that sees an
-- alarm twice keeps the higher version.
CREATE TABLE alarms (
    id INTEGER PRIMARY KEY,
    key TEXT NOT NULL UNIQUE,  -- the first episode's key
    vehicle_id INTEGER NOT NULL,
    device_id TEXT NOT NULL,
    org_id INTEGER,
    alarm_type TEXT NOT NULL,
    category TEXT NOT NULL,
    severity INTEGER NOT NULL CHECK (severity BETWEEN 0 AND 4),
    active INTEGER NOT NULL DEFAULT 0,  -- an episode has started and not ended
    start_time_us INTEGER NOT NULL,  -- device time
    end_time_us INTEGER,  -- device time; NULL while active
    last_start_us INTEGER NOT NULL,  -- the newest episode's start (the merge window counts from its end)
    lat REAL,
    lon REAL,
    details TEXT NOT NULL DEFAULT '{}',
    state TEXT NOT NULL DEFAULT 'open' CHECK (state IN ('open', 'acknowledged', 'handled')),
    repeat_count INTEGER NOT NULL DEFAULT 0,
    deadline_us INTEGER,  -- supervision (督办) deadline, when escalated
    created_at_us INTEGER NOT NULL,  -- receive clock
    updated_at_us INTEGER NOT NULL,
    version INTEGER NOT NULL DEFAULT 1,
    -- Late data showed that none of its episodes happened (the engine retracted them):
    -- kept for the record, left out of lists and statistics.
    retracted INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX alarms_time ON alarms (start_time_us);
CREATE INDEX alarms_org_time ON alarms (org_id, start_time_us);
CREATE INDEX alarms_vehicle_time ON alarms (vehicle_id, start_time_us);
CREATE INDEX alarms_type_time ON alarms (alarm_type, start_time_us);
CREATE INDEX alarms_merge ON alarms (vehicle_id, alarm_type, last_start_us);
CREATE INDEX alarms_open ON alarms (state, start_time_us) WHERE state != 'handled';

-- Every episode key the engine emitted, and the alarm it was folded into: a replayed
-- event finds its alarm here, so merging is decided once. A retracted episode stays
-- as a tombstone (phase 'retracted') so a replay cannot bring it back.
CREATE TABLE alarm_episodes (
    key TEXT PRIMARY KEY,
    alarm_id INTEGER NOT NULL REFERENCES alarms (id) ON DELETE CASCADE,
    phase TEXT NOT NULL CHECK (phase IN ('start', 'update', 'end', 'instant', 'retracted')),
    start_time_us INTEGER NOT NULL,
    end_time_us INTEGER,
    details TEXT NOT NULL DEFAULT '{}',
    alarm_ref TEXT  -- active safety: the alarm number its attachments are filed under
) WITHOUT ROWID;
CREATE INDEX alarm_episodes_alarm ON alarm_episodes (alarm_id);
CREATE INDEX alarm_episodes_ref ON alarm_episodes (alarm_ref) WHERE alarm_ref IS NOT NULL;

CREATE TABLE alarm_handling (
    id INTEGER PRIMARY KEY,
    alarm_id INTEGER NOT NULL REFERENCES alarms (id) ON DELETE CASCADE,
    action TEXT NOT NULL CHECK (action IN ('acknowledged', 'text_to_driver', 'phone_call', 'false_alarm',
                                           'escalated', 'note')),
    username TEXT NOT NULL,
    at_us INTEGER NOT NULL,
    text TEXT NOT NULL DEFAULT '',
    deadline_us INTEGER,
    command_id INTEGER
);
CREATE INDEX alarm_handling_alarm ON alarm_handling (alarm_id, at_us);

-- Commands to vehicles, tracked to the terminal's answer. ``seq`` is the platform's
-- serial number on the wire; the terminal's answer names it as its reply serial.
CREATE TABLE commands (
    id INTEGER PRIMARY KEY,
    vehicle_id INTEGER NOT NULL,
    device_id TEXT NOT NULL,
    org_id INTEGER,
    msg_id INTEGER NOT NULL,
    body TEXT NOT NULL,  -- JSON, the codec's body form
    seq INTEGER,
    state TEXT NOT NULL CHECK (state IN ('pending', 'sent', 'acknowledged', 'failed', 'not_supported',
                                         'timed_out')),
    result INTEGER,  -- 0x0001 result code
    answer TEXT,  -- JSON of the answer's body (0x0001, 0x0201, 0x0805, 0x0104)
    detail TEXT NOT NULL DEFAULT '',
    username TEXT NOT NULL,
    alarm_id INTEGER,
    created_at_us INTEGER NOT NULL,
    sent_at_us INTEGER,
    answered_at_us INTEGER,
    expires_at_us INTEGER NOT NULL
);
CREATE INDEX commands_vehicle ON commands (vehicle_id, created_at_us);
CREATE INDEX commands_waiting ON commands (device_id, seq) WHERE state = 'sent';

CREATE TABLE webhooks (
    id INTEGER PRIMARY KEY,
    org_id INTEGER,
    name TEXT NOT NULL,
    url TEXT NOT NULL,
    secret TEXT NOT NULL,
    enabled INTEGER NOT NULL DEFAULT 1,
    created_at_us INTEGER NOT NULL
);

-- Which alarms notify whom. alarm_types: JSON list of types or type prefixes
-- ("fatigue" matches "fatigue.continuous"); empty = every type. org_id NULL = every
-- organisation (only administrators create those).
CREATE TABLE notification_rules (
    id INTEGER PRIMARY KEY,
    org_id INTEGER,
    name TEXT NOT NULL,
    alarm_types TEXT NOT NULL DEFAULT '[]',
    min_severity INTEGER NOT NULL DEFAULT 0 CHECK (min_severity BETWEEN 0 AND 4),
    channel TEXT NOT NULL CHECK (channel IN ('websocket', 'webhook')),
    webhook_id INTEGER REFERENCES webhooks (id) ON DELETE CASCADE,
    enabled INTEGER NOT NULL DEFAULT 1,
    created_at_us INTEGER NOT NULL,
    CHECK ((channel = 'webhook') = (webhook_id IS NOT NULL))
);

-- The durable outbox: a delivery is enqueued in the same transaction as the alarm
-- change it reports, and retried until the receiver answers 2xx.
CREATE TABLE webhook_deliveries (
    id INTEGER PRIMARY KEY,
    webhook_id INTEGER NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    event_id TEXT NOT NULL,  -- the idempotency key the receiver sees
    payload TEXT NOT NULL,
    state TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'delivered', 'failed')),
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_us INTEGER NOT NULL,
    last_status INTEGER,
    last_error TEXT NOT NULL DEFAULT '',
    created_at_us INTEGER NOT NULL,
    delivered_at_us INTEGER,
    UNIQUE (webhook_id, event_id)
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_us) WHERE state = 'pending';

-- The rule engine's definitions, stored as the engine's own JSON form (without the
-- id, name and enabled flag, which are columns). Routes are geofences of kind
-- 'corridor' (the engine treats them alike).
CREATE TABLE geofences (
    id INTEGER PRIMARY KEY,
    org_id INTEGER,
    name TEXT NOT NULL,
    kind TEXT NOT NULL,
    spec TEXT NOT NULL,
    enabled INTEGER NOT NULL DEFAULT 1,
    updated_at_us INTEGER NOT NULL,
    updated_by TEXT NOT NULL DEFAULT ''
);
CREATE INDEX geofences_org ON geofences (org_id);

CREATE TABLE rule_profiles (
    id INTEGER PRIMARY KEY,
    org_id INTEGER,
    name TEXT NOT NULL,
    spec TEXT NOT NULL,
    enabled INTEGER NOT NULL DEFAULT 1,
    updated_at_us INTEGER NOT NULL,
    updated_by TEXT NOT NULL DEFAULT ''
);
CREATE INDEX rule_profiles_org ON rule_profiles (org_id);

-- Bumped by every change to the definitions: the alarm consumer polls it to reload.
CREATE TABLE definitions_version (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    version INTEGER NOT NULL
);
INSERT INTO definitions_version VALUES (1, 0);
CREATE TRIGGER geofences_ins AFTER INSERT ON geofences BEGIN UPDATE definitions_version SET version = version + 1; END;
CREATE TRIGGER geofences_upd AFTER UPDATE ON geofences BEGIN UPDATE definitions_version SET version = version + 1; END;
CREATE TRIGGER geofences_del AFTER DELETE ON geofences BEGIN UPDATE definitions_version SET version = version + 1; END;
CREATE TRIGGER profiles_ins AFTER INSERT ON rule_profiles BEGIN UPDATE definitions_version SET version = version + 1; END;
CREATE TRIGGER profiles_upd AFTER UPDATE ON rule_profiles BEGIN UPDATE definitions_version SET version = version + 1; END;
CREATE TRIGGER profiles_del AFTER DELETE ON rule_profiles BEGIN UPDATE definitions_version SET version = version + 1; END;

-- The engine's state as of a log offset: a restart restores it and replays from there.
CREATE TABLE engine_checkpoints (
    consumer TEXT PRIMARY KEY,
    log_offset INTEGER NOT NULL,
    snapshot BLOB NOT NULL,
    saved_at_us INTEGER NOT NULL
);

-- Evidence files of an alarm (images, video) kept under the data directory.
CREATE TABLE attachments (
    id INTEGER PRIMARY KEY,
    alarm_id INTEGER REFERENCES alarms (id) ON DELETE CASCADE,
    alarm_ref TEXT NOT NULL DEFAULT '',  -- the terminal's alarm identification (hex), before the link exists
    device_id TEXT NOT NULL,
    org_id INTEGER,
    file_name TEXT NOT NULL,
    media_type TEXT NOT NULL DEFAULT '',
    size_bytes INTEGER NOT NULL DEFAULT 0,
    path TEXT NOT NULL,  -- relative to the data directory
    complete INTEGER NOT NULL DEFAULT 0,
    received_at_us INTEGER NOT NULL
);
CREATE INDEX attachments_alarm ON attachments (alarm_id);
-- A terminal may upload a file again: one row per (device, alarm, file name).
CREATE UNIQUE INDEX attachments_file ON attachments (device_id, alarm_ref, file_name);

-- The default notification: every organisation's alarms of medium severity and up
-- sound on the console.
INSERT INTO notification_rules (org_id, name, alarm_types, min_severity, channel, created_at_us)
VALUES (NULL, 'console: medium and above', '[]', 2, 'websocket', 0);
