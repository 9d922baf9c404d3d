#!/usr/bin/env python3
"""Offline checks of deploy/ that no generic linter knows (run by deploy/check.sh).

- The KEDA objects (keda.yaml) match deploy/k8s/schemas/keda.json (kubernetes-validate has
  schemas for built-in kinds only).
- The manifests agree with the configuration and with each other: the ConfigMap holds exactly
  config/production.toml; terminationGracePeriodSeconds and compose's stop_grace_period leave a
  margin above the effective shutdown.grace_seconds; probes hit /healthz and /readyz on the port
  of http.listen; KEDA watches amqp.input_queue; kustomization.yaml lists files that exist.
- compose.yaml's feeder publishes exactly the files in tests/fixtures/pages; its broker URL
  stays plain amqp:// and its RabbitMQ image defaults to the public one.
- The Dockerfile takes its base images from BUILDER_IMAGE / RUNTIME_IMAGE (defaults: the
  public images), bakes config/ in, sets PAGESIFT_ENV=production, runs as a non-root user and
  health-checks with `pagesift probe`.
- TLS by default in Kubernetes: the example URL is amqps://, amqp.tls_ca_file points into a
  mounted Secret that secret.example.yaml defines, KEDA gets the same CA.
- The NetworkPolicy selects the pods, admits only the metrics port and lets out only the
  broker's port (in the URL's namespace) and DNS; the ServiceMonitor (against
  schemas/servicemonitor.json) selects service.yaml by its labels and scrapes its named port.
- The Grafana dashboard is well-formed (unique panel ids, a data source variable on every
  query) and shows what operators need; README's alert table lists exactly the alerts of
  deploy/prometheus/alerts.yaml.
`--dashboard-rules FILE` also writes the dashboard's queries as a rule file for
`promtool check rules` (deploy/check.sh), which then checks their PromQL.
Exits 1 listing every failed check.
"""

import json
import pathlib
import re
import sys
import tomllib
import urllib.parse

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
    check("COPY config/default.toml config/production.toml /app/config/" in dockerfile,
          "Dockerfile must bake the settings files into /app/config (the models are embedded)")
    check(re.search(r"PAGESIFT_ENV=production", dockerfile) is not None, "PAGESIFT_ENV=production")
    user = re.findall(r"^USER\s+(\S+)", dockerfile, re.M)
    check(bool(user) and user[-1].split(":")[0] not in ("0", "root"), f"USER {user}")
    check(re.search(r'HEALTHCHECK[^\n]*\\\n\s*CMD \["/usr/local/bin/pagesift", "probe", "/healthz"\]',
                    dockerfile) is not None, "HEALTHCHECK must run `pagesift probe /healthz`")
    check("deploy/build-release.sh" in dockerfile, "Dockerfile must build with deploy/build-release.sh")

    check_tls(pod, container)
    check_network_policy(deployment, container, port)
    check_service_monitor()
    check_compose_and_dockerfile(services, dockerfile)
    check_dashboard()
    check_alert_table()

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


def secrets():
    return {d["metadata"]["name"]: d for d in docs(K8S / "secret.example.yaml")}


def broker_url():
    return urllib.parse.urlparse(secrets()["pagesift-amqp"]["stringData"]["url"])


def check_tls(pod, container):
    url = broker_url()
    check(url.scheme == "amqps", f"secret.example.yaml: the broker URL is {url.scheme}://, not amqps://")
    env = env_of(container)
    ca_file = env.get("PAGESIFT__AMQP__TLS_CA_FILE")
    check(ca_file is not None, "deployment.yaml: no PAGESIFT__AMQP__TLS_CA_FILE for amqps://")
    if ca_file is None:
        return
    volumes = {v["name"]: v for v in pod.get("volumes", [])}
    mounts = [m for m in container.get("volumeMounts", [])
              if ca_file.startswith(m["mountPath"].rstrip("/") + "/")]
    check(len(mounts) == 1, f"deployment.yaml: {ca_file} is on no (or several) volume mounts")
    if len(mounts) != 1:
        return
    volume = volumes.get(mounts[0]["name"], {})
    secret = volume.get("secret", {}).get("secretName")
    check(secret is not None, f"deployment.yaml: {ca_file} is not mounted from a Secret")
    key = ca_file[len(mounts[0]["mountPath"].rstrip("/")) + 1:]
    items = {i["path"]: i["key"] for i in volume.get("secret", {}).get("items", [])}
    defined = secrets().get(secret, {}).get("stringData", {})
    check(items.get(key, key) in defined,
          f"deployment.yaml mounts key {items.get(key, key)!r} of Secret {secret!r}, "
          f"which secret.example.yaml does not define")
    auth = next(d for d in docs(K8S / "keda.yaml") if d["kind"] == "TriggerAuthentication")
    params = {r["parameter"]: (r["name"], r["key"]) for r in auth["spec"]["secretTargetRef"]}
    check(params.get("ca") == (secret, items.get(key, key)), "keda.yaml: KEDA does not get the broker's CA")
    check(params.get("tls", ("", ""))[0] in secrets(), "keda.yaml: KEDA's tls parameter is not in a Secret")


