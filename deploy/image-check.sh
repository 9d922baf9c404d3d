#!/usr/bin/env bash
# The container recipe without a Docker engine: builds the release binary with the very script
# deploy/Dockerfile runs (deploy/build-release.sh), lays it out as the runtime stage does
# (binary in /usr/local/bin, config/ baked into /app/config, the Dockerfile's ENV and WORKDIR),
# starts `pagesift run` as the image's non-root user against the local broker, runs the image's
# HEALTHCHECK command, waits for /readyz, reads /metrics and the peak RSS, sends SIGTERM and
# expects a clean exit within shutdown.grace_seconds.
#   deploy/image-check.sh
# Broker: PAGESIFT_TEST_AMQP_URL or amqp://guest:guest@127.0.0.1:5672/%2f (tests/run.sh starts
# one). Uses its own queue and exchange names (pagesift-imagecheck.*) and deletes the queues.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"

say() { echo "image-check: $*" >&2; }
die() { say "FAIL: $*"; [ -n "${log:-}" ] && [ -f "$log" ] && tail -n 30 "$log" >&2; exit 1; }

stage=$(mktemp -d /tmp/pagesift-image.XXXXXX)
pid=""
cleanup() {
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then kill -KILL "$pid" 2>/dev/null || true; fi
  if command -v rabbitmqctl >/dev/null 2>&1; then
    for q in pagesift-imagecheck.pages pagesift-imagecheck.dead pagesift-imagecheck.articles.all; do
      rabbitmqctl -q delete_queue "$q" >/dev/null 2>&1 || true
    done
  fi
  rm -rf "$stage"
}
trap cleanup EXIT

# 1. Build stage: exactly the Dockerfile's build command.
say "building the release binary with deploy/build-release.sh"
deploy/build-release.sh "$stage/usr/local/bin/pagesift"

# 2. Runtime stage: read WORKDIR, ENV, USER and HEALTHCHECK from the Dockerfile's last stage.
workdir="" image_user="" image_env=() healthcheck=()
eval "$(python3 - deploy/Dockerfile "$stage" <<'PY'
import json, re, shlex, sys
text = open(sys.argv[1], encoding="utf-8").read().replace("\\\n", " ")
stage = sys.argv[2]
last = text[text.rindex("\nFROM "):]
def rooted(v):  # image paths -> staged paths (/healthz and other arguments stay as they are)
    return stage + v if v.startswith(("/app", "/usr/")) else v
workdir = re.findall(r"^WORKDIR\s+(\S+)", last, re.M)[-1]
env = {}
for line in re.findall(r"^ENV\s+(.*)$", last, re.M):
    for k, v in re.findall(r"(\w+)=(\S+)", line):
        env[k] = rooted(v)
user = re.findall(r"^USER\s+(\S+)", last, re.M)[-1]
health = json.loads(re.search(r"HEALTHCHECK.*?CMD\s+(\[.*?\])", last).group(1))
print("workdir=" + shlex.quote(rooted(workdir)))
print("image_user=" + shlex.quote(user))
print("image_env=(" + " ".join(shlex.quote(f"{k}={v}") for k, v in env.items()) + ")")
print("healthcheck=(" + " ".join(shlex.quote(rooted(a)) for a in health) + ")")
PY
)"
mkdir -p "$workdir"
cp -r config "$workdir/config"
chmod -R a+rX "$stage"
bin="$stage/usr/local/bin/pagesift"
say "runtime layout in $stage: ENV ${image_env[*]}; USER $image_user"

"$bin" --help | grep -qE '^\s+run\b' || die "pagesift has no \`run\` command"

