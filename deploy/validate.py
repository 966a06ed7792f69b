"""Offline checks of everything in deploy/ (run by deploy/validate.sh inside its pinned virtualenv).

Usage: python3 deploy/validate.py KUBECTL   (KUBECTL: the pinned kubectl, used for `kubectl kustomize`)

1. Every YAML and JSON file under deploy/ parses.
2. `kustomize build` of the base and of each overlay succeeds; every rendered object validates strictly against
   the Kubernetes JSON schemas (kubernetes-validate, offline) or, for operator kinds, against the reduced schemas
   vendored in deploy/k8s/schemas/. A kind with neither is an error.
3. Cross-references in each overlay: Deployment selectors match their pod labels; the ConfigMaps and Secrets a
   pod uses are rendered by the overlay or are one of the known operator-made or operator-provided Secrets;
   HPAs, ScaledObjects and PDBs point at rendered Deployments; Service target ports exist.
4. The Grafana dashboard uses only stockwire_* metrics that the Swift code defines; every STOCKWIRE_* variable the
   manifests and the compose file set is read by the Swift code or by the image's scripts (deploy/docker).
5. compose.yaml: services, secrets, configs and depends_on refer to things that exist, secret files exist.
Exit code 0 when all pass, 1 otherwise; every problem is printed as one line starting with "FAIL".
"""

from __future__ import annotations

import json
import pathlib
import re
import subprocess
import sys

import jsonschema
import kubernetes_validate
import yaml
from kubernetes_validate.utils import SchemaNotFoundError, ValidationError

DEPLOY = pathlib.Path(__file__).resolve().parent
REPO = DEPLOY.parent
KUBERNETES_VERSION = "1.30.0"
SCHEMAS = DEPLOY / "k8s" / "schemas"
# Secrets the operators create (RabbitmqCluster stockwire-rabbitmq, CNPG Cluster stockwire-pg).
OPERATOR_SECRETS = {"stockwire-rabbitmq-default-user", "stockwire-pg-app"}
# Secrets the production operator creates by hand (deploy/README.md, "Secrets"); dev generates them.
PROVIDED_SECRETS = {"stockwire-webhook-secrets", "stockwire-shop-tokens", "stockwire-movement-token"}
ENTRYPOINT_PROGRAMS = {"ingest", "calculator", "exporter", "shopify-sim", "healthcheck"}

failures: list[str] = []


def fail(message: str) -> None:
    failures.append(message)
    print(f"FAIL {message}")


def rel(path: pathlib.Path) -> str:
    return str(path.relative_to(REPO))


# MARK: - 1. parse


def parse_all() -> None:
    count = 0
    for path in sorted(DEPLOY.rglob("*")):
        if not path.is_file():
            continue
        try:
            if path.suffix in (".yaml", ".yml"):
                list(yaml.safe_load_all(path.read_text()))
            elif path.suffix == ".json":
                json.loads(path.read_text())
            else:
                continue
            count += 1
        except Exception as error:  # noqa: BLE001 - any parse error is reported the same way
            fail(f"{rel(path)} does not parse: {error}")
    print(f"ok   {count} YAML/JSON files parse")


# MARK: - 2. kustomize + schemas


def crd_schemas() -> dict[tuple[str, str], dict]:
    schemas = {}
    for path in SCHEMAS.glob("*.json"):
        schema = json.loads(path.read_text())
        props = schema["properties"]
        schemas[(props["apiVersion"]["const"], props["kind"]["const"])] = schema
    return schemas


def build(kubectl: str, directory: pathlib.Path) -> list[dict] | None:
    result = subprocess.run([kubectl, "kustomize", str(directory)], capture_output=True, text=True)
    if result.returncode != 0:
        fail(f"kustomize build {rel(directory)}: {result.stderr.strip()}")
        return None
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