def check_network_policy(deployment, container, port):
    policy = docs(K8S / "networkpolicy.yaml")[0]
    spec = policy["spec"]
    pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
    selector = spec["podSelector"].get("matchLabels", {})
    check(selector and all(pod_labels.get(k) == v for k, v in selector.items()),
          "networkpolicy.yaml does not select the pagesift pods")
    check(sorted(spec.get("policyTypes", [])) == ["Egress", "Ingress"],
          "networkpolicy.yaml must restrict both ingress and egress")
    ingress_ports = [(p.get("port"), p.get("protocol", "TCP")) for r in spec.get("ingress", [])
                     for p in r.get("ports", [])]
    check(all(r.get("ports") for r in spec.get("ingress", [])), "networkpolicy.yaml: an ingress rule admits every port")
    check(ingress_ports == [(port, "TCP")], f"networkpolicy.yaml admits {ingress_ports}, not only TCP {port}")
    url = broker_url()
    broker_port = url.port or (5671 if url.scheme == "amqps" else 5672)
    host_parts = (url.hostname or "").split(".")
    broker_namespace = host_parts[1] if len(host_parts) > 2 and host_parts[2] == "svc" else None
    egress = spec.get("egress", [])
    check(all(r.get("ports") and r.get("to") for r in egress), "networkpolicy.yaml: an egress rule is open to everything")
    out_ports = sorted({(p["port"], p.get("protocol", "TCP")) for r in egress for p in r["ports"]})
    check(out_ports == sorted({(broker_port, "TCP"), (53, "UDP"), (53, "TCP")}),
          f"networkpolicy.yaml lets out {out_ports}: only the broker ({broker_port}/TCP) and DNS")
    to_broker = [r for r in egress if any(p["port"] == broker_port for p in r["ports"])]
    namespaces = {t.get("namespaceSelector", {}).get("matchLabels", {}).get("kubernetes.io/metadata.name")
                  for r in to_broker for t in r["to"]}
    check(namespaces == {broker_namespace},
          f"networkpolicy.yaml lets the broker port out to namespaces {namespaces}, the URL's is {broker_namespace}")
    ports = {p["name"]: p["containerPort"] for p in container.get("ports", [])}
    check(ports.get("http") == port, "the policy's port is not the container's http port")


def check_service_monitor():
    schema = json.loads((K8S / "schemas/servicemonitor.json").read_text(encoding="utf-8"))
    monitors = docs(K8S / "servicemonitor.yaml")
    check(len(monitors) == 1, "servicemonitor.yaml holds one ServiceMonitor")
    monitor = monitors[0]
    try:
        jsonschema.validate(monitor, schema)
    except jsonschema.ValidationError as e:
        check(False, f"servicemonitor.yaml: {e.message} at {list(e.absolute_path)}")
        return
    service = docs(K8S / "service.yaml")[0]
    labels = service["metadata"].get("labels", {})
    wanted = monitor["spec"]["selector"].get("matchLabels", {})
    check(wanted and all(labels.get(k) == v for k, v in wanted.items()),
          "servicemonitor.yaml does not select service.yaml (its metadata.labels)")
    names = {p.get("name") for p in service["spec"]["ports"]}
    for endpoint in monitor["spec"]["endpoints"]:
        check(endpoint.get("port") in names, f"servicemonitor.yaml scrapes port {endpoint.get('port')!r}, not a Service port")
        check(endpoint.get("path", "/metrics") == "/metrics", "servicemonitor.yaml must scrape /metrics")
    alerts = (DEPLOY / "prometheus/alerts.yaml").read_text(encoding="utf-8")
    # prometheus-operator's job label: the Service's name, or the value of its jobLabel label.
    job_label = monitor["spec"].get("jobLabel")
    job = labels.get(job_label) if job_label else service["metadata"]["name"]
    for used in re.findall(r'job="([^"]+)"', alerts):
        check(used == job, f"alerts.yaml selects job={used!r}; the ServiceMonitor's job is {job!r}")
    annotations = docs(K8S / "deployment.yaml")[0]["spec"]["template"]["metadata"].get("annotations", {})
    check(annotations.get("prometheus.io/path") == "/metrics", "the pods' prometheus.io annotations stay beside it")


