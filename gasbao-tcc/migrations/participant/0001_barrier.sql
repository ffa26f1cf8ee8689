-- The participant barrier: one row per branch this participant was called
-- for, written in the same local transaction as the business effect.
CREATE TABLE tcc_barrier (
    coordinator integer NOT NULL,
    number bigint NOT NULL,
    branch integer NOT NULL CHECK (branch BETWEEN 0 AND 65535),
    -- 'T' tried, 'C' confirmed, 'X' cancelled after a Try, 'F' cancelled
    -- with nothing tried (a fence against a late Try).
    state "char" NOT NULL CHECK (state IN ('T', 'C', 'X', 'F')),
    -- The global deadline, in milliseconds since the Unix epoch.
    deadline_ms bigint NOT NULL,
    PRIMARY KEY (coordinator, number, branch)
);

-- What cleanup scans: settled records by deadline.
CREATE INDEX tcc_barrier_settled_by_deadline ON tcc_barrier (deadline_ms) WHERE state <> 'T';
