# syntax=docker/dockerfile:1
# One image for every part of ticketstream: `receiver`, `worker`, `topics create`, `tail`, ...
# (the ENTRYPOINT is the `ticketstream` command). Build: docker build -t ticketstream .
# See docs/DEPLOY.md.

ARG PYTHON_IMAGE=python:3.11-slim

# --- builder: the project and its pinned dependencies in a venv ---------------------------------
FROM ${PYTHON_IMAGE} AS builder

ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH

WORKDIR /src
# Dependencies first, from pyproject's list and the pins: this big layer is rebuilt only when
# those change, not on every source edit.
COPY pyproject.toml constraints.txt ./
RUN python -c "import tomllib; print(*tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies'], sep='\n')" > requirements.txt \
    && pip install --no-cache-dir -c constraints.txt -r requirements.txt
# Every dependency ships a manylinux wheel for x86_64; on arm64 faust-streaming builds from its
# sdist and, with no compiler here, falls back to its pure-Python code (slower, same behaviour).

COPY README.md ./
COPY ticketstream ticketstream
COPY receiver receiver
COPY streams streams
COPY schemas schemas
COPY deploy/__init__.py deploy/__init__.py
COPY deploy/localkafka deploy/localkafka
# pip compiles the bytecode here, so the runtime never writes any (its root can be read-only).
RUN pip install --no-cache-dir --no-deps -c constraints.txt . \
    && pip check

# --- runtime: python slim, the venv, an unprivileged user ---------------------------------------
FROM ${PYTHON_IMAGE} AS runtime

LABEL org.opencontainers.image.title="ticketstream" \
      org.opencontainers.image.description="Parking-ticket webhooks into Kafka, and a Faust worker that keeps every ticket's state."

# The uid/gid the Kubernetes manifests run as (runAsUser/fsGroup 10001).
RUN groupadd --system --gid 10001 ticketstream \
    && useradd --system --uid 10001 --gid ticketstream --home-dir /var/lib/ticketstream \
        --no-create-home --shell /usr/sbin/nologin ticketstream \
    && mkdir -p /var/lib/ticketstream/worker /etc/ticketstream \
    && chown -R ticketstream:ticketstream /var/lib/ticketstream

COPY --from=builder /opt/venv /opt/venv

# Defaults for a container; every setting can be overridden with its TICKETSTREAM_* variable.
# The worker's store directory is owned by the user above, so a fresh named volume mounted there
# starts out writable.
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    TICKETSTREAM_WORKER_DATA_DIR=/var/lib/ticketstream/worker \
    TICKETSTREAM_CREDENTIALS_FILE=/etc/ticketstream/credentials.toml

USER 10001:10001
WORKDIR /var/lib/ticketstream

# 8080: receiver (webhooks, /healthz, /readyz, /metrics); 6066: worker web server (/metrics).
EXPOSE 8080 6066

ENTRYPOINT ["ticketstream"]
CMD ["receiver"]
