# paperbot in a container: `paperbot serve` from the package's wheel, state in /data.
#   docker build -t paperbot .
#   docker run -d --name paperbot --stop-timeout 40 -p 127.0.0.1:8080:8080 \
#       -v paperbot-data:/data -v "$PWD/paperbot.toml:/config/paperbot.toml:ro" paperbot
# The base image is a build argument, so that any image with python3 (3.11 or newer) and
# its venv module can stand in for the official one.
ARG BASE=python:3.12-slim

# Build stage: the project's wheel, and nothing else.
FROM ${BASE} AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY templates ./templates
RUN python3 -m venv /opt/build \
    && /opt/build/bin/pip wheel --no-cache-dir --no-deps --wheel-dir /dist .

# Final stage: the wheel and its dependencies in a virtual environment; no sources.
FROM ${BASE}
RUN useradd --no-log-init --create-home --uid 10001 --user-group paperbot \
    && python3 -m venv /opt/paperbot \
    && mkdir -p /config /data/inbox /data/outbox /data/digests \
    && chown -R paperbot:paperbot /data
# The dependencies first, read from pyproject.toml: a change to the code alone reuses this
# layer. The `postgres` extra (psycopg 3) too, so the image works with PostgreSQL as well.
COPY pyproject.toml /tmp/pyproject.toml
RUN /opt/paperbot/bin/python -c "import tomllib; f = open('/tmp/pyproject.toml', 'rb'); \
p = tomllib.load(f)['project']; \
print('\n'.join(p['dependencies'] + p['optional-dependencies']['postgres']))" >/tmp/requirements.txt \
    && /opt/paperbot/bin/pip install --no-cache-dir -r /tmp/requirements.txt \
    && rm /tmp/pyproject.toml /tmp/requirements.txt
COPY --from=build /dist/ /tmp/dist/
RUN /opt/paperbot/bin/pip install --no-cache-dir --no-deps /tmp/dist/paperbot-*.whl \
    && /opt/paperbot/bin/pip check \
    && rm -rf /tmp/dist
# paperbot reads ./paperbot.toml when there is one: mount a settings file at
# /config/paperbot.toml, or run on the defaults and PAPERBOT_* variables without it.
# The health check runs in the same folder, so it reads the same settings.
ENV PATH=/opt/paperbot/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PAPERBOT_DATA_DIR=/data \
    PAPERBOT_WEB_HOST=0.0.0.0 \
    PAPERBOT_WEB_PORT=8080
WORKDIR /config
VOLUME ["/data"]
USER 10001:10001
EXPOSE 8080
# Healthy while the service's heartbeat in the database is fresh.
HEALTHCHECK --interval=30s --timeout=10s --start-period=30s --retries=3 \
    CMD ["paperbot", "health"]
# paperbot serve stops cleanly on SIGTERM, within schedule.stop_timeout (30 s by default).
STOPSIGNAL SIGTERM
CMD ["paperbot", "serve"]
