"""Visitor-facing HTML: page rendering helpers, templates and static files."""
