-- The daemon's domain tables. Times are UTC unix seconds (INTEGER), like
-- FreeRADIUS's radacct in sqlite; money in minor units (cents).

CREATE TABLE tenants (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    slug TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    timezone TEXT NOT NULL DEFAULT 'Africa/Nairobi',
    currency TEXT NOT NULL DEFAULT 'KES',
    status TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'suspended')),
    created_at INTEGER NOT NULL
);

CREATE TABLE plans (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id INTEGER NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    price_cents INTEGER NOT NULL CHECK (price_cents >= 0),
    currency TEXT NOT NULL,
    validity_s INTEGER NOT NULL CHECK (validity_s > 0),
    data_quota_bytes INTEGER CHECK (data_quota_bytes IS NULL OR data_quota_bytes > 0),
    rate_limit TEXT,
    shared_devices INTEGER NOT NULL DEFAULT 1 CHECK (shared_devices >= 1),
    active INTEGER NOT NULL DEFAULT 1,
    hidden INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL,
    UNIQUE (tenant_id, name)
);

CREATE TABLE customers (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id INTEGER NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    phone TEXT NOT NULL,
    mac TEXT,
    name TEXT,
    created_at INTEGER NOT NULL,
    UNIQUE (tenant_id, phone)
);

CREATE TABLE subscriptions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id INTEGER NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    customer_id INTEGER NOT NULL REFERENCES customers(id) ON DELETE CASCADE,
    plan_id INTEGER NOT NULL REFERENCES plans(id),
    -- The RADIUS user name; the password is kept because CHAP needs the
    -- cleartext on the server side (radcheck Cleartext-Password).
    username TEXT NOT NULL UNIQUE,
    password TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'pending'
        CHECK (status IN ('pending', 'active', 'expired', 'suspended')),
    starts_at INTEGER,
    expires_at INTEGER,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX subscriptions_status_expiry ON subscriptions (status, expires_at);
CREATE INDEX subscriptions_tenant ON subscriptions (tenant_id, customer_id);

CREATE TABLE routers (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id INTEGER NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    host TEXT NOT NULL,
    api_port INTEGER NOT NULL,
    use_tls INTEGER NOT NULL DEFAULT 0,
    username TEXT NOT NULL,
    -- Encrypted with the key from the settings (routers.credentials_key).
    password_enc TEXT NOT NULL,
    nas_ip TEXT NOT NULL UNIQUE,
    identity TEXT,
    version TEXT,
    board TEXT,
    status TEXT NOT NULL DEFAULT 'unknown' CHECK (status IN ('unknown', 'online', 'offline')),
    last_seen_at INTEGER,
    last_error TEXT,
    resource_json TEXT,
    created_at INTEGER NOT NULL,
    UNIQUE (tenant_id, name)
);

-- Append-only log of domain events: audit trail and WebSocket catch-up.
CREATE TABLE events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id INTEGER REFERENCES tenants(id) ON DELETE SET NULL,
    type TEXT NOT NULL,
    subject TEXT NOT NULL DEFAULT '',
    payload TEXT NOT NULL DEFAULT '{}',
    created_at INTEGER NOT NULL
);
CREATE INDEX events_tenant ON events (tenant_id, id);
