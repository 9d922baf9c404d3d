#!/usr/bin/env python3
"""The `podman run` arguments that make a container run as deploy/k8s/deployment.yaml's pod
would (deploy/podman/run.sh uses them, so the manifest and CI's run cannot drift apart):

  pod_args.py DEPLOYMENT CONFIGMAP_FILE SECRET_DIR
      prints one argument per line: the pod's user and group, a read-only root filesystem,
      the dropped capabilities, no-new-privileges, the memory limit, every plain `env` value
      of the container, the ConfigMap's file mounted where the pod mounts it (CONFIGMAP_FILE),
      and the Secret volume's files mounted where the pod mounts them (SECRET_DIR holds them).
      Environment values from Secrets (the broker URL) are the caller's to give.
Exits 1 when the manifest asks for something this translation does not know.
"""

import re
import sys

import yaml


def memory(quantity):
    m = re.fullmatch(r"(\d+)(Ki|Mi|Gi)?", str(quantity))
    if not m:
        sys.exit(f"pod_args.py: memory limit {quantity!r} is not <n>Ki|Mi|Gi")
    return m.group(1) + {"Ki": "k", "Mi": "m", "Gi": "g", None: "b"}[m.group(2)]


def main(deployment, configmap_file, secret_dir):
    doc = yaml.safe_load(open(deployment, encoding="utf-8"))
    pod = doc["spec"]["template"]["spec"]
    container = pod["containers"][0]
    pod_sc = pod.get("securityContext", {})
    sc = {**pod_sc, **container.get("securityContext", {})}
    args = []
    if "runAsUser" in sc:
        args.append(f"--user={sc['runAsUser']}:{sc.get('runAsGroup', sc['runAsUser'])}")
    if sc.get("readOnlyRootFilesystem"):
        args.append("--read-only")
    for cap in sc.get("capabilities", {}).get("drop", []):
        args.append(f"--cap-drop={cap}")
    for cap in sc.get("capabilities", {}).get("add", []):
        args.append(f"--cap-add={cap}")
    if sc.get("allowPrivilegeEscalation") is False:
        args.append("--security-opt=no-new-privileges")
    limit = container.get("resources", {}).get("limits", {}).get("memory")
    if limit:
        args.append(f"--memory={memory(limit)}")
    for env in container.get("env", []):
        if "value" in env:
            args.append(f"--env={env['name']}={env['value']}")
    volumes = {v["name"]: v for v in pod.get("volumes", [])}
    for mount in container.get("volumeMounts", []):
        volume = volumes[mount["name"]]
        ro = ":ro" if mount.get("readOnly") else ""
        if "configMap" in volume:
            if "subPath" not in mount:
                sys.exit("pod_args.py: a ConfigMap mounted without subPath")
            args.append(f"--volume={configmap_file}:{mount['mountPath']}{ro}")
        elif "secret" in volume:
            args.append(f"--volume={secret_dir}:{mount['mountPath']}{ro}")
        else:
            sys.exit(f"pod_args.py: volume {mount['name']!r} is neither a ConfigMap nor a Secret")
    print("\n".join(args))


if __name__ == "__main__":
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    main(*sys.argv[1:])
