-- Drivers' and escorts' own accounts (read-only self): a user linked to a hazmat
-- person. Such a user reads only the person's record and the waybills naming them
-- (docs/hazmat.md, "Roles"). A person with an account cannot be deleted (the account
-- would otherwise become an enterprise-wide viewer): no ON DELETE on person_id.
CREATE TABLE hazmat_accounts (
    user_id INTEGER PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    person_id BIGINT NOT NULL REFERENCES hazmat_people (id)
);
CREATE INDEX hazmat_accounts_person ON hazmat_accounts (person_id);
