#!/usr/bin/env python3
"""The broker side of CI's container checks (deploy/podman/run.sh and compose.sh), with pika.

  amqp.py drain URL QUEUE --expect N [--timeout S]
      consumes QUEUE (acking) until N messages arrived and none more for 2 s, or the timeout;
      prints one JSON object: {"count": n, "ids": [message_id, ...]}
  amqp.py compare EXPECTED_IDS_FILE DRAINED_JSON
      every expected event id arrived exactly once and nothing else: exits 1 listing the
      missing, unexpected and duplicated ids
  amqp.py delete URL [--queue Q]... [--exchange E]...
      deletes the named queues and exchanges (missing ones are fine)
"""

import argparse
import collections
import json
import sys
import time

import pika


def connect(url):
    params = pika.URLParameters(url)
    params.connection_attempts = 3
    params.retry_delay = 1
    return pika.BlockingConnection(params)


def drain(args):
    ids = []
    deadline = time.monotonic() + args.timeout
    last = time.monotonic()
    with connect(args.url) as conn:
        channel = conn.channel()
        channel.basic_qos(prefetch_count=500)
        for method, props, _body in channel.consume(args.queue, inactivity_timeout=0.5):
            now = time.monotonic()
            if method is not None:
                ids.append(props.message_id)
                channel.basic_ack(method.delivery_tag)
                last = now
            if now > deadline or (len(ids) >= args.expect and now - last > 2):
                break
        channel.cancel()
    json.dump({"count": len(ids), "ids": ids}, sys.stdout)
    print()


def compare(args):
    with open(args.expected, encoding="utf-8") as f:
        expected = [line.strip() for line in f if line.strip()]
    with open(args.drained, encoding="utf-8") as f:
        got = json.load(f)["ids"]
    counts = collections.Counter(got)
    missing = sorted(set(expected) - set(got))
    unexpected = sorted(set(got) - set(expected))
    duplicated = sorted(i for i, n in counts.items() if n > 1)
    if len(set(expected)) != len(expected):
        print("compare: the expected ids are not unique", file=sys.stderr)
        return 1
    for name, ids in (("missing", missing), ("unexpected", unexpected), ("duplicated", duplicated)):
        if ids:
            print(f"compare: {len(ids)} {name} event ids: {' '.join(ids[:20])}", file=sys.stderr)
    if missing or unexpected:
        return 1
    print(f"compare: all {len(expected)} expected event ids arrived"
          + (f" ({len(duplicated)} redelivered twice)" if duplicated else ", each once"))
    return 0


def delete(args):
    with connect(args.url) as conn:
        for queue in args.queue:
            conn.channel().queue_delete(queue)
        for exchange in args.exchange:
            conn.channel().exchange_delete(exchange)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("drain")
    p.add_argument("url")
    p.add_argument("queue")
    p.add_argument("--expect", type=int, required=True)
    p.add_argument("--timeout", type=float, default=120)
    p.set_defaults(run=drain)
    p = sub.add_parser("compare")
    p.add_argument("expected")
    p.add_argument("drained")
    p.set_defaults(run=compare)
    p = sub.add_parser("delete")
    p.add_argument("url")
    p.add_argument("--queue", action="append", default=[])
    p.add_argument("--exchange", action="append", default=[])
    p.set_defaults(run=delete)
    args = parser.parse_args()
    return args.run(args) or 0


if __name__ == "__main__":
    sys.exit(main())
