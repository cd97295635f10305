-- Messages the platform sends on its own for an alarm (0x9208, asking a terminal for
-- an active-safety alarm's evidence files) are tracked as commands. Such a command is
-- filed under the alarm number (报警编号) it names, before the alarm's row may exist:
-- the store links it to the alarm whichever of the two is stored first, as it does
-- attachments.
ALTER TABLE commands ADD COLUMN alarm_ref TEXT;
CREATE INDEX commands_alarm_ref ON commands (device_id, alarm_ref) WHERE alarm_ref IS NOT NULL;
-- An alarm's detail lists its commands: with one 0x9208 per active-safety alarm, a
-- vehicle's newest commands alone would soon leave out an older alarm's.
CREATE INDEX commands_alarm ON commands (alarm_id) WHERE alarm_id IS NOT NULL;
