#!/usr/bin/env bash
# The whole test suite: makes sure a RabbitMQ broker answers, then runs every test target.
#   tests/run.sh            # unit, golden, CLI, broker and chaos tests
#   tests/run.sh --quick    # skip the long chaos scenarios
# The broker is PAGESIFT_TEST_AMQP_URL, or amqp://guest:guest@127.0.0.1:5672/%2f. When none
# answers it is started: a local `rabbitmq-server` if installed, else `docker compose` with
# deploy/compose.yaml. If neither is possible the script stops with a message saying how.
set -euo pipefail
cd "$(dirname "$0")/.."

export PAGESIFT_TEST_AMQP_URL="${PAGESIFT_TEST_AMQP_URL:-amqp://guest:guest@127.0.0.1:5672/%2f}"
hostport=$(python3 - "$PAGESIFT_TEST_AMQP_URL" <<'PY' 2>/dev/null || echo "127.0.0.1 5672"
import sys, urllib.parse
u = urllib.parse.urlparse(sys.argv[1])
print(u.hostname or "127.0.0.1", u.port or (5671 if u.scheme == "amqps" else 5672))
PY
)
host=${hostport% *}; port=${hostport#* }

answers() { (exec 3<>"/dev/tcp/$host/$port") 2>/dev/null; }

if ! answers; then
  echo "tests/run.sh: no broker answers at $host:$port; starting one" >&2
  if command -v rabbitmq-server >/dev/null 2>&1; then
    rabbitmq-server -detached >/dev/null 2>&1 || true
    rabbitmqctl await_startup >/dev/null 2>&1 || true
  elif command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1; then
    docker compose -f deploy/compose.yaml up -d rabbitmq
  else
    echo "tests/run.sh: cannot start RabbitMQ: install it (apt-get install rabbitmq-server)," >&2
    echo "  run Docker (docker compose -f deploy/compose.yaml up -d rabbitmq), or set" >&2
    echo "  PAGESIFT_TEST_AMQP_URL to a broker you can use." >&2
    exit 1
  fi
  for _ in $(seq 1 60); do answers && break; sleep 1; done
  if ! answers; then
    echo "tests/run.sh: RabbitMQ did not come up at $host:$port within 60 s" >&2
    exit 1
  fi
fi

if [ "${1:-}" = "--quick" ]; then
  export PAGESIFT_CHAOS=skip
fi
cargo test --release --all-targets
