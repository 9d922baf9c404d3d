#!/usr/bin/env bash
# Builds the real image from deploy/Dockerfile with podman, as CI does:
#   deploy/podman/image.sh         # -> localhost/pagesift:local
# The base images are the local stand-ins of deploy/podman/bases.sh (passed as the Dockerfile's
# BUILDER_IMAGE and RUNTIME_IMAGE arguments; nothing is pulled). The build runs
# deploy/build-release.sh, which fetches crates from crates.io like a user's docker build; the
# registry and target cache mounts persist in podman's storage between runs, as a CI cache
# would. --format docker keeps the HEALTHCHECK (the OCI format has none). Then checks what
# ships: the service binary alone (no pagesift-dev), config/ baked in, no shell; prints the
# image's size against the 60 MB target.
set -euo pipefail
# shellcheck source=deploy/podman/lib.sh
. "$(dirname "$0")/lib.sh"
require_podman
target_mb=${PAGESIFT_IMAGE_TARGET_MB:-60}

for base in "$BUILDER_IMAGE" "$RUNTIME_IMAGE"; do
  podman image exists "$base" || die "$base is missing: run deploy/podman/bases.sh first"
done

log=$(mktemp /tmp/pagesift-image-build.XXXXXX.log)
say "podman build -f deploy/Dockerfile (log: $log)"
start=$SECONDS
if ! podman build --format docker --pull=never --layers -f "$repo/deploy/Dockerfile" \
    --ignorefile "$repo/deploy/Dockerfile.dockerignore" \
    --build-arg "BUILDER_IMAGE=$BUILDER_IMAGE" --build-arg "RUNTIME_IMAGE=$RUNTIME_IMAGE" \
    -t "$PAGESIFT_IMAGE" "$repo" >"$log" 2>&1; then
  tail -n 40 "$log" >&2
  die "podman build of deploy/Dockerfile failed (whole log: $log)"
fi
build_seconds=$((SECONDS - start))
grep -E '^build-release.sh:|Downloaded [0-9]+ crates|Finished' "$log" | sed 's/^/  /' >&2 || true
say "image built in ${build_seconds} s"

# What ships: list the image's files without running anything in it (it has no shell).
files=$(mktemp /tmp/pagesift-image-files.XXXXXX)
container=$(podman create --no-healthcheck "$PAGESIFT_IMAGE")
podman export "$container" | tar -t >"$files"
podman rm "$container" >/dev/null
grep -qx 'usr/local/bin/pagesift' "$files" || die "the image has no /usr/local/bin/pagesift"
grep -x 'usr/local/bin/.\+' "$files" | grep -vx 'usr/local/bin/pagesift' \
  && die "the image ships more than the service binary in /usr/local/bin"
grep -E '(^|/)pagesift-dev$' "$files" && die "the development binary pagesift-dev is in the image"
grep -Ex '(usr/)?s?bin/(sh|bash|dash|busybox)' "$files" && die "the image has a shell"
grep -qx 'app/config/default.toml' "$files" || die "config/ is not baked into /app/config"
rm -f "$files"
podman image inspect --format '{{json .Config.Healthcheck}}' "$PAGESIFT_IMAGE" | grep -q probe \
  || die "the image lost its HEALTHCHECK (build with --format docker)"

bytes=$(podman image inspect --format '{{.Size}}' "$PAGESIFT_IMAGE")
mb=$(( (bytes + 500000) / 1000000 ))
say "image $PAGESIFT_IMAGE: ${mb} MB (target <= ${target_mb} MB); binary $(podman run --rm --no-healthcheck "$PAGESIFT_IMAGE" --version)"
[ "$mb" -le "$target_mb" ] || die "the image is ${mb} MB, over the ${target_mb} MB target"
rm -f "$log"
# Untagged images a day old (replaced builds, their build-stage layers, old stand-ins) go, as a
# CI cache's eviction would; the last day's stay for layer-cache hits.
podman image prune --force --filter until=24h >/dev/null || true
