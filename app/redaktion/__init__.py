"""Redaktionen's pages that span domains (the audit log); per-domain pages live in each
domain's redaktion.py."""
