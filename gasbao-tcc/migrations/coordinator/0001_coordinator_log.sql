-- The coordinator log shared by several coordinator processes.

-- One row per coordinator id: its lease, and the highest transaction number
-- it ever began that compaction removed (numbers are never reused).
CREATE TABLE coordinators (
    id integer PRIMARY KEY CHECK (id >= 0),
    -- Bumped each time a process opens this id: the instance that renews.
    generation bigint NOT NULL,
    -- The database's clock decides expiry, so coordinators' clocks may differ.
    lease_until timestamptz NOT NULL,
    last_number bigint NOT NULL DEFAULT 0
);

-- One row per global transaction until compaction removes it finished.
CREATE TABLE transactions (
    coordinator integer NOT NULL,
    number bigint NOT NULL,
    -- The coordinator responsible for it now, and the fencing token: bumped
    -- by every takeover, checked by every write.
    owner integer NOT NULL REFERENCES coordinators (id),
    epoch bigint NOT NULL CHECK (epoch >= 1),
    -- The transaction as it began (branches, requests, deadline), encoded.
    record bytea NOT NULL,
    decision bytea,
    -- Confirm ('C') or Cancel ('X'): a decision never changes phase.
    phase "char" CHECK (phase IN ('C', 'X')),
    settled boolean[] NOT NULL,
    parked bytea,
    finished boolean NOT NULL DEFAULT false,
    PRIMARY KEY (coordinator, number),
    CHECK ((decision IS NULL) = (phase IS NULL)),
    CHECK (NOT finished OR decision IS NOT NULL)
);

-- What a takeover scans: unfinished transactions by owner.
CREATE INDEX transactions_unfinished_by_owner ON transactions (owner) WHERE NOT finished;
