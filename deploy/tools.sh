# The Python tools of the deploy checks (sourced by deploy/check.sh and deploy/podman/lib.sh):
# linters, validators and pika, installed from PyPI into a private venv on first use and
# whenever deploy/requirements.txt changes. $PAGESIFT_DEPLOY_TOOLS chooses the venv's place
# (default ~/.cache/pagesift/deploy-tools).
# shellcheck shell=bash

# Prints the venv's bin directory, installing the venv first when needed.
deploy_tools() {
  local deploy tools
  deploy="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
  tools=${PAGESIFT_DEPLOY_TOOLS:-${XDG_CACHE_HOME:-$HOME/.cache}/pagesift/deploy-tools}
  if [ ! -x "$tools/bin/python" ] || ! cmp -s "$deploy/requirements.txt" "$tools/requirements.txt"; then
    echo "deploy tools: installing deploy/requirements.txt into $tools" >&2
    python3 -m venv "$tools" >&2
    "$tools/bin/pip" install --quiet --disable-pip-version-check -r "$deploy/requirements.txt" >&2
    cp "$deploy/requirements.txt" "$tools/requirements.txt"
  fi
  echo "$tools/bin"
}
