#!/usr/bin/env bash
# Deploy checks for CI (.ci/run calls this; the image itself is built and run by
# deploy/podman/*.sh):
#   1. hadolint on deploy/Dockerfile and the stand-ins' Containerfiles, yamllint on
#      deploy/**/*.yaml, shellcheck on the scripts;
#   2. the Kubernetes manifests against the Kubernetes schemas (kubernetes-validate --strict,
#      offline: the schemas ship in the package), the KEDA and ServiceMonitor objects against
#      deploy/k8s/schemas/, and the cross-checks of deploy/validate.py (which also checks the
#      Grafana dashboard's shape);
#   3. promtool: the alert rules (check rules, and their unit tests alerts.test.yaml) and the
#      PromQL of every dashboard query;
#   4. cargo deny (licenses, bans, sources; advisories only when an advisory database is
#      already on disk: it is fetched from GitHub, which this network does not reach).
#   deploy/check.sh            # everything
#   deploy/check.sh --lint     # steps 1-3 only
# Tools install on first use: the Python ones into a venv (deploy/tools.sh), cargo-deny with
# cargo install; promtool is Debian's prometheus package (deploy/podman/setup.sh installs it).
set -euo pipefail
cd "$(dirname "$0")/.."

say() { echo "deploy/check.sh: $*" >&2; }

# shellcheck source=deploy/tools.sh
. deploy/tools.sh
bin=$(deploy_tools)

say "hadolint deploy/Dockerfile deploy/podman/*.Containerfile"
"$bin/hadolint" --failure-threshold warning deploy/Dockerfile deploy/podman/*.Containerfile
say "yamllint deploy/"
"$bin/yamllint" --strict -c deploy/yamllint.yaml deploy/
say "shellcheck deploy/*.sh deploy/podman/*.sh tests/run.sh .ci/run"
"$bin/shellcheck" -x deploy/*.sh deploy/podman/*.sh tests/run.sh .ci/run

say "kubernetes-validate --strict deploy/k8s (built-in kinds)"
builtin=()
for f in deploy/k8s/*.yaml; do
  case "$(basename "$f")" in
    kustomization.yaml | keda.yaml | servicemonitor.yaml) ;; # not built-in kinds: validate.py
    *) builtin+=("$f") ;;
  esac
done
"$bin/kubernetes-validate" --strict --quiet "${builtin[@]}"
say "KEDA and ServiceMonitor schemas, configuration cross-checks, dashboard"
"$bin/python" deploy/validate.py

command -v promtool >/dev/null || { say "promtool is missing (apt-get install prometheus)"; exit 1; }
say "promtool check rules / test rules deploy/prometheus/alerts.yaml"
promtool check rules deploy/prometheus/alerts.yaml
promtool test rules deploy/prometheus/alerts.test.yaml
say "promtool: the PromQL of every query of deploy/grafana/pagesift.json"
queries=$(mktemp /tmp/pagesift-dashboard-rules.XXXXXX.yaml)
trap 'rm -f "$queries"' EXIT
"$bin/python" deploy/validate.py --dashboard-rules "$queries"
promtool check rules "$queries"

if [ "${1:-}" = "--lint" ]; then
  say "lint OK"
  exit 0
fi

deny_version=0.20.2
if ! cargo deny --version 2>/dev/null | grep -q "$deny_version"; then
  say "installing cargo-deny $deny_version (cargo install, a few minutes once)"
  cargo install --locked --quiet cargo-deny --version "$deny_version"
fi
# cargo deny reads the metadata of every platform's crates; a fresh machine has only fetched
# its own platform's (a build fetches no Windows crates), so fetch them all first.
say "cargo fetch --locked (every platform's crates, for cargo deny)"
cargo fetch --locked --quiet
say "cargo deny check licenses bans sources (deny.toml)"
cargo deny --offline --log-level error check licenses bans sources
if compgen -G "${CARGO_HOME:-$HOME/.cargo}/advisory-dbs/advisory-db-*/crates" >/dev/null; then
  say "cargo deny check advisories (the database already on disk, not refreshed)"
  cargo deny --offline --log-level error check advisories
else
  say "advisories NOT CHECKED: the RustSec database is fetched from GitHub, unreachable here"
fi
say "OK"
