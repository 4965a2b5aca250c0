"""Fixtures for seasonal-rule tests: the campaign tests' federations and client."""

from tests.campaigns.conftest import api, other_tenant, tenant

__all__ = ["api", "other_tenant", "tenant"]
