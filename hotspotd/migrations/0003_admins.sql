-- Admin users, their sessions, sign-in failures, and the record of every
-- management job (so the jobs page and retry work even if Redis lost a job).

CREATE TABLE admins (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    -- NULL for system admins (the box owner); tenant admins and staff belong to one.
    tenant_id INTEGER REFERENCES tenants(id) ON DELETE CASCADE,
    username TEXT NOT NULL UNIQUE COLLATE NOCASE,
    password_hash TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('system', 'admin', 'staff')),
    status TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'disabled')),
    login_count INTEGER NOT NULL DEFAULT 0,
    last_login_at INTEGER,
    last_login_address TEXT,
    failed_logins INTEGER NOT NULL DEFAULT 0,
    last_failed_login_at INTEGER,
    password_changed_at INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    CHECK ((role = 'system') = (tenant_id IS NULL))
);
CREATE INDEX admins_tenant ON admins (tenant_id, id);

-- The cookie carries a random token; only its HMAC is stored, so a copy of
-- the database does not hold usable sessions.
CREATE TABLE admin_sessions (
    id TEXT PRIMARY KEY,
    admin_id INTEGER NOT NULL REFERENCES admins(id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL,
    last_seen_at INTEGER NOT NULL,
    address TEXT,
    user_agent TEXT
);
CREATE INDEX admin_sessions_admin ON admin_sessions (admin_id);

-- Audit of failed sign-ins (written by a job; the lockout counter itself is
-- in Redis so it is current).
CREATE TABLE login_failures (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    username TEXT NOT NULL,
    admin_id INTEGER REFERENCES admins(id) ON DELETE SET NULL,
    address TEXT,
    reason TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE INDEX login_failures_username ON login_failures (username, created_at);

CREATE TABLE jobs (
    -- Also the arq job id.
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    tenant_id INTEGER REFERENCES tenants(id) ON DELETE SET NULL,
    actor_id INTEGER REFERENCES admins(id) ON DELETE SET NULL,
    subject TEXT NOT NULL DEFAULT '',
    -- JSON of the job's arguments; passwords only ever sealed (encrypted).
    args TEXT NOT NULL,
    -- Same key while queued or running: a duplicate submission gets the same job.
    dedupe_key TEXT,
    -- The client's idempotency key (per actor): the same request is one job, ever.
    request_key TEXT UNIQUE,
    state TEXT NOT NULL DEFAULT 'queued'
        CHECK (state IN ('queued', 'running', 'done', 'failed')),
    tries INTEGER NOT NULL DEFAULT 0,
    error TEXT,
    result TEXT,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE UNIQUE INDEX jobs_active_dedupe ON jobs (dedupe_key)
    WHERE dedupe_key IS NOT NULL AND state IN ('queued', 'running');
CREATE INDEX jobs_tenant ON jobs (tenant_id, created_at);
CREATE INDEX jobs_state ON jobs (state, updated_at);
