#!/usr/bin/env bash
# Runs the built image as Kubernetes runs deploy/k8s/deployment.yaml's pod, against the local
# broker. The pod's settings come from the manifest itself (pod_args.py): uid/gid 65532, a
# read-only root filesystem, all capabilities dropped, no-new-privileges, the memory limit, the
# container's env, the ConfigMap's production.toml and the CA Secret mounted where the pod
# mounts them. The broker URL (a Secret in the manifest) is amqps://, as there: a TLS relay
# (tls_relay.py, with a CA made here) fronts the local RabbitMQ, so the worker trusts the
# broker through the mounted CA alone. The container has its own network namespace
# (slirp4netns; 10.0.2.2 is the host's loopback). Then, in order:
#   1. /readyz answers 200: prints the time from `podman run` to ready; the image's
#      HEALTHCHECK command passes (podman healthcheck run), /healthz answers, uid is 65532;
#   2. the fixture pages go through the broker: every event id that `pagesift process` gives
#      offline (in the same image) arrives exactly once in the all-articles queue; /metrics
#      counts the pages; every log line is JSON and the mounted file's setting is in effect;
#   3. a batch of REPEAT (PAGESIFT_IMAGE_RUN_REPEAT, default 10) copies of every page: prints
#      the pages/s and the worker's peak RSS;
#   4. SIGTERM while another batch is being processed: exit status 0 within
#      shutdown.grace_seconds, and every page of the batch is either settled or back in the
#      queue (none lost).
# Broker: PAGESIFT_TEST_AMQP_URL or amqp://guest:guest@127.0.0.1:5672/%2f, with queue and
# exchange names of its own (pagesift-ci-RANDOM.*), deleted at the end.
#   deploy/podman/run.sh
set -euo pipefail
# shellcheck source=deploy/podman/lib.sh
. "$(dirname "$0")/lib.sh"
require_podman
bin=$(deploy_tools)
podman image exists "$PAGESIFT_IMAGE" || die "$PAGESIFT_IMAGE is missing: run deploy/podman/image.sh first"

