# Quark production image: one image for every worker kind; the compose service picks the
# role through the command (`quark run edge`, `quark run handler posts`, `quark streams apply`).
#
# Written for the classic builder as well as BuildKit (Debian's docker-compose 1.29 builds
# with the classic one), so no `RUN --mount`.

ARG PYTHON_IMAGE=python:3.11-slim

# --- build: wheels for the project and every dependency, installed into a venv -------------
FROM ${PYTHON_IMAGE} AS build

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1

WORKDIR /src
# The context is filtered by .dockerignore (no .venv, .quark, .git, caches, bench results).
COPY . .

# Every pinned dependency ships a manylinux wheel, so no compiler is needed here; a future
# sdist-only dependency would need `apt-get install build-essential` in this stage only.
RUN pip wheel --wheel-dir /wheels . \
 && python -m venv /opt/venv \
 && /opt/venv/bin/pip install --no-index --find-links /wheels quark

# --- runtime: the venv and streams.yaml, nothing else --------------------------------------
FROM ${PYTHON_IMAGE} AS runtime

ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    QUARK_ENV=production \
    QUARK_HTTP_HOST=0.0.0.0 \
    QUARK_DATA_DIR=/var/lib/quark \
    QUARK_STREAMS_FILE=/app/streams.yaml

RUN groupadd --system --gid 10001 quark \
 && useradd --system --uid 10001 --gid quark --home-dir /app --no-create-home \
        --shell /usr/sbin/nologin quark \
 && install -d -o quark -g quark -m 0750 /var/lib/quark

COPY --from=build /opt/venv /opt/venv

WORKDIR /app
# Read-only for the service user: it belongs to root.
COPY streams.yaml /app/streams.yaml

# Numeric so orchestrators can verify "not root" without reading /etc/passwd (uid 10001 = quark).
USER 10001:10001

EXPOSE 8080
ENTRYPOINT ["quark"]
CMD ["--help"]
