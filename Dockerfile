# Production image: multi-stage, non-root, only the locked runtime dependencies (no pip,
# setuptools, aiosmtpd or dev extras at run time). `newsletter serve` by default; the same image
# runs `newsletter db upgrade`, `newsletter worker` and `newsletter dispatch` (compose.yaml).
FROM python:3.11-slim AS build
# uv installs exactly what uv.lock pins. `python3` is the base's interpreter in both the official
# image and the local Debian base .ci/docker-base builds when no registry is reachable.
RUN python3 -m venv /opt/uv && /opt/uv/bin/pip install --no-cache-dir uv==0.13.9
ENV UV_PROJECT_ENVIRONMENT=/opt/venv \
    UV_PYTHON=python3 \
    UV_PYTHON_DOWNLOADS=never \
    UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_NO_CACHE=1
WORKDIR /src
# The dependency layer: rebuilt only when the lock changes, not when the code does.
COPY pyproject.toml uv.lock ./
RUN /opt/uv/bin/uv sync --locked --no-install-project --no-editable
# The app as a wheel; templates, static files, migrations and mail templates ride inside it.
COPY setup.py README.md ./
COPY app ./app
COPY migrations ./migrations
COPY email_templates ./email_templates
RUN /opt/uv/bin/uv build --wheel --out-dir /dist \
    && /opt/uv/bin/uv pip install --python /opt/venv/bin/python --no-deps /dist/*.whl

FROM python:3.11-slim
# The official base ships pip and setuptools in its own site-packages; nothing here needs them.
RUN python3 -m pip uninstall -y -q pip setuptools wheel 2>/dev/null || true; \
    rm -f /usr/local/bin/pip /usr/local/bin/pip3*; \
    useradd --create-home --uid 10001 newsletter
COPY --from=build /opt/venv /opt/venv
WORKDIR /srv/nyhetsbrev
RUN mkdir -p var && chown newsletter:newsletter var
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    NEWSLETTER_JOURNAL_DIR=/srv/nyhetsbrev/var/journal
USER newsletter
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s \
    CMD python3 -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz')"
CMD ["newsletter", "serve", "--host", "0.0.0.0", "--port", "8000"]
