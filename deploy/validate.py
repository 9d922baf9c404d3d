#!/usr/bin/env python3
"""Offline checks of deploy/ that no generic linter knows (run by deploy/check.sh).

- The KEDA objects (keda.yaml) match deploy/k8s/schemas/keda.json (kubernetes-validate has
  schemas for built-in kinds only).
- The manifests agree with the configuration and with each other: the ConfigMap holds exactly
  config/production.toml; terminationGracePeriodSeconds and compose's stop_grace_period leave a
  margin above the effective shutdown.grace_seconds; probes hit /healthz and /readyz on the port
  of http.listen; KEDA watches amqp.input_queue; kustomization.yaml lists files that exist.
- compose.yaml's feeder publishes exactly the files in tests/fixtures/pages.
- The Dockerfile bakes config/ in, sets PAGESIFT_ENV=production, runs as a non-root user and
  health-checks with `pagesift probe`.
Exits 1 listing every failed check.
"""

import json
import pathlib
import re
import sys
import tomllib

import jsonschema
import yaml

ROOT = pathlib.Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
K8S = DEPLOY / "k8s"
GRACE_MARGIN_SECONDS = 5
failures = []


def check(ok, message):
    if not ok:
        failures.append(message)


def docs(path):
    with open(path, encoding="utf-8") as f:
        return [d for d in yaml.safe_load_all(f) if d is not None]


def config():
    default = tomllib.loads((ROOT / "config/default.toml").read_text(encoding="utf-8"))
    production = tomllib.loads((ROOT / "config/production.toml").read_text(encoding="utf-8"))
    for section, values in production.items():
        default.setdefault(section, {}).update(values)
    return default


def env_of(container):
    return {e["name"]: e.get("value") for e in container.get("env", [])}


