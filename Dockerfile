# paperbot in a container: the package installed from its wheel, state in /data.
#   docker build -t paperbot .
#   docker run --rm -v paperbot-data:/data -v "$PWD/dumps:/data/inbox" paperbot ingest --inbox
# The base image is a build argument so a local Debian image with python3 can stand in.
ARG BASE=python:3.12-slim

FROM ${BASE} AS build
WORKDIR /src
RUN python3 -m venv /opt/build && /opt/build/bin/pip install --no-cache-dir "build>=1.2,<2"
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY templates ./templates
RUN /opt/build/bin/python -m build --wheel --outdir /dist

FROM ${BASE}
RUN useradd --create-home --uid 10001 paperbot \
    && python3 -m venv /opt/paperbot \
    && mkdir /data \
    && chown paperbot:paperbot /data
COPY --from=build /dist/ /tmp/dist/
RUN /opt/paperbot/bin/pip install --no-cache-dir /tmp/dist/*.whl && rm -rf /tmp/dist
ENV PATH=/opt/paperbot/bin:$PATH \
    PAPERBOT_DATA_DIR=/data \
    PYTHONUNBUFFERED=1
VOLUME /data
WORKDIR /data
USER paperbot
ENTRYPOINT ["paperbot"]
CMD ["ingest", "--inbox", "--feeds"]
