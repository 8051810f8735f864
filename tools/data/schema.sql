-- TechCorp's customer-service database.  Every statement is idempotent: tools.db runs
-- this file on every first connection of a process, then seeds once (see meta.seeded_at).
-- Money is stored in integer cents; times are ISO 8601 UTC strings.

CREATE TABLE IF NOT EXISTS meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE IF NOT EXISTS customers (
    id           TEXT PRIMARY KEY,
    name         TEXT NOT NULL,
    phone        TEXT NOT NULL UNIQUE,
    email        TEXT NOT NULL UNIQUE,
    tier         TEXT NOT NULL CHECK (tier IN ('standard', 'silver', 'gold', 'platinum')),
    member_since TEXT NOT NULL
);

CREATE TABLE IF NOT EXISTS products (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    category    TEXT NOT NULL CHECK (category IN ('laptops', 'phones', 'accessories', 'networking', 'software')),
    price_cents INTEGER NOT NULL CHECK (price_cents > 0),
    description TEXT NOT NULL
);

CREATE TABLE IF NOT EXISTS inventory (
    product_id   TEXT PRIMARY KEY REFERENCES products (id),
    warehouse    TEXT NOT NULL,
    units        INTEGER NOT NULL CHECK (units >= 0),
    restock_date TEXT
);

CREATE TABLE IF NOT EXISTS customer_products (
    customer_id  TEXT NOT NULL REFERENCES customers (id),
    product_id   TEXT NOT NULL REFERENCES products (id),
    purchased_on TEXT NOT NULL,
    PRIMARY KEY (customer_id, product_id)
);

CREATE TABLE IF NOT EXISTS invoices (
    id           TEXT PRIMARY KEY,
    customer_id  TEXT NOT NULL REFERENCES customers (id),
    issued_at    TEXT NOT NULL,
    description  TEXT NOT NULL,
    amount_cents INTEGER NOT NULL CHECK (amount_cents > 0),
    status       TEXT NOT NULL CHECK (status IN ('paid', 'unpaid'))
);

CREATE TABLE IF NOT EXISTS refunds (
    number          INTEGER PRIMARY KEY AUTOINCREMENT,
    id              TEXT GENERATED ALWAYS AS ('RFD-' || printf('%05d', number)) VIRTUAL,
    customer_id     TEXT NOT NULL REFERENCES customers (id),
    invoice_id      TEXT NOT NULL REFERENCES invoices (id),
    requested_cents INTEGER CHECK (requested_cents > 0),  -- NULL: whatever is still refundable
    reason          TEXT NOT NULL,
    decision        TEXT NOT NULL CHECK (decision IN ('approved', 'denied')),
    decision_reason TEXT NOT NULL,
    refunded_cents  INTEGER NOT NULL CHECK (refunded_cents >= 0),  -- 0 unless approved
    requested_at    TEXT NOT NULL
);

CREATE TABLE IF NOT EXISTS tickets (
    number      INTEGER PRIMARY KEY AUTOINCREMENT,
    id          TEXT GENERATED ALWAYS AS ('TKT-' || printf('%05d', number)) VIRTUAL,
    customer_id TEXT NOT NULL REFERENCES customers (id),
    subject     TEXT NOT NULL,
    description TEXT NOT NULL,
    priority    TEXT NOT NULL CHECK (priority IN ('low', 'medium', 'high', 'urgent')),
    status      TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'closed')),
    created_at  TEXT NOT NULL,
    due_at      TEXT NOT NULL
);

CREATE TABLE IF NOT EXISTS callbacks (
    number         INTEGER PRIMARY KEY AUTOINCREMENT,
    id             TEXT GENERATED ALWAYS AS ('CB-' || printf('%05d', number)) VIRTUAL,
    phone          TEXT NOT NULL,
    reason         TEXT NOT NULL,
    customer_id    TEXT REFERENCES customers (id),
    preferred_time TEXT,
    requested_at   TEXT NOT NULL,
    due_at         TEXT NOT NULL
);

CREATE TABLE IF NOT EXISTS kb_articles (
    id       TEXT PRIMARY KEY,
    title    TEXT NOT NULL,
    category TEXT NOT NULL CHECK (category IN ('connectivity', 'account', 'hardware', 'software', 'billing')),
    keywords TEXT NOT NULL,
    body     TEXT NOT NULL
);

-- External-content index over kb_articles: rebuilt after seeding.  Porter stemming lets
-- "dropping" find "drops"; keywords carry spellings the tokenizer splits ("wifi" for "Wi-Fi").
CREATE VIRTUAL TABLE IF NOT EXISTS kb_search USING fts5 (
    title, keywords, body,
    content = 'kb_articles',
    tokenize = 'porter unicode61'
);