# 3. Start it like the container would, as the image's user when we are root.
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
as_user=()
if [ "$(id -u)" = 0 ]; then
  uid=${image_user%%:*}; gid=${image_user#*:}
  command -v setpriv >/dev/null || die "setpriv (util-linux) is needed to drop root"
  as_user=(setpriv --reuid="$uid" --regid="$gid" --clear-groups --)
  say "running as uid $uid gid $gid"
else
  say "not root: running as $(id -un) (already unprivileged)"
fi
run_env=(
  "${image_env[@]}"
  "PAGESIFT__AMQP__URL=${PAGESIFT_TEST_AMQP_URL:-amqp://guest:guest@127.0.0.1:5672/%2f}"
  "PAGESIFT__HTTP__LISTEN=127.0.0.1:$port"
  "PAGESIFT__AMQP__INPUT_QUEUE=pagesift-imagecheck.pages"
  "PAGESIFT__AMQP__OUTPUT_EXCHANGE=pagesift-imagecheck.articles"
  "PAGESIFT__AMQP__DEAD_LETTER_EXCHANGE=pagesift-imagecheck.dlx"
  "PAGESIFT__AMQP__DEAD_LETTER_QUEUE=pagesift-imagecheck.dead"
  "PAGESIFT__AMQP__ALL_ARTICLES_QUEUE=pagesift-imagecheck.articles.all"
  "PAGESIFT__AMQP__SAFETY_ARTICLES_QUEUE="
)
log="$stage/pagesift.log"
(cd "$workdir" && exec env -i PATH=/usr/bin:/bin "${run_env[@]}" "${as_user[@]}" "$bin" run) >"$log" 2>&1 &
pid=$!
probe() { (cd "$workdir" && env -i PATH=/usr/bin:/bin "${run_env[@]}" "${as_user[@]}" "$bin" probe "$@") 2>/dev/null; }

wait_for() { # wait_for WHAT SECONDS COMMAND...
  local what=$1 seconds=$2; shift 2
  for _ in $(seq 1 "$((seconds * 4))"); do
    "$@" && return 0
    kill -0 "$pid" 2>/dev/null || die "pagesift exited while waiting for $what"
    sleep 0.25
  done
  die "$what not reached within ${seconds}s"
}
health() { (cd "$workdir" && env -i PATH=/usr/bin:/bin "${run_env[@]}" "${as_user[@]}" "${healthcheck[@]}") >/dev/null 2>&1; }
wait_for "the image HEALTHCHECK (${healthcheck[*]##*/})" 30 health
say "HEALTHCHECK passes: /healthz answers"
wait_for "/readyz" 60 probe /readyz
say "/readyz answers 200 (connected and consuming)"
metrics=$(python3 -c 'import sys, urllib.request; print(urllib.request.urlopen(sys.argv[1], timeout=5).read().decode())' "http://127.0.0.1:$port/metrics") \
  || die "/metrics did not answer"
say "/metrics: $(grep -c '^pagesift_' <<<"$metrics" || true) pagesift_ sample lines"
# 3b. Real work when the binary can publish: the bundled pages, REPEAT times each, must all be
#     settled (pagesift_pages_total); prints the throughput and the peak RSS under load.
repeat=${PAGESIFT_IMAGE_CHECK_REPEAT:-10}
if "$bin" --help | grep -qE '^\s+publish\b'; then
  pages=(tests/fixtures/pages/*)
  want=$(( ${#pages[@]} * repeat ))
  start=$(date +%s.%N)
  (env -i PATH=/usr/bin:/bin "${run_env[@]}" PAGESIFT_CONFIG_DIR="$workdir/config" \
    "$bin" publish --repeat "$repeat" "${pages[@]}") >>"$log" 2>&1 || die "publish failed"
  settled() {
    python3 - "http://127.0.0.1:$port/metrics" "$want" <<'PY'
import sys, urllib.request
text = urllib.request.urlopen(sys.argv[1], timeout=5).read().decode()
done = sum(float(l.rsplit(" ", 1)[1]) for l in text.splitlines() if l.startswith("pagesift_pages_total"))
sys.exit(0 if done >= int(sys.argv[2]) else 1)
PY
  }
  wait_for "$want pages settled" 300 settled
  elapsed=$(python3 -c "import sys, time; print(f'{time.time() - float(sys.argv[1]):.1f}')" "$start")
  say "$want pages published and settled in ${elapsed}s ($(python3 -c "print(f'{$want / $elapsed:.0f}')") pages/s incl. publishing)"
else
  say "no \`publish\` command: skipped the pages run"
fi
owner=$(stat -c %u "/proc/$pid") || die "process vanished"
[ "$(id -u)" != 0 ] || [ "$owner" != 0 ] || die "the worker runs as root"
say "peak RSS: $(awk '/VmHWM/ {print $2, $3}' "/proc/$pid/status")"

# 4. Graceful stop.
grace=$(cd "$workdir" && env -i PATH=/usr/bin:/bin "${run_env[@]}" "$bin" check-config --skip-models 2>/dev/null \
  | awk '/^\[shutdown\]/ {s=1} s && /^grace_seconds/ {print $3; exit}')
kill -TERM "$pid"
for _ in $(seq 1 "$(( (${grace:-25} + 5) * 4 ))"); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
kill -0 "$pid" 2>/dev/null && die "still running $((${grace:-25} + 5))s after SIGTERM"
status=0; wait "$pid" || status=$?
pid=""
[ "$status" = 0 ] || die "exit status $status after SIGTERM"
probe /healthz && die "/healthz still answers after exit"
say "SIGTERM: clean exit (status 0) within shutdown.grace_seconds=${grace:-25}"
say "OK"
