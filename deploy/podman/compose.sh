#!/usr/bin/env bash
# Runs the local stack of deploy/compose.yaml for real, with podman-compose (deploy/requirements.txt
# pins it; Debian bookworm's 1.0.3 ignores deploy.replicas and wraps health checks in /bin/sh,
# which the image does not have): the broker (the local RabbitMQ stand-in through
# PAGESIFT_RABBITMQ_IMAGE), two workers from the image deploy/podman/image.sh built, then the
# feeder. Checks that every event id of the fixture pages arrives in pagesift.articles.all, that
# both workers log JSON lines, and that `stop` drains both workers to exit status 0.
# podman 4.3 cannot wait for `depends_on: condition: service_healthy` (podman-compose says it
# ignores it), so this script waits for the same health checks itself, in compose.yaml's order:
# broker healthy, workers healthy (/readyz), then the feeder.
#   deploy/podman/compose.sh
set -euo pipefail
# shellcheck source=deploy/podman/lib.sh
. "$(dirname "$0")/lib.sh"
require_podman
bin=$(deploy_tools)
for image in "$PAGESIFT_IMAGE" "$RABBITMQ_IMAGE"; do
  podman image exists "$image" || die "$image is missing: run deploy/podman/bases.sh and image.sh first"
done

project="pagesift-ci-$(od -An -N3 -tx1 /dev/urandom | tr -d ' ')"
work=$(mktemp -d /tmp/pagesift-compose.XXXXXX)
read -r amqp_port management_port < <("$bin/python" - <<'PY'
import socket
def free():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
print(free(), free())
PY
)
export PAGESIFT_RABBITMQ_IMAGE="$RABBITMQ_IMAGE"
export PAGESIFT_AMQP_PORT=$amqp_port PAGESIFT_MANAGEMENT_PORT=$management_port
compose=("$bin/podman-compose" --no-ansi -p "$project" -f "$repo/deploy/compose.yaml")
url="amqp://guest:guest@127.0.0.1:$amqp_port/%2f"

containers() { # containers SERVICE: the stack's container names of one service
  podman ps -a --filter "label=io.podman.compose.project=$project" \
    --filter "label=com.docker.compose.service=$1" --format '{{.Names}}' | sort
}
cleanup() {
  "${compose[@]}" down -t 0 >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
fail() {
  say "FAIL: $*"
  for c in $(podman ps -a --filter "label=io.podman.compose.project=$project" --format '{{.Names}}'); do
    say "last log lines of $c:"
    podman logs --tail 15 "$c" 2>&1 | sed 's/^/  /' >&2
  done
  exit 1
}
healthy() { # healthy SECONDS CONTAINER...: runs their health checks until all pass
  local limit=$1 t0=$SECONDS c
  shift
  for c in "$@"; do
    until podman healthcheck run "$c" >/dev/null 2>&1; do
      [ "$(podman inspect --format '{{.State.Running}}' "$c")" = true ] || fail "$c exited"
      [ $((SECONDS - t0)) -lt "$limit" ] || fail "$c not healthy within ${limit} s"
      sleep 0.5
    done
  done
}

# Expected events: the image's offline `process` of the pages the feeder publishes.
mapfile -t fed < <("$bin/python" -c '
import sys, yaml
print("\n".join(yaml.safe_load(open(sys.argv[1]))["services"]["feeder"]["command"][1:]))' "$repo/deploy/compose.yaml")
podman run --rm --no-healthcheck --read-only --user 65532:65532 --network none -v "$repo/tests/fixtures/pages:/pages:ro" \
  "$PAGESIFT_IMAGE" process "${fed[@]}" 2>/dev/null \
  | "$bin/python" -c 'import json, sys; [print(json.loads(l)["event_id"]) for l in sys.stdin if l.strip()]' \
  >"$work/expected" || die "pagesift process failed in the image"
expected=$(wc -l <"$work/expected")

start=$SECONDS
"${compose[@]}" up -d --no-build rabbitmq worker >"$work/up.log" 2>&1 || { cat "$work/up.log" >&2; fail "podman-compose up failed"; }
healthy 120 "$(containers rabbitmq)"
say "broker healthy after $((SECONDS - start)) s"
mapfile -t workers < <(containers worker)
[ "${#workers[@]}" = 2 ] || fail "compose started ${#workers[@]} workers, not the 2 of deploy.replicas"
healthy 60 "${workers[@]}"
say "both workers ready (/readyz) after $((SECONDS - start)) s: ${workers[*]}"
"${compose[@]}" up -d --no-build --no-deps feeder >>"$work/up.log" 2>&1 || { cat "$work/up.log" >&2; fail "starting the feeder failed"; }
feeder=$(containers feeder)
timeout 60 podman wait "$feeder" >/dev/null || fail "the feeder did not finish within 60 s"
[ "$(podman inspect --format '{{.State.ExitCode}}' "$feeder")" = 0 ] || fail "the feeder failed"

"$bin/python" "$here/amqp.py" drain "$url" pagesift.articles.all --expect "$expected" --timeout 120 \
  >"$work/drained.json" || fail "could not read pagesift.articles.all"
"$bin/python" "$here/amqp.py" compare "$work/expected" "$work/drained.json" >&2 \
  || fail "the fixture pages' events did not all arrive in pagesift.articles.all"
say "stack up, pages fed and all events in pagesift.articles.all after $((SECONDS - start)) s"

stop_start=$SECONDS
"${compose[@]}" stop >"$work/stop.log" 2>&1 || { cat "$work/stop.log" >&2; fail "podman-compose stop failed"; }
for w in "${workers[@]}"; do
  status=$(podman inspect --format '{{.State.ExitCode}}' "$w")
  [ "$status" = 0 ] || fail "$w exited with status $status on stop"
  podman logs "$w" >"$work/$w.log" 2>&1
done
"$bin/python" - "${workers[@]/#/$work/}" <<'PY' || fail "the workers' logs are not JSON lines"
import json, sys
for path in sys.argv[1:]:
    lines = [l for l in open(path + ".log", encoding="utf-8") if l.strip()]
    bad = [l for l in lines if not l.startswith("{")]
    events = [json.loads(l) for l in lines if l.startswith("{")]
    settled = sum(1 for e in events if e.get("message") == "page settled")
    print(f"  {path.rsplit('/', 1)[1]}: {len(events)} JSON log lines, {settled} pages settled",
          file=sys.stderr)
    for l in bad[:5]:
        print("  not JSON:", l.rstrip()[:200], file=sys.stderr)
    if bad or not events:
        sys.exit(1)
PY
say "stop: both workers exited 0 in $((SECONDS - stop_start)) s"
say "OK ($((SECONDS - start)) s)"
