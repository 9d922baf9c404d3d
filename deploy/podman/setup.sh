#!/usr/bin/env bash
# Makes sure the machine can run CI's container steps, idempotently: the Debian packages
# (podman with runc, netavark/aardvark-dns, iptables and slirp4netns for networking, debootstrap for the
# local base images, prometheus for promtool) are installed, and podman answers with
# deploy/podman/containers.conf. (podman-compose comes from PyPI: deploy/requirements.txt.) Needs root and Debian's package mirror, as a fresh
# CI machine has; on a machine that has everything it only checks (< 1 s).
#   deploy/podman/setup.sh
set -euo pipefail
# shellcheck source=deploy/podman/lib.sh
. "$(dirname "$0")/lib.sh"

# command -> Debian package
declare -A needs=(
  [podman]=podman [runc]=runc [slirp4netns]=slirp4netns
  [debootstrap]=debootstrap [promtool]=prometheus [iptables]=iptables
  [/usr/lib/podman/netavark]=netavark [/usr/lib/podman/aardvark-dns]=aardvark-dns
)
missing=()
for cmd in "${!needs[@]}"; do
  command -v "$cmd" >/dev/null 2>&1 || missing+=("${needs[$cmd]}")
done
if [ "${#missing[@]}" -gt 0 ]; then
  [ "$(id -u)" = 0 ] || die "missing packages ${missing[*]}: run as root or apt-get install them"
  say "installing ${missing[*]} (apt-get)"
  DEBIAN_FRONTEND=noninteractive apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
require_podman
say "podman $(podman version --format '{{.Client.Version}}'), runtime $(podman info --format '{{.Host.OCIRuntime.Name}}'), network $(podman info --format '{{.Host.NetworkBackend}}')"
