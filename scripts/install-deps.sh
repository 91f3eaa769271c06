#!/usr/bin/env bash
# Installs what a fresh Debian machine lacks to build pika-rs: a C++ compiler for RocksDB and
# libclang for bindgen. Safe to run again; does nothing when everything is present.
set -euo pipefail
need=()
command -v g++ >/dev/null 2>&1 || need+=(g++)
dpkg -s libclang-dev >/dev/null 2>&1 || need+=(libclang-dev)
command -v cargo >/dev/null 2>&1 || { echo "cargo not found: install Rust (rustup) first" >&2; exit 1; }
if [ ${#need[@]} -gt 0 ]; then
  sudo=""; [ "$(id -u)" -ne 0 ] && sudo="sudo"
  $sudo apt-get update
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y "${need[@]}"
fi
