"""Fixtures for image tests: the campaign tests' two federations."""

from tests.campaigns.conftest import api, other_tenant, tenant

__all__ = ["api", "other_tenant", "tenant"]
