-- Full-trip monitoring of electronic waybills (docs/hazmat.md, "Trip monitoring").
-- The trip's state changes, written by the alarm consumer's trip monitor; a state is
-- entered at most once per waybill (the key makes a replayed change a no-op).
CREATE TABLE hazmat_trip_states (
    waybill_id INTEGER NOT NULL REFERENCES hazmat_waybills (id) ON DELETE CASCADE,
    state TEXT NOT NULL,
    from_state TEXT NOT NULL,
    at_us INTEGER NOT NULL,
    by TEXT NOT NULL,
    PRIMARY KEY (waybill_id, state)
);
ALTER TABLE hazmat_waybills ADD COLUMN state_at_us INTEGER;
CREATE INDEX hazmat_waybills_state ON hazmat_waybills (state, arrival_until_us);

-- Manual check-ins of a waybill's driver or escort (the terminal's IC card reports,
-- 0x0702, reach the trip monitor through the log instead).
CREATE TABLE hazmat_checkins (
    id INTEGER PRIMARY KEY,
    waybill_id INTEGER NOT NULL REFERENCES hazmat_waybills (id) ON DELETE CASCADE,
    person_id INTEGER NOT NULL REFERENCES hazmat_people (id),
    role TEXT NOT NULL CHECK (role IN ('driver', 'escort')),
    at_us INTEGER NOT NULL,
    by TEXT NOT NULL DEFAULT ''
);
CREATE INDEX hazmat_checkins_waybill ON hazmat_checkins (waybill_id, at_us);
