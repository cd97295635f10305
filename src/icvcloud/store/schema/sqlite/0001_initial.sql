-- icvcloud store, SQLite dialect. Times are integer microseconds since the Unix
-- epoch (UTC); coordinates WGS-84 degrees. The PostgreSQL store shares the numbering.

CREATE TABLE organisations (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    kind TEXT NOT NULL DEFAULT 'enterprise' CHECK (kind IN ('regulator', 'enterprise')),
    parent_id INTEGER REFERENCES organisations (id)
);

CREATE TABLE users (
    id INTEGER PRIMARY KEY,
    username TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('admin', 'operator', 'viewer')),
    org_id INTEGER REFERENCES organisations (id)
);

-- Only the SHA-256 of a token is kept: a leaked database does not leak sessions.
CREATE TABLE api_tokens (
    token_hash TEXT PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name TEXT NOT NULL DEFAULT '',
    created_at_us INTEGER NOT NULL
);
CREATE INDEX api_tokens_user ON api_tokens (user_id);

CREATE TABLE devices (
    device_id TEXT PRIMARY KEY,
    phone TEXT NOT NULL DEFAULT '',
    terminal_id TEXT NOT NULL DEFAULT '',
    maker_id TEXT NOT NULL DEFAULT '',
    model TEXT NOT NULL DEFAULT '',
    protocol_version INTEGER NOT NULL DEFAULT 2013,
    auth_code TEXT NOT NULL DEFAULT '',
    vehicle_id INTEGER,
    province_id INTEGER NOT NULL DEFAULT 0,
    city_id INTEGER NOT NULL DEFAULT 0,
    registered_at_us INTEGER
);

CREATE TABLE vehicles (
    id INTEGER PRIMARY KEY,
    plate TEXT NOT NULL,
    plate_colour INTEGER NOT NULL DEFAULT 2,
    vin TEXT NOT NULL DEFAULT '',
    vehicle_type TEXT NOT NULL DEFAULT 'other' CHECK (vehicle_type IN (
        'hazmat_tanker', 'hazmat_van', 'coach', 'bus', 'sanitation', 'school_bus', 'muck_truck', 'taxi', 'other')),
    org_id INTEGER REFERENCES organisations (id),
    device_id TEXT UNIQUE REFERENCES devices (device_id)
);
CREATE INDEX vehicles_org ON vehicles (org_id);
CREATE INDEX vehicles_type ON vehicles (vehicle_type);

-- Rows are appended in arrival order (rowid), so a batch of reports from 10,000
-- terminals dirties a few pages at the table's end; the unique index is the dedup
-- key and the track index (device, time range) at once. Clustering the table itself
-- by device (WITHOUT ROWID) dirtied one page per device per batch: measured 2x the
-- CPU and 2.2x the wall time per stored row at 1 M rows.
CREATE TABLE positions (
    device_id TEXT NOT NULL,
    device_time_us INTEGER NOT NULL,
    seq INTEGER NOT NULL,
    item INTEGER NOT NULL,
    received_at_us INTEGER NOT NULL,
    lat REAL NOT NULL,
    lon REAL NOT NULL,
    speed_kmh REAL NOT NULL,
    heading_deg INTEGER NOT NULL,
    altitude_m INTEGER NOT NULL,
    alarm INTEGER NOT NULL,
    status INTEGER NOT NULL,
    mileage_km REAL,
    backfill INTEGER NOT NULL,
    extras TEXT,
    UNIQUE (device_id, device_time_us, seq, item)
);

-- One row per device: its newest position by device time (columns NULL until the
-- first one) and whether it is online by receive time of its last message.
CREATE TABLE live_state (
    device_id TEXT PRIMARY KEY,
    device_time_us INTEGER,
    seq INTEGER,
    item INTEGER,
    received_at_us INTEGER,
    lat REAL,
    lon REAL,
    speed_kmh REAL,
    heading_deg INTEGER,
    altitude_m INTEGER,
    alarm INTEGER,
    status INTEGER,
    mileage_km REAL,
    backfill INTEGER,
    extras TEXT,
    online INTEGER NOT NULL DEFAULT 0,
    last_report_at_us INTEGER
);

-- "offset" is reserved in PostgreSQL, hence log_offset.
CREATE TABLE consumer_offsets (
    consumer TEXT PRIMARY KEY,
    log_offset INTEGER NOT NULL
);

CREATE TABLE bad_frames (
    id INTEGER PRIMARY KEY,
    device_id TEXT NOT NULL,
    received_at_us INTEGER NOT NULL,
    frame BLOB NOT NULL,
    reason TEXT NOT NULL
);
CREATE INDEX bad_frames_device ON bad_frames (device_id, received_at_us);
