"""Federations (tenants) and the API keys that reach them."""