url=${PAGESIFT_TEST_AMQP_URL:-amqp://guest:guest@127.0.0.1:5672/%2f}
prefix="pagesift-ci-$(od -An -N4 -tx4 /dev/urandom | tr -d ' ')"
work=$(mktemp -d /tmp/pagesift-run.XXXXXX)
name="$prefix-worker"
queues=("$prefix.pages" "$prefix.pages.dead" "$prefix.articles.all")
exchanges=("$prefix.articles" "$prefix.dead")

relay=""
cleanup() {
  podman rm -f -t 0 "$name" >/dev/null 2>&1 || true
  [ -z "$relay" ] || kill "$relay" 2>/dev/null || true
  local args=()
  for q in "${queues[@]}"; do args+=(--queue "$q"); done
  for e in "${exchanges[@]}"; do args+=(--exchange "$e"); done
  "$bin/python" "$here/amqp.py" delete "$url" "${args[@]}" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
fail() {
  say "FAIL: $*"
  if podman container exists "$name"; then
    say "last log lines of the worker:"
    podman logs --tail 25 "$name" 2>&1 | sed 's/^/  /' >&2
  fi
  exit 1
}

# The mounted production.toml: the ConfigMap's data (deploy/check.sh keeps it equal to
# config/production.toml) plus one observable setting, a stats log line every second.
"$bin/python" - "$repo/deploy/k8s/configmap.yaml" "$work/production.toml" <<'PY'
import sys, yaml
text = yaml.safe_load(open(sys.argv[1], encoding="utf-8"))["data"]["production.toml"]
lines = [l for l in text.splitlines() if not l.startswith("stats_interval_seconds")]
if "[log]" not in lines:
    lines.append("[log]")
lines.insert(lines.index("[log]") + 1, "stats_interval_seconds = 1")
open(sys.argv[2], "w", encoding="utf-8").write("\n".join(lines) + "\n")
PY
chmod 0644 "$work/production.toml"

# The broker's side of amqps://: a CA, a certificate for 10.0.2.2 signed by it, the relay.
mkdir "$work/tls" "$work/secret"
(
  cd "$work/tls"
  openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days 2 -subj "/CN=pagesift CI CA" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign"
  openssl req -newkey rsa:2048 -nodes -keyout server.key -out server.csr -subj "/CN=10.0.2.2"
  printf '%s\n' "basicConstraints=CA:FALSE" "keyUsage=digitalSignature,keyEncipherment" \
    "extendedKeyUsage=serverAuth" "subjectAltName=IP:10.0.2.2,IP:127.0.0.1" >server.ext
  openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out server.crt -days 2 \
    -extfile server.ext
) >"$work/openssl.log" 2>&1 || { cat "$work/openssl.log" >&2; die "making the test CA failed"; }
cp "$work/tls/ca.crt" "$work/secret/ca.crt"
chmod -R a+rX "$work/secret"
read -r broker_host broker_port < <("$bin/python" -c '
import sys, urllib.parse
u = urllib.parse.urlparse(sys.argv[1])
print(u.hostname, u.port or 5672)' "$url")
"$bin/python" "$here/tls_relay.py" "$work/tls/server.crt" "$work/tls/server.key" "$broker_host" "$broker_port" \
  >"$work/relay.port" 2>"$work/relay.log" &
relay=$!
for _ in $(seq 50); do [ -s "$work/relay.port" ] && break; sleep 0.1; done
[ -s "$work/relay.port" ] || { cat "$work/relay.log" >&2; die "the TLS relay did not start"; }
userinfo=$(sed -E 's#^amqps?://([^@]*@)?.*#\1#' <<<"$url")
vhost=$(sed -E 's#^amqps?://[^/]*(/.*)?$#\1#' <<<"$url")
container_url="amqps://${userinfo}10.0.2.2:$(cat "$work/relay.port")${vhost:-/%2f}"

mapfile -t pod < <("$bin/python" "$here/pod_args.py" "$repo/deploy/k8s/deployment.yaml" \
  "$work/production.toml" "$work/secret") || die "cannot translate deploy/k8s/deployment.yaml"
secure=("${pod[@]}" --network slirp4netns:allow_host_loopback=true)
say "pod settings from deploy/k8s/deployment.yaml: ${pod[*]}"
env=(-e "PAGESIFT__AMQP__URL=$container_url"
  -e "PAGESIFT__AMQP__INPUT_QUEUE=$prefix.pages"
  -e "PAGESIFT__AMQP__OUTPUT_EXCHANGE=$prefix.articles"
  -e "PAGESIFT__AMQP__DEAD_LETTER_EXCHANGE=$prefix.dead"
  -e "PAGESIFT__AMQP__DEAD_LETTER_QUEUE=$prefix.pages.dead"
  -e "PAGESIFT__AMQP__ALL_ARTICLES_QUEUE=$prefix.articles.all"
  -e "PAGESIFT__AMQP__SAFETY_ARTICLES_QUEUE=")
pages=()
for f in "$repo"/tests/fixtures/pages/*; do pages+=("/pages/${f##*/}"); done
one_off() { podman run --rm --no-healthcheck "${secure[@]}" "${env[@]}" -v "$repo/tests/fixtures/pages:/pages:ro" "$PAGESIFT_IMAGE" "$@"; }

# 0. What the pages must give: the events of `pagesift process`, in the same image.
one_off process "${pages[@]}" 2>"$work/process.err" \
  | "$bin/python" -c 'import json, sys; [print(json.loads(l)["event_id"]) for l in sys.stdin if l.strip()]' \
  >"$work/expected" || { cat "$work/process.err" >&2; die "pagesift process failed in the image"; }
expected=$(wc -l <"$work/expected")
[ "$expected" -gt 0 ] || die "pagesift process gave no events for the fixture pages"
grace=$(one_off check-config --skip-models 2>/dev/null \
  | awk '/^\[shutdown\]/ {s=1} s && /^grace_seconds/ {print $3; exit}')
[ -n "$grace" ] || die "could not read shutdown.grace_seconds from check-config"

# 1. Start it; /readyz, HEALTHCHECK, /healthz.
start=$(date +%s.%N)
# (podman cannot schedule the image's periodic health checks without systemd and says so on
# stderr; this script runs the HEALTHCHECK itself below.)
podman run -d --name "$name" "${secure[@]}" "${env[@]}" -p 127.0.0.1::9090 "$PAGESIFT_IMAGE" \
  >/dev/null 2>"$work/run.err" || { cat "$work/run.err" >&2; die "podman run failed"; }
port=$(podman port "$name" 9090/tcp | sed 's/.*://')
http() { "$bin/python" - "http://127.0.0.1:$port$1" <<'PY'
import sys, urllib.request
try:
    with urllib.request.urlopen(sys.argv[1], timeout=3) as r:
        sys.stdout.write(r.read().decode())
except Exception:
    sys.exit(1)
PY
}
running() { [ "$(podman inspect --format '{{.State.Running}}' "$name" 2>/dev/null)" = true ]; }
wait_for() { # wait_for WHAT SECONDS COMMAND...
  local what=$1 limit=$2 t0=$SECONDS
  shift 2
  until "$@" >/dev/null 2>&1; do
    running || fail "the worker exited (status $(podman inspect --format '{{.State.ExitCode}}' "$name")) while waiting for $what"
    [ $((SECONDS - t0)) -lt "$limit" ] || fail "$what not reached within ${limit} s"
    sleep 0.1
  done
}
wait_for "/readyz" 60 http /readyz
ready=$(date +%s.%N)
say "ready (/readyz 200) $(awk -v a="$start" -v b="$ready" 'BEGIN { printf "%.2f", b - a }') s after podman run"
podman healthcheck run "$name" >/dev/null || fail "the image's HEALTHCHECK command fails"
say "HEALTHCHECK ($(podman inspect --format '{{join .Config.Healthcheck.Test " "}}' "$name")): healthy"
http /healthz >/dev/null || fail "/healthz does not answer"
[ "$(podman top "$name" huser 2>/dev/null | tail -n 1 | tr -d ' ')" = 65532 ] || fail "the worker does not run as uid 65532"

# 2. The fixture pages end to end (published through amqps:// too).
one_off publish "${pages[@]}" >"$work/publish.log" 2>&1 || { cat "$work/publish.log" >&2; fail "publish failed"; }
"$bin/python" "$here/amqp.py" drain "$url" "$prefix.articles.all" --expect "$expected" --timeout 120 \
  >"$work/drained.json" || fail "could not read $prefix.articles.all"
"$bin/python" "$here/amqp.py" compare "$work/expected" "$work/drained.json" >&2 \
  || fail "the events of the ${#pages[@]} fixture pages did not all arrive"
metrics=$(http /metrics) || fail "/metrics does not answer"
published=$(awk '/^pagesift_pages_total\{outcome="published"\}/ {print $2}' <<<"$metrics")
[ "${published:-0}" = "${#pages[@]}" ] || fail "/metrics counts ${published:-0} published pages, not ${#pages[@]}"
say "/metrics: pagesift_pages_total{outcome=\"published\"} ${published}, $(grep -c '^pagesift_' <<<"$metrics") pagesift_ series"
podman logs "$name" >"$work/worker.log" 2>&1
"$bin/python" - "$work/worker.log" <<'PY' || fail "the worker's logs are not JSON lines, or the mounted production.toml is not in effect"
import json, sys
lines = [l for l in open(sys.argv[1], encoding="utf-8") if l.strip()]
bad = [l for l in lines if not l.startswith("{")]
for l in bad[:5]:
    print("  not JSON:", l.rstrip()[:200], file=sys.stderr)
events = [json.loads(l) for l in lines if l.startswith("{")]
messages = [e.get("message") or e.get("fields", {}).get("message", "") for e in events]
stats = sum(1 for m in messages if m == "stats")
print(f"logs: {len(events)} JSON lines, {stats} stats lines (mounted stats_interval_seconds = 1)",
      file=sys.stderr)
sys.exit(1 if bad or stats == 0 else 0)
PY

# 3. Throughput: a batch of REPEAT copies of every page, until all are settled; peak RSS.
repeat=${PAGESIFT_IMAGE_RUN_REPEAT:-10}
batch=$(( ${#pages[@]} * repeat ))
published_now() { http /metrics | awk '/^pagesift_pages_total\{outcome="published"\}/ {print $2}'; }
at_least() { [ "$(published_now)" -ge "$1" ]; }
t0=$(date +%s.%N)
one_off publish --repeat "$repeat" "${pages[@]}" >>"$work/publish.log" 2>&1 || fail "publishing $batch pages failed"
wait_for "$batch more pages settled" 300 at_least $(( ${#pages[@]} + batch ))
t1=$(date +%s.%N)
pid=$(podman inspect --format '{{.State.Pid}}' "$name")
say "$batch pages published and settled in $(awk -v a="$t0" -v b="$t1" -v n="$batch" 'BEGIN { printf "%.1f s (%.0f pages/s incl. publishing)", b - a, n / (b - a) }'); peak RSS $(awk '/VmHWM/ {print $2, $3}' "/proc/$pid/status")"

# 4. SIGTERM under load: another batch, stopped while the worker is busy.
before=$(published_now)
one_off publish --repeat "$repeat" "${pages[@]}" >>"$work/publish.log" 2>&1 || fail "publishing the last batch failed"
wait_for "the last batch to start" 60 at_least $(( before + 5 ))
term=$(date +%s.%N)
podman kill --signal TERM "$name" >/dev/null
timeout "$((grace + 5))" podman wait "$name" >/dev/null || fail "still running $((grace + 5)) s after SIGTERM"
stopped=$(date +%s.%N)
status=$(podman inspect --format '{{.State.ExitCode}}' "$name")
[ "$status" = 0 ] || fail "exit status $status after SIGTERM"
took=$(awk -v a="$term" -v b="$stopped" 'BEGIN { printf "%.2f", b - a }')
awk -v t="$took" -v g="$grace" 'BEGIN { exit !(t <= g) }' || fail "SIGTERM to exit took ${took} s, over shutdown.grace_seconds=$grace"
podman logs "$name" >"$work/worker.log" 2>&1
done_pages=$("$bin/python" -c '
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1], encoding="utf-8") if l.startswith("{")]
print(sum(1 for e in lines if e.get("message") == "page settled" and e.get("outcome") == "published"))
' "$work/worker.log")
left=$("$bin/python" - "$url" "$prefix.pages" <<'PY'
import sys, pika
with pika.BlockingConnection(pika.URLParameters(sys.argv[1])) as c:
    print(c.channel().queue_declare(sys.argv[2], passive=True).method.message_count)
PY
) || fail "could not count the pages left in $prefix.pages"
settled_last=$((done_pages - before))
say "SIGTERM under load: exit 0 in ${took} s (grace ${grace} s); last batch: ${settled_last} settled + ${left} back in the queue of ${batch}"
[ $((settled_last + left)) -ge "$batch" ] || fail "$((batch - settled_last - left)) pages of the last batch are neither settled nor queued"
say "OK"