def check_compose_and_dockerfile(services, dockerfile):
    env = services["worker"].get("environment", {})
    check(str(env.get("PAGESIFT__AMQP__URL", "")).startswith("amqp://"),
          "compose.yaml: the local stack's broker URL stays plain amqp://")
    image = services["rabbitmq"]["image"]
    m = re.fullmatch(r"\$\{PAGESIFT_RABBITMQ_IMAGE:-(rabbitmq:[^}]+)\}", image)
    check(m is not None, f"compose.yaml: the broker image {image!r} must default to the public rabbitmq image")
    lib = (DEPLOY / "podman/lib.sh").read_text(encoding="utf-8")
    ci_image = re.search(r"^PAGESIFT_IMAGE=localhost/(\S+)$", lib, re.M)
    check(ci_image is not None and services["worker"]["image"] == ci_image.group(1)
          and services["feeder"]["image"] == ci_image.group(1),
          "compose.yaml's worker and feeder images differ from the image CI builds (podman/lib.sh)")
    args = dict(re.findall(r"^ARG (BUILDER_IMAGE|RUNTIME_IMAGE)=(\S+)$", dockerfile, re.M))
    check(args.get("BUILDER_IMAGE", "").startswith("docker.io/library/rust:"),
          f"Dockerfile: BUILDER_IMAGE must default to the public rust image, not {args.get('BUILDER_IMAGE')}")
    check(args.get("RUNTIME_IMAGE", "").startswith("gcr.io/distroless/"),
          f"Dockerfile: RUNTIME_IMAGE must default to distroless, not {args.get('RUNTIME_IMAGE')}")
    froms = re.findall(r"^FROM (\S+)", dockerfile, re.M)
    check(froms == ["${BUILDER_IMAGE}", "${RUNTIME_IMAGE}"], f"Dockerfile FROM lines {froms}")


def check_dashboard():
    dash = json.loads((DEPLOY / "grafana/pagesift.json").read_text(encoding="utf-8"))
    for key in ("uid", "title", "schemaVersion", "panels", "templating"):
        check(key in dash, f"grafana/pagesift.json has no {key!r}")
    panels = dash.get("panels", [])
    ids = [p.get("id") for p in panels]
    check(len(ids) == len(set(ids)) and None not in ids, "grafana/pagesift.json: panel ids must be unique")
    variables = {v["name"]: v for v in dash.get("templating", {}).get("list", [])}
    check(variables.get("datasource", {}).get("type") == "datasource"
          and variables["datasource"].get("query") == "prometheus",
          "grafana/pagesift.json: needs a Prometheus data source variable `datasource`")
    exprs = []
    for p in panels:
        if p.get("type") == "row":
            continue
        for key in ("x", "y", "w", "h"):
            check(key in p.get("gridPos", {}), f"panel {p.get('title')!r}: gridPos has no {key}")
        targets = p.get("targets", [])
        check(bool(targets), f"panel {p.get('title')!r} has no queries")
        refs = [t.get("refId") for t in targets]
        check(len(refs) == len(set(refs)), f"panel {p.get('title')!r}: refIds repeat")
        for t in targets:
            check(t.get("datasource", {}).get("uid") == "${datasource}",
                  f"panel {p.get('title')!r}: a query does not use the datasource variable")
            exprs.append((p.get("title"), t.get("expr", "")))
    every = " ".join(e for _, e in exprs)
    for what, pattern in [
        ("throughput", r"pagesift_pages_total"),
        ("articles by topic", r"by \(primary\)[^\n]*pagesift_articles_total"),
        ("dead letters by reason", r"by \(reason\)[^\n]*pagesift_dead_letters_total"),
        ("page latency quantiles", r"histogram_quantile\(0\.99, [^\n]*pagesift_page_duration_seconds_bucket"),
        ("confirm latency quantiles", r"histogram_quantile\(0\.99, [^\n]*pagesift_publish_confirm_seconds_bucket"),
        ("in flight", r"pagesift_pages_in_flight"),
        ("reconnects", r"pagesift_reconnects_total"),
        ("reloads", r"pagesift_reloads_total"),
    ]:
        check(any(re.search(pattern, e) for _, e in exprs), f"grafana/pagesift.json shows no {what}")
    check("$job" in every, "grafana/pagesift.json: queries ignore the job variable")
    return exprs


def dashboard_rules(path):
    """The dashboard's queries as recording rules, with Grafana's variables made concrete."""
    rules = []
    for i, (title, expr) in enumerate(check_dashboard()):
        concrete = expr.replace("$__rate_interval", "5m").replace("$job", ".+")
        rules.append({"record": f"dashboard:query_{i}", "expr": concrete, "labels": {"panel": title}})
    pathlib.Path(path).write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]},
                                                 allow_unicode=True), encoding="utf-8")


def check_alert_table():
    alerts = [r["alert"] for g in docs(DEPLOY / "prometheus/alerts.yaml")[0]["groups"] for r in g["rules"]]
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    listed = re.findall(r"^\| `(Pagesift\w+)` \|", readme, re.M)
    check(sorted(listed) == sorted(alerts),
          f"README's alert table lists {sorted(listed)}, deploy/prometheus/alerts.yaml has {sorted(alerts)}")


if __name__ == "__main__":
    if sys.argv[1:2] == ["--dashboard-rules"]:
        dashboard_rules(sys.argv[2])
        if failures:
            print("\n".join(failures), file=sys.stderr)
            sys.exit(1)
        sys.exit(0)
    sys.exit(main())
