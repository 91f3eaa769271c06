# syntax=docker/dockerfile:1
#
# pika-rs in a container: a Rust build stage, then a slim Debian runtime holding the two
# binaries, redis-cli for the health check, and conf/pika.conf listening on all interfaces.
#
#   docker build -t pika-rs .
#   docker run -d --name pika -p 9221:9221 -v pika-data:/data --stop-timeout 30 pika-rs
#
# Data, log and backups live in the /data volume (the config's relative paths ./db/, ./log/
# and ./dump/ resolve there); the log also goes to the container's stderr. `docker stop`
# sends SIGTERM, which stops pika as Redis stops (waits up to shutdown-timeout, 10 s, for
# slaves, flushes, exits 0): give it a stop timeout above that (--stop-timeout 30).
# Settings can be overridden after the config file:
#   docker run pika-rs /etc/pika/pika.conf --requirepass secret --maxclients 1000

ARG RUST_VERSION=1.88
ARG DEBIAN_RELEASE=bookworm

FROM rust:${RUST_VERSION}-${DEBIAN_RELEASE} AS build
# What scripts/install-deps.sh installs for a build: a C++ compiler for RocksDB and libclang
# for bindgen (the Rust image has gcc/g++ already).
# hadolint ignore=DL3008
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        clang libclang-dev g++ \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
# The registry and target caches survive between builds; the binaries are copied out of them.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --bin pika --bin pika_tools \
    && install -D -m 755 target/release/pika target/release/pika_tools -t /out/bin

FROM debian:${DEBIAN_RELEASE}-slim AS runtime
# redis-cli for the health check and for operators; the binaries need only libc and libstdc++.
# hadolint ignore=DL3008
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends redis-tools \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 999 pika \
    && useradd --system --uid 999 --gid pika --home-dir /data --shell /usr/sbin/nologin pika \
    && install -d -o pika -g pika -m 750 /data
COPY --from=build /out/bin/ /usr/local/bin/
COPY conf/pika.conf /etc/pika/pika.conf
# Reachable from outside the container: listen on every interface.
RUN sed -i 's/^bind : .*/bind : 0.0.0.0/' /etc/pika/pika.conf \
    && grep -q '^bind : 0.0.0.0$' /etc/pika/pika.conf
# The pika user created above, by number so the runtime can tell it is not root.
USER 999:999
WORKDIR /data
VOLUME ["/data"]
EXPOSE 9221
STOPSIGNAL SIGTERM
# Opening a large database replays its WAL before the port opens: allow a start period.
# With requirepass set, give the container REDISCLI_AUTH for redis-cli to authenticate.
HEALTHCHECK --interval=10s --timeout=3s --start-period=60s --retries=3 \
    CMD ["redis-cli", "-p", "9221", "ping"]
ENTRYPOINT ["pika"]
CMD ["/etc/pika/pika.conf"]