def validate_objects(where: str, objects: list[dict], crds: dict) -> None:
    for obj in objects:
        name = f"{where}: {obj.get('kind')}/{obj.get('metadata', {}).get('name')}"
        schema = crds.get((obj.get("apiVersion"), obj.get("kind")))
        if schema is not None:
            validator = jsonschema.Draft202012Validator(schema)
            for error in sorted(validator.iter_errors(obj), key=lambda e: list(e.path)):
                path = ".".join(str(p) for p in error.path)
                fail(f"{name} ({obj['apiVersion']}, vendored schema): {path}: {error.message}")
            continue
        try:
            kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)
        except ValidationError as error:
            path = ".".join(str(p) for p in error.path)
            fail(f"{name} (Kubernetes {KUBERNETES_VERSION} schema): {path}: {error.message}")
        except SchemaNotFoundError:
            fail(f"{name}: no schema for {obj.get('apiVersion')} {obj.get('kind')}: vendor one into {rel(SCHEMAS)}")


# MARK: - 3. cross-references


def pod_references(spec: dict) -> tuple[set[str], set[str]]:
    """ConfigMaps and Secrets a pod spec uses."""
    config_maps, secrets = set(), set()
    for container in spec.get("containers", []) + spec.get("initContainers", []):
        for source in container.get("envFrom", []):
            if "configMapRef" in source:
                config_maps.add(source["configMapRef"]["name"])
            if "secretRef" in source:
                secrets.add(source["secretRef"]["name"])
        for env in container.get("env", []):
            ref = env.get("valueFrom", {})
            if "configMapKeyRef" in ref:
                config_maps.add(ref["configMapKeyRef"]["name"])
            if "secretKeyRef" in ref:
                secrets.add(ref["secretKeyRef"]["name"])
    for volume in spec.get("volumes", []):
        if "configMap" in volume:
            config_maps.add(volume["configMap"]["name"])
        if "secret" in volume:
            secrets.add(volume["secret"]["secretName"])
    return config_maps, secrets


def check_references(where: str, objects: list[dict], overlay: str) -> None:
    by_kind: dict[str, dict[str, dict]] = {}
    for obj in objects:
        by_kind.setdefault(obj["kind"], {})[obj["metadata"]["name"]] = obj
    deployments = by_kind.get("Deployment", {})
    allowed_secrets = set(by_kind.get("Secret", {})) | OPERATOR_SECRETS
    if overlay == "production":
        allowed_secrets |= PROVIDED_SECRETS
    for name, deployment in deployments.items():
        template = deployment["spec"]["template"]
        labels = template["metadata"].get("labels", {})
        for key, value in deployment["spec"]["selector"].get("matchLabels", {}).items():
            if labels.get(key) != value:
                fail(f"{where}: Deployment/{name}: selector {key}={value} does not match the pod labels")
        config_maps, secrets = pod_references(template["spec"])
        for cm in sorted(config_maps - set(by_kind.get("ConfigMap", {}))):
            fail(f"{where}: Deployment/{name} uses ConfigMap {cm}, which the overlay does not render")
        for secret in sorted(secrets - allowed_secrets):
            fail(f"{where}: Deployment/{name} uses Secret {secret}, which is neither rendered nor operator-made")
    for kind, ref in (("HorizontalPodAutoscaler", "scaleTargetRef"), ("ScaledObject", "scaleTargetRef")):
        for name, obj in by_kind.get(kind, {}).items():
            target = obj["spec"][ref]["name"]
            if target not in deployments:
                fail(f"{where}: {kind}/{name} scales Deployment {target}, which is not rendered")
    for name, pdb in by_kind.get("PodDisruptionBudget", {}).items():
        wanted = pdb["spec"]["selector"].get("matchLabels", {})
        if not any(
            all(d["spec"]["template"]["metadata"]["labels"].get(k) == v for k, v in wanted.items())
            for d in deployments.values()
        ):
            fail(f"{where}: PodDisruptionBudget/{name} selects no Deployment's pods")
    for name, service in by_kind.get("Service", {}).items():
        selector = service["spec"].get("selector", {})
        pods = [
            d["spec"]["template"]
            for d in deployments.values()
            if selector and all(d["spec"]["template"]["metadata"]["labels"].get(k) == v for k, v in selector.items())
        ]
        if not pods:
            fail(f"{where}: Service/{name} selects no Deployment's pods")
            continue
        port_names = {p.get("name") for t in pods for c in t["spec"]["containers"] for p in c.get("ports", [])}
        for port in service["spec"]["ports"]:
            target = port.get("targetPort")
            if isinstance(target, str) and target not in port_names:
                fail(f"{where}: Service/{name} targets port '{target}', which its pods do not declare")


