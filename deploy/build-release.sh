#!/bin/sh
# The release build of the container image. deploy/Dockerfile runs exactly this script, and so
# does deploy/image-check.sh (which has no Docker engine), so the two cannot drift apart.
#   deploy/build-release.sh OUT    # builds and installs the binary at OUT
set -eu
out=${1:?usage: deploy/build-release.sh OUT}
cargo build --release --locked --bin pagesift
install -D -m 0755 "${CARGO_TARGET_DIR:-target}/release/pagesift" "$out"
