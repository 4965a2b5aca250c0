"""Visitor-facing HTML: page rendering helpers, templates and static files."""

from pathlib import Path

# Here, not in app.web.pages, so what reads a template without answering a request (the
# consent texts, which the dispatcher imports) does not import the web framework with it.
TEMPLATE_DIR = Path(__file__).parent / "templates"
STATIC_DIR = Path(__file__).parent / "static"
