"""The audit log: one append-only row per state change by a person or an API key."""
