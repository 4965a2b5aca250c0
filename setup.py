"""Packaging: the wheel carries migrations/ and email_templates/ inside the `app` package
(app/resources.py finds them there), so an installed copy needs no source checkout."""

from setuptools import find_packages, setup

setup(
    packages=[*find_packages(include=["app*"]), "app.migrations", "app.email_templates"],
    package_dir={"app.migrations": "migrations", "app.email_templates": "email_templates"},
)
