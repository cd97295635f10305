-- Hazmat transport supervision (危险货物道路运输, docs/hazmat.md): enterprises'
-- licences, vehicles' hazmat attributes, drivers and escorts with their
-- qualifications, vehicle–person assignments, electronic waybills. Dates (document
-- expiries) are ISO text 'YYYY-MM-DD', valid through that day; times integer
-- microseconds (UTC); class lists and documents JSON text.

-- One row per enterprise registered for dangerous-goods transport.
CREATE TABLE hazmat_enterprises (
    org_id INTEGER PRIMARY KEY REFERENCES organisations (id) ON DELETE CASCADE,
    business_licence_no TEXT NOT NULL DEFAULT '',
    operation_licence_no TEXT NOT NULL,
    classes TEXT NOT NULL DEFAULT '[]',
    valid_from TEXT,
    valid_until TEXT NOT NULL,
    updated_at_us INTEGER NOT NULL
);

-- A vehicle's hazmat attributes; its organisation is the vehicle's (vehicles.org_id).
CREATE TABLE hazmat_vehicles (
    vehicle_id INTEGER PRIMARY KEY REFERENCES vehicles (id) ON DELETE CASCADE,
    body TEXT NOT NULL CHECK (body IN ('tank', 'van')),
    classes TEXT NOT NULL DEFAULT '[]',
    certificate_no TEXT NOT NULL,
    certificate_expiry TEXT NOT NULL,
    updated_at_us INTEGER NOT NULL
);

-- Drivers and escorts. roles (",driver,escort,") and search (name and certificate
-- numbers, lower case) are derived from the qualifications for filtering.
CREATE TABLE hazmat_people (
    id INTEGER PRIMARY KEY,
    org_id INTEGER NOT NULL REFERENCES organisations (id),
    name TEXT NOT NULL,
    phone TEXT NOT NULL DEFAULT '',
    qualifications TEXT NOT NULL DEFAULT '[]',
    roles TEXT NOT NULL DEFAULT '',
    search TEXT NOT NULL DEFAULT '',
    updated_at_us INTEGER NOT NULL
);
CREATE INDEX hazmat_people_org ON hazmat_people (org_id);

CREATE TABLE hazmat_assignments (
    id INTEGER PRIMARY KEY,
    vehicle_id INTEGER NOT NULL REFERENCES vehicles (id) ON DELETE CASCADE,
    person_id INTEGER NOT NULL REFERENCES hazmat_people (id) ON DELETE CASCADE,
    role TEXT NOT NULL CHECK (role IN ('driver', 'escort')),
    UNIQUE (vehicle_id, person_id, role)
);
CREATE INDEX hazmat_assignments_person ON hazmat_assignments (person_id);

-- Electronic waybills; org_id is the carrier. number is unique per carrier (NULL
-- only inside the transaction that assigns one). state has no CHECK: the trip's
-- state machine adds states in code (docs/hazmat.md).
CREATE TABLE hazmat_waybills (
    id INTEGER PRIMARY KEY,
    org_id INTEGER NOT NULL REFERENCES organisations (id),
    number TEXT,
    shipper TEXT NOT NULL,
    consignee TEXT NOT NULL,
    vehicle_id INTEGER NOT NULL REFERENCES vehicles (id),
    driver_id INTEGER NOT NULL REFERENCES hazmat_people (id),
    escort_id INTEGER REFERENCES hazmat_people (id),
    cargo TEXT NOT NULL,
    origin TEXT NOT NULL,
    destination TEXT NOT NULL,
    route TEXT NOT NULL,
    corridor_m REAL NOT NULL,
    departure_from_us INTEGER NOT NULL,
    departure_until_us INTEGER NOT NULL,
    arrival_from_us INTEGER NOT NULL,
    arrival_until_us INTEGER NOT NULL,
    state TEXT NOT NULL DEFAULT 'planned',
    warnings TEXT NOT NULL DEFAULT '[]',
    search TEXT NOT NULL DEFAULT '',
    created_at_us INTEGER NOT NULL,
    created_by TEXT NOT NULL DEFAULT '',
    cancelled_at_us INTEGER,
    cancel_reason TEXT NOT NULL DEFAULT '',
    cancelled_by TEXT NOT NULL DEFAULT '',
    UNIQUE (org_id, number)
);
CREATE INDEX hazmat_waybills_org_departure ON hazmat_waybills (org_id, departure_from_us);
CREATE INDEX hazmat_waybills_vehicle_departure ON hazmat_waybills (vehicle_id, departure_from_us);
CREATE INDEX hazmat_waybills_driver ON hazmat_waybills (driver_id);
CREATE INDEX hazmat_waybills_escort ON hazmat_waybills (escort_id);
