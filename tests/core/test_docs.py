"""/docs works offline: Swagger UI is served from /static, nothing from a CDN."""

from __future__ import annotations

import re

import httpx


class TestDocs:
    async def test_docs_load_only_local_files(self, client: httpx.AsyncClient) -> None:
        page = await client.get("/docs")
        assert page.status_code == 200
        sources = re.findall(r'(?:src|href)="([^"]+)"', page.text)
        assert "/static/vendor/swagger-ui/swagger-ui-bundle.js" in sources
        assert "/static/vendor/swagger-ui/swagger-ui.css" in sources
        assert all(s.startswith("/") for s in sources), sources
        assert "cdn" not in page.text.lower()
        for path in sources:
            assert (await client.get(path)).status_code == 200, path

    async def test_htmx_is_vendored(self, client: httpx.AsyncClient) -> None:
        script = await client.get("/static/vendor/htmx.min.js")
        assert script.status_code == 200
        assert 'version:"2.0.11"' in script.text.replace(" ", "")
