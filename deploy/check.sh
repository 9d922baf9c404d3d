#!/usr/bin/env bash
# Deploy checks for CI (.ci/run calls this):
#   1. hadolint on deploy/Dockerfile, yamllint on deploy/**/*.yaml, shellcheck on the scripts;
#   2. the Kubernetes manifests against the Kubernetes schemas (kubernetes-validate --strict,
#      offline: the schemas ship in the package), the KEDA objects against
#      deploy/k8s/schemas/keda.json, and the cross-checks of deploy/validate.py;
#   3. cargo deny (licenses, bans, sources; advisories only when an advisory database is
#      already on disk: it is fetched from GitHub, which this network does not reach);
#   4. deploy/image-check.sh: the container recipe built and run without Docker.
#   deploy/check.sh            # everything (needs a broker for step 4, as tests/run.sh does)
#   deploy/check.sh --lint     # steps 1-2 only
# Tools install on first use: the Python ones into a venv ($PAGESIFT_DEPLOY_TOOLS, default
# ~/.cache/pagesift/deploy-tools) from deploy/requirements.txt, cargo-deny with cargo install.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { echo "deploy/check.sh: $*" >&2; }

tools=${PAGESIFT_DEPLOY_TOOLS:-${XDG_CACHE_HOME:-$HOME/.cache}/pagesift/deploy-tools}
if [ ! -x "$tools/bin/python" ] || ! cmp -s deploy/requirements.txt "$tools/requirements.txt"; then
  say "installing linters into $tools"
  python3 -m venv "$tools"
  "$tools/bin/pip" install --quiet --disable-pip-version-check -r deploy/requirements.txt
  cp deploy/requirements.txt "$tools/requirements.txt"
fi
bin=$tools/bin

say "hadolint deploy/Dockerfile"
"$bin/hadolint" --failure-threshold warning deploy/Dockerfile
say "yamllint deploy/"
"$bin/yamllint" --strict -c deploy/yamllint.yaml deploy/
say "shellcheck deploy/*.sh tests/run.sh .ci/run"
"$bin/shellcheck" deploy/*.sh tests/run.sh .ci/run

say "kubernetes-validate --strict deploy/k8s (built-in kinds)"
builtin=()
for f in deploy/k8s/*.yaml; do
  case "$(basename "$f")" in
    kustomization.yaml | keda.yaml) ;; # not built-in kinds: checked by validate.py
    *) builtin+=("$f") ;;
  esac
done
"$bin/kubernetes-validate" --strict --quiet "${builtin[@]}"
say "KEDA schema and configuration cross-checks"
"$bin/python" deploy/validate.py

if [ "${1:-}" = "--lint" ]; then
  say "lint OK"
  exit 0
fi

deny_version=0.20.2
if ! cargo deny --version 2>/dev/null | grep -q "$deny_version"; then
  say "installing cargo-deny $deny_version (cargo install, a few minutes once)"
  cargo install --locked --quiet cargo-deny --version "$deny_version"
fi
say "cargo deny check licenses bans sources (deny.toml)"
cargo deny --offline --log-level error check licenses bans sources
if compgen -G "${CARGO_HOME:-$HOME/.cargo}/advisory-dbs/advisory-db-*/crates" >/dev/null; then
  say "cargo deny check advisories (the database already on disk, not refreshed)"
  cargo deny --offline --log-level error check advisories
else
  say "advisories NOT CHECKED: the RustSec database is fetched from GitHub, unreachable here"
fi

say "image check"
deploy/image-check.sh
say "OK"
