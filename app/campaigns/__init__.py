"""Campaigns: seasonal greetings and general letters, their themes and archive."""
