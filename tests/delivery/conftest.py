"""Delivery tests use the shared fixtures: fault_smtp (tests/fixtures/smtp.py) and the
factories in tests/fixtures/factories.py."""
