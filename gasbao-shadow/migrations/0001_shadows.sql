-- Device shadows: one row per shadow, replaced whole by compare-and-set on
-- `revision`. The merge, delta and limits run in Rust; `record` is the
-- stored shadow (document, metadata, replay index) as JSON.
CREATE TABLE shadows (
    thing text NOT NULL,
    -- '' for the classic (unnamed) shadow: AWS shadow names are never empty.
    shadow text NOT NULL,
    -- Bumped by every write, deletes included: what compare-and-set compares.
    revision bigint NOT NULL CHECK (revision >= 1),
    -- The document's version, as AWS counts it; for operators' queries.
    version bigint NOT NULL CHECK (version >= 0),
    deleted boolean NOT NULL,
    record jsonb NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (thing, shadow)
);
