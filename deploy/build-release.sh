#!/bin/sh
# The release build of the container image (deploy/Dockerfile runs this script):
#   deploy/build-release.sh OUT    # builds the service binary and installs it at OUT
# Only the service binary `pagesift` is built (the development tools stay out of the image);
# its debug info is stripped (symbols stay, so a panic's backtrace still names functions).
set -eu
out=${1:?usage: deploy/build-release.sh OUT}
export CARGO_PROFILE_RELEASE_STRIP="${CARGO_PROFILE_RELEASE_STRIP:-debuginfo}"
start=$(date +%s)
cargo build --release --locked --bin pagesift
install -D -m 0755 "${CARGO_TARGET_DIR:-target}/release/pagesift" "$out"
echo "build-release.sh: built $out ($(du -k "$out" | cut -f1) KiB) in $(( $(date +%s) - start )) s"
