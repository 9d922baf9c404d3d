#!/usr/bin/env bash
# The base images that deploy/Dockerfile and deploy/compose.yaml pull from public registries,
# made locally for CI (no image registry is reachable here) and kept in podman's storage:
#   pagesift-ci/bookworm-minbase              debootstrap --variant=minbase bookworm (the parent)
#   pagesift-ci/rust:1.95-slim-bookworm       for docker.io/library/rust:1.95-slim-bookworm
#   pagesift-ci/distroless-cc-debian12        for gcr.io/distroless/cc-debian12:nonroot
#   pagesift-ci/rabbitmq:3-management         for docker.io/library/rabbitmq:3.13-management
# Each is (re)built only when it is missing or its recipe changed (the Containerfile, its
# arguments, its parent: a label records the digest), as a CI cache would keep them.
# PAGESIFT_CI_REFRESH_BASES=1 rebuilds all (e.g. weekly, for Debian's security updates);
# PAGESIFT_CI_BUILDER_TOOLCHAIN=rustup|machine forces where the builder's Rust comes from
# (default: rustup when static.rust-lang.org answers, else the machine's toolchain).
#   deploy/podman/bases.sh
set -euo pipefail
# shellcheck source=deploy/podman/lib.sh
. "$(dirname "$0")/lib.sh"
require_podman

refresh=${PAGESIFT_CI_REFRESH_BASES:-0}
mirror=http://deb.debian.org/debian

recipe_of() { podman image inspect --format '{{ index .Labels "pagesift.recipe" }}' "$1" 2>/dev/null || true; }
image_id() { podman image inspect --format '{{.Id}}' "$1"; }
digest() { sha256sum | cut -c1-16; }
current() { [ "$refresh" != 1 ] && [ "$(recipe_of "$1")" = "$2" ]; }

# The apt sources and slimming rules of debian:bookworm-slim.
minbase_setup() {
  local root=$1
  cat >"$root/etc/apt/sources.list.d/debian.sources" <<SOURCES
Types: deb
URIs: $mirror
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: ${mirror}-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SOURCES
  rm -f "$root/etc/apt/sources.list"
  cat >"$root/etc/dpkg/dpkg.cfg.d/slim" <<'SLIM'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/lintian/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
SLIM
  printf 'APT::Install-Recommends "false";\n' >"$root/etc/apt/apt.conf.d/no-recommends"
  rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/* "$root"/usr/share/doc/* \
    "$root"/usr/share/man/* "$root"/usr/share/locale/*
}

minbase() {
  local recipe root
  recipe=$(declare -f minbase_setup | cat - <(echo "$mirror") | digest)
  if current "$MINBASE_IMAGE" "$recipe"; then
    say "$MINBASE_IMAGE: cached"
    return
  fi
  command -v debootstrap >/dev/null || die "debootstrap is not installed (deploy/podman/setup.sh)"
  root=$(mktemp -d /var/tmp/pagesift-minbase.XXXXXX)
  say "$MINBASE_IMAGE: debootstrap --variant=minbase bookworm from $mirror"
  if ! debootstrap --variant=minbase bookworm "$root" "$mirror" >"$root.log" 2>&1; then
    tail -n 20 "$root.log" >&2
    rm -rf "$root" "$root.log"
    die "debootstrap failed (is $mirror reachable?)"
  fi
  minbase_setup "$root"
  tar -C "$root" -c . | podman import --quiet --change 'CMD ["bash"]' \
    --change "LABEL pagesift.recipe=$recipe" - "$MINBASE_IMAGE" >/dev/null
  rm -rf "$root" "$root.log"
}

# build NAME CONTAINERFILE CONTEXT [--build-arg ...]: podman build on the minbase, when needed.
build() {
  local name=$1 file=$2 context=$3 recipe log
  shift 3
  recipe=$( (cat "$here/$file" "$context"/*.crt 2>/dev/null; image_id "$MINBASE_IMAGE"; printf '%s\n' "$@") | digest)
  if current "$name" "$recipe"; then
    say "$name: cached"
    return
  fi
  say "$name: building from deploy/podman/$file"
  log=$(mktemp /tmp/pagesift-base.XXXXXX.log)
  if ! podman build --quiet --pull=never --layers=false -f "$here/$file" \
      --build-arg "BASE=$MINBASE_IMAGE" "$@" --label "pagesift.recipe=$recipe" -t "$name" "$context" \
      >"$log" 2>&1; then
    tail -n 30 "$log" >&2
    die "building $name failed"
  fi
  rm -f "$log"
}

# The builder's toolchain: rustup from static.rust-lang.org as the official image does, else
# the machine's own toolchain copied in (same layout: /usr/local/rustup, /usr/local/cargo/bin).
builder() {
  local version context sysroot
  version=$(sed -n 's|^ARG BUILDER_IMAGE=.*rust:\([0-9.]*\)-slim-bookworm$|\1|p' "$repo/deploy/Dockerfile")
  [ -n "$version" ] || die "deploy/Dockerfile has no ARG BUILDER_IMAGE=...rust:VERSION-slim-bookworm"
  context=$(mktemp -d /tmp/pagesift-builder.XXXXXX)
  mkdir "$context/toolchain"
  cp "${SSL_CERT_FILE:-/etc/ssl/certs/ca-certificates.crt}" "$context/machine-ca.crt"
  local from=${PAGESIFT_CI_BUILDER_TOOLCHAIN:-auto}
  if [ "$from" = auto ]; then
    from=machine
    curl -fsS -o /dev/null --max-time 10 https://static.rust-lang.org/rustup/release-stable.toml && from=rustup
  fi
  if [ "$from" = rustup ]; then
    timed "builder stand-in (rustup $version)" build "$BUILDER_IMAGE" rust.Containerfile "$context" \
      --build-arg "RUST_VERSION=$version"
  else
    sysroot=$(rustc --print sysroot) || die "no rustc on this machine for the builder stand-in"
    rustc --version | grep -q "^rustc $version" \
      || die "the builder needs Rust $version: static.rust-lang.org is unreachable and the machine's rustc is $(rustc --version)"
    say "the builder gets the machine's toolchain ($sysroot; static.rust-lang.org unreachable or not wanted)"
    tar -C "$sysroot" -c --exclude=share/doc --exclude=lib/rustlib/src \
      bin/cargo bin/rustc bin/rustdoc lib | tar -C "$context/toolchain" -x
    basename "$sysroot" >"$context/toolchain/name"
    timed "builder stand-in (machine toolchain)" build "$BUILDER_IMAGE" rust.Containerfile "$context" \
      --build-arg "RUST_VERSION=$version" --build-arg "TOOLCHAIN=$(rustc --version)"
  fi
  rm -rf "$context"
}

timed "minbase" minbase
builder
timed "runtime stand-in" build "$RUNTIME_IMAGE" distroless-cc.Containerfile "$here"
timed "rabbitmq stand-in" build "$RABBITMQ_IMAGE" rabbitmq.Containerfile "$here"
podman images --filter reference='localhost/pagesift-ci/*' --format '{{.Repository}}:{{.Tag}} {{.Size}}' >&2
