# Shared by the deploy/podman/*.sh scripts (sourced, not run): image names, messages, timing.
# shellcheck shell=bash disable=SC2034  # the names are used by the scripts that source this

# The local stand-ins for the public images deploy/Dockerfile and deploy/compose.yaml pull
# (no image registry is reachable from CI), kept in podman's storage between runs.
MINBASE_IMAGE=localhost/pagesift-ci/bookworm-minbase:latest
BUILDER_IMAGE=${PAGESIFT_CI_BUILDER_IMAGE:-localhost/pagesift-ci/rust:1.95-slim-bookworm}
RUNTIME_IMAGE=localhost/pagesift-ci/distroless-cc-debian12:nonroot
RABBITMQ_IMAGE=localhost/pagesift-ci/rabbitmq:3-management
# The image CI builds from deploy/Dockerfile (compose.yaml's worker and feeder use this name).
PAGESIFT_IMAGE=localhost/pagesift:local

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
export CONTAINERS_CONF="$here/containers.conf"
repo="$(cd "$here/../.." && pwd)"

# shellcheck source=deploy/tools.sh
. "$here/../tools.sh"

say() { echo "${0##*/}: $*" >&2; }
die() { echo "${0##*/}: FAIL: $*" >&2; exit 1; }

# Runs "$@" and prints how long it took, under the label $1.
timed() {
  local label=$1 start=$SECONDS
  shift
  "$@"
  say "$label: $((SECONDS - start)) s"
}

# The podman and runc set-up CI needs (root; see README "Deploy"), checked before anything runs.
require_podman() {
  command -v podman >/dev/null || die "podman is not installed (apt-get install podman runc)"
  [ "$(id -u)" = 0 ] || die "the container steps run podman as root (as CI does)"
  podman info >/dev/null 2>&1 || die "podman info failed: $(podman info 2>&1 | tail -n 3)"
}
