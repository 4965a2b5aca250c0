# Production image: multi-stage, non-root, no dev extras; runs `newsletter serve`.
# Cron (`* * * * * newsletter dispatch`) or a second container running `newsletter worker`
# sends the mail.
FROM python:3.11-slim AS build
WORKDIR /src
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
COPY pyproject.toml README.md ./
COPY app ./app
# Install the dependencies only; the code runs from /srv/nyhetsbrev beside its templates
# and migrations, which live outside the Python package.
RUN pip install --no-cache-dir . && pip uninstall -y nyhetsbrev

FROM python:3.11-slim
RUN useradd --create-home --uid 10001 newsletter \
    && printf '#!/bin/sh\nexec python -m app.cli "$@"\n' > /usr/local/bin/newsletter \
    && chmod 755 /usr/local/bin/newsletter
COPY --from=build /opt/venv /opt/venv
WORKDIR /srv/nyhetsbrev
COPY alembic.ini pyproject.toml ./
COPY app ./app
COPY migrations ./migrations
COPY email_templates ./email_templates
RUN mkdir -p var && chown newsletter:newsletter var
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONPATH=/srv/nyhetsbrev \
    PYTHONUNBUFFERED=1 \
    NEWSLETTER_JOURNAL_DIR=/srv/nyhetsbrev/var/journal
USER newsletter
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz')"
CMD ["newsletter", "serve", "--host", "0.0.0.0", "--port", "8000"]