# MARK: - 4. dashboard metrics


def check_dashboard() -> None:
    sources = "\n".join(p.read_text() for p in (REPO / "Services").rglob("*.swift"))
    defined = set(re.findall(r'label:\s*"(stockwire_[a-z0-9_]+)"', sources))
    for path in sorted(DEPLOY.rglob("*dashboard*.json")):
        used = set()
        for name in re.findall(r"stockwire_[a-z0-9_]+", path.read_text()):
            used.add(re.sub(r"_(bucket|sum|count)$", "", name) if name not in defined else name)
        unknown = sorted(used - defined)
        for name in unknown:
            fail(f"{rel(path)} uses metric {name}, which no Services/*.swift defines")
        print(f"ok   {rel(path)}: {len(used)} stockwire metrics, all defined in Services/")


def known_variables() -> set[str]:
    text = "\n".join(p.read_text() for d in ("Services", "Shared") for p in (REPO / d).rglob("*.swift"))
    text += "\n".join(p.read_text() for p in (DEPLOY / "docker").glob("*.sh"))
    return set(re.findall(r"STOCKWIRE_[A-Z0-9_]+", text))


def check_variables(where: str, text: str, known: set[str]) -> None:
    text = re.sub(r"\$\{[^}]*\}", "", text)  # compose interpolation (${STOCKWIRE_IMAGE:-…}) is the host's, not the image's
    for name in sorted(set(re.findall(r"\b(STOCKWIRE_[A-Z0-9_]+)\b", text)) - known):
        fail(f"{where} sets {name}, which neither the services nor deploy/docker read")


# MARK: - 5. compose


def check_compose() -> None:
    for path in sorted((DEPLOY / "compose").glob("compose*.y*ml")):
        doc = yaml.safe_load(path.read_text())
        services = doc.get("services") or {}
        if not services:
            fail(f"{rel(path)}: no services")
        secrets, configs = doc.get("secrets") or {}, doc.get("configs") or {}
        for kind, table in (("secret", secrets), ("config", configs)):
            for name, spec in table.items():
                if "file" in spec and not (path.parent / spec["file"]).is_file():
                    fail(f"{rel(path)}: {kind} {name}: file {spec['file']} does not exist")
        for name, service in services.items():
            if "image" not in service and "build" not in service:
                fail(f"{rel(path)}: service {name} has neither image nor build")
            for ref in service.get("secrets", []):
                ref = ref if isinstance(ref, str) else ref["source"]
                if ref not in secrets:
                    fail(f"{rel(path)}: service {name} uses undefined secret {ref}")
            for ref in service.get("configs", []):
                ref = ref if isinstance(ref, str) else ref["source"]
                if ref not in configs:
                    fail(f"{rel(path)}: service {name} uses undefined config {ref}")
            depends = service.get("depends_on", {})
            for dep in depends if isinstance(depends, (list, dict)) else []:
                if dep not in services:
                    fail(f"{rel(path)}: service {name} depends on unknown service {dep}")
            command = service.get("command")
            if "build" in service and "entrypoint" not in service and command:
                if command[0] not in ENTRYPOINT_PROGRAMS:
                    fail(f"{rel(path)}: service {name}: '{command[0]}' is not a program of the image")
        check_variables(rel(path), yaml.safe_dump(services), known_variables())
        print(f"ok   {rel(path)}: {len(services)} services, references resolve")


def main() -> int:
    kubectl = sys.argv[1]
    parse_all()
    crds = crd_schemas()
    overlays = sorted(p for p in (DEPLOY / "k8s" / "overlays").iterdir() if (p / "kustomization.yaml").exists())
    for directory in [DEPLOY / "k8s" / "base", *overlays]:
        objects = build(kubectl, directory)
        if objects is None:
            continue
        before = len(failures)
        validate_objects(rel(directory), objects, crds)
        if directory.parent.name == "overlays":
            check_references(rel(directory), objects, directory.name)
            check_variables(rel(directory), yaml.safe_dump_all(objects), known_variables())
        if len(failures) == before:
            kinds = sorted({o["kind"] for o in objects})
            print(f"ok   kustomize build {rel(directory)}: {len(objects)} objects valid ({', '.join(kinds)})")
    check_dashboard()
    check_compose()
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
