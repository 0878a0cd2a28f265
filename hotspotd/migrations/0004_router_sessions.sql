-- The hotspot sessions each router reported at its last sync (/ip/hotspot/active), replaced
-- wholesale on every sync. radacct is FreeRADIUS's record; this is the router's live view.

CREATE TABLE router_sessions (
    router_id INTEGER NOT NULL REFERENCES routers(id) ON DELETE CASCADE,
    -- RouterOS .id of the /ip/hotspot/active item.
    item_id TEXT NOT NULL,
    username TEXT NOT NULL,
    address TEXT NOT NULL,
    mac TEXT NOT NULL,
    server TEXT NOT NULL DEFAULT '',
    login_by TEXT NOT NULL DEFAULT '',
    uptime_s INTEGER NOT NULL DEFAULT 0,
    session_time_left_s INTEGER,
    bytes_in INTEGER NOT NULL DEFAULT 0,
    bytes_out INTEGER NOT NULL DEFAULT 0,
    radius INTEGER NOT NULL DEFAULT 0,
    seen_at INTEGER NOT NULL,
    PRIMARY KEY (router_id, item_id)
) WITHOUT ROWID;
CREATE INDEX router_sessions_username ON router_sessions (username);
