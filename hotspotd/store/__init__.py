"""Domain store: all SQL on the daemon's own tables, one module per subject."""
