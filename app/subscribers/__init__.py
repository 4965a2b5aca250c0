"""Subscribers, their consent evidence, tokens and suppression entries."""
