"""Fixtures shared with other test packages."""

from tests.core.test_migrations import empty_database

__all__ = ["empty_database"]
