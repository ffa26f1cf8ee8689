-- The reference reservation ledger: an account's quantity (yuan, or cubic
-- metres) is available, frozen by a Try, or consumed by a Confirm. The
-- constraints refuse any change that would make one negative.
CREATE TABLE ledger_accounts (
    ledger text NOT NULL,
    account bigint NOT NULL,
    available numeric NOT NULL CHECK (available >= 0),
    frozen numeric NOT NULL CHECK (frozen >= 0),
    consumed numeric NOT NULL CHECK (consumed >= 0),
    PRIMARY KEY (ledger, account)
);

-- What each open Try holds, so that its Confirm or Cancel moves exactly
-- that amount of that account whatever the call says.
CREATE TABLE ledger_holds (
    coordinator integer NOT NULL,
    number bigint NOT NULL,
    branch integer NOT NULL,
    ledger text NOT NULL,
    account bigint NOT NULL,
    amount numeric NOT NULL CHECK (amount > 0),
    PRIMARY KEY (coordinator, number, branch),
    FOREIGN KEY (ledger, account) REFERENCES ledger_accounts (ledger, account)
);