def main():
    settings = config()

    # KEDA objects against the schema.
    schema = json.loads((K8S / "schemas/keda.json").read_text(encoding="utf-8"))
    keda = docs(K8S / "keda.yaml")
    for doc in keda:
        kind = doc.get("kind", "")
        if kind not in schema["$defs"] or not kind[:1].isupper():
            check(False, f"keda.yaml: no schema for kind {kind!r}")
            continue
        try:
            jsonschema.validate(doc, {"$ref": f"#/$defs/{kind}", "$defs": schema["$defs"]})
        except jsonschema.ValidationError as e:
            check(False, f"keda.yaml {doc.get('kind')}: {e.message} at {list(e.absolute_path)}")
    kinds = sorted(d.get("kind", "") for d in keda)
    check(kinds == ["ScaledObject", "TriggerAuthentication"], f"keda.yaml kinds: {kinds}")

    # kustomization lists existing files; the HPA alternative is not applied with KEDA.
    kustomization = docs(K8S / "kustomization.yaml")[0]
    for resource in kustomization.get("resources", []):
        check((K8S / resource).is_file(), f"kustomization.yaml lists missing {resource}")
    check(
        not {"keda.yaml", "hpa.yaml"} <= set(kustomization.get("resources", [])),
        "kustomization.yaml applies both keda.yaml and hpa.yaml",
    )

    # ConfigMap == config/production.toml.
    configmap = docs(K8S / "configmap.yaml")[0]
    production = (ROOT / "config/production.toml").read_text(encoding="utf-8")
    check(
        configmap["data"].get("production.toml") == production,
        "k8s/configmap.yaml differs from config/production.toml",
    )

    # Deployment against the configuration.
    deployment = docs(K8S / "deployment.yaml")[0]
    pod = deployment["spec"]["template"]["spec"]
    container = pod["containers"][0]
    env = env_of(container)
    grace = int(env.get("PAGESIFT__SHUTDOWN__GRACE_SECONDS") or settings["shutdown"]["grace_seconds"])
    termination = pod.get("terminationGracePeriodSeconds", 30)
    check(
        termination >= grace + GRACE_MARGIN_SECONDS,
        f"terminationGracePeriodSeconds {termination} is not {GRACE_MARGIN_SECONDS}s above "
        f"shutdown.grace_seconds {grace}",
    )
    port = int(env.get("PAGESIFT__HTTP__LISTEN", settings["http"]["listen"]).rsplit(":", 1)[1])
    ports = {p["name"]: p["containerPort"] for p in container.get("ports", [])}
    check(ports.get("http") == port, f"container port http {ports.get('http')} != http.listen port {port}")
    probes = {k: container.get(k, {}).get("httpGet", {}).get("path") for k in
              ("livenessProbe", "readinessProbe", "startupProbe")}
    check(probes["livenessProbe"] == "/healthz", f"livenessProbe path {probes['livenessProbe']}")
    check(probes["readinessProbe"] == "/readyz", f"readinessProbe path {probes['readinessProbe']}")
    url_env = [e for e in container.get("env", []) if e["name"] == "PAGESIFT__AMQP__URL"]
    check(
        len(url_env) == 1 and "secretKeyRef" in url_env[0].get("valueFrom", {}),
        "PAGESIFT__AMQP__URL must come from a Secret",
    )
    resources = container.get("resources", {})
    check("memory" in resources.get("limits", {}), "no memory limit")
    check({"cpu", "memory"} <= set(resources.get("requests", {})), "cpu/memory requests missing")
    check(pod.get("securityContext", {}).get("runAsNonRoot") is True, "pod must run as non-root")

    # KEDA watches the input queue and scales this Deployment.
    scaled = next(d for d in keda if d.get("kind") == "ScaledObject")
    queue = settings["amqp"]["input_queue"]
    trigger = scaled["spec"]["triggers"][0]["metadata"]
    check(trigger.get("queueName") == queue, f"KEDA queueName {trigger.get('queueName')} != {queue}")
    check(
        scaled["spec"]["scaleTargetRef"]["name"] == deployment["metadata"]["name"],
        "KEDA scales another Deployment",
    )
    hpa = docs(K8S / "hpa.yaml")[0]
    check(hpa["spec"]["scaleTargetRef"]["name"] == deployment["metadata"]["name"], "HPA target")

    # compose: feeder publishes the bundled pages; workers get time to drain.
    compose = docs(DEPLOY / "compose.yaml")[0]
    services = compose["services"]
    fed = sorted(a.rsplit("/", 1)[1] for a in services["feeder"]["command"][1:])
    bundled = sorted(p.name for p in (ROOT / "tests/fixtures/pages").iterdir() if p.is_file())
    check(services["feeder"]["command"][0] == "publish", "feeder must run `publish`")
    check(fed == bundled, f"feeder publishes {fed}, tests/fixtures/pages has {bundled}")
    stop = services["worker"].get("stop_grace_period", "10s")
    stop_seconds = int(re.fullmatch(r"(\d+)s", stop).group(1)) if re.fullmatch(r"\d+s", stop) else 0
    check(stop_seconds >= grace + GRACE_MARGIN_SECONDS, f"compose stop_grace_period {stop}")
    check(services["worker"].get("deploy", {}).get("replicas") == 2, "compose: 2 worker replicas")

    # Dockerfile essentials.
    dockerfile = (DEPLOY / "Dockerfile").read_text(encoding="utf-8")
    check("COPY config/ /app/config/" in dockerfile, "Dockerfile must bake config/ in")
    check(re.search(r"PAGESIFT_ENV=production", dockerfile) is not None, "PAGESIFT_ENV=production")
    user = re.findall(r"^USER\s+(\S+)", dockerfile, re.M)
    check(bool(user) and user[-1].split(":")[0] not in ("0", "root"), f"USER {user}")
    check(re.search(r'HEALTHCHECK[^\n]*\\\n\s*CMD \["/usr/local/bin/pagesift", "probe", "/healthz"\]',
                    dockerfile) is not None, "HEALTHCHECK must run `pagesift probe /healthz`")
    check("deploy/build-release.sh" in dockerfile, "Dockerfile must build with deploy/build-release.sh")

    # Every configuration key is documented in README.md.
    operations = (DEPLOY.parent / "README.md").read_text(encoding="utf-8")
    for section, values in config().items():
        for key in values:
            check(f"| `{section}.{key}` |" in operations,
                  f"README.md does not document `{section}.{key}`")

    if failures:
        for f in failures:
            print(f"deploy/validate.py: FAIL {f}", file=sys.stderr)
        return 1
    print(f"deploy/validate.py: {len(keda)} KEDA objects valid; manifests agree with the configuration")
    return 0


if __name__ == "__main__":
    sys.exit(main())
