"""Checks on the rendered Kubernetes manifests (k8s/): what schema validation cannot see.

tests/k8s/check.sh proves every object is valid Kubernetes; these tests prove the objects say
what bordermesh needs: gRPC health probes on the right port and service name, resources, a
locked-down pod, a grace period that covers preStop + drain, config that the program accepts,
and what each overlay promises (dev: one replica on SQLite; prod: PostgreSQL from Secrets,
two or more replicas, headless agency Services).

Rendering uses kubectl's built-in kustomize: KUBECTL, else .ci/node_modules/.bin/kubectl
(installed by tests/k8s/install.sh), else kubectl on PATH.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tomllib
from functools import cache
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "k8s"
OVERLAYS = sorted(p.name for p in (K8S / "overlays").iterdir() if (p / "kustomization.yaml").exists())

# service -> (port, gRPC health service name, proto area). Ports and names: ARCHITECTURE.md
# and services/kit/src/config.rs; the names are cross-checked against proto/ below.
SERVICES = {
    "gateway": (50051, "bordermesh.crossing.v1.CrossingService", "crossing"),
    "identity": (50052, "bordermesh.identity.v1.IdentityService", "identity"),
    "customs": (50053, "bordermesh.customs.v1.CustomsService", "customs"),
    "sanitary": (50054, "bordermesh.sanitary.v1.SanitaryService", "sanitary"),
}
AGENCIES = ("identity", "customs", "sanitary")
UID = 65532

# Keys the program accepts (it rejects unknown ones: serde deny_unknown_fields in
# services/kit/src/config.rs).
TOP_KEYS = {"data_dir", "drain_seconds", "log", *SERVICES}
SECTION_KEYS = {"listen", "database_url"}
EXTRA_SECTION_KEYS = {
    "gateway": {"identity_url", "customs_url", "sanitary_url", "default_deadline_ms"},
    "customs": {"nomenclature_path", "tariff_path"},
}


def kubectl() -> str:
    explicit = os.environ.get("KUBECTL")
    if explicit:
        return explicit
    local = ROOT / ".ci" / "node_modules" / ".bin" / "kubectl"
    if local.exists():
        return str(local)
    found = shutil.which("kubectl")
    if found:
        return found
    pytest.fail("no kubectl to render with: run `bash tests/k8s/install.sh` first")


@cache
def render(target: str) -> tuple[dict, ...]:
    result = subprocess.run(
        [kubectl(), "kustomize", str(K8S / target)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, f"kustomize failed for {target}:\n{result.stderr}"
    docs = tuple(d for d in yaml.safe_load_all(result.stdout) if d)
    assert docs, f"{target} rendered nothing"
    return docs


def of_kind(docs, kind: str) -> dict[str, dict]:
    return {d["metadata"]["name"]: d for d in docs if d["kind"] == kind}


def selects(selector: dict, labels: dict) -> bool:
    return all(labels.get(k) == v for k, v in selector.items())


def config_of(docs) -> tuple[dict, dict]:
    (cm,) = [d for d in docs if d["kind"] == "ConfigMap" and d["metadata"]["name"].startswith("bordermesh-config")]
    return cm, tomllib.loads(cm["data"]["config.toml"])


@pytest.fixture(params=OVERLAYS)
def overlay(request):
    return request.param


@pytest.fixture
def docs(overlay):
    return render(f"overlays/{overlay}")


def test_overlays_exist():
    assert {"dev", "prod"} <= set(OVERLAYS)


def test_base_renders_the_four_services():
    docs = render("base")
    for kind in ("Deployment", "Service", "ServiceAccount", "PodDisruptionBudget", "HorizontalPodAutoscaler"):
        assert set(of_kind(docs, kind)) == set(SERVICES), kind


def test_health_service_names_match_proto():
    for svc, (_, health, area) in SERVICES.items():
        package, _, service = health.rpartition(".")
        protos = list((ROOT / "proto" / "bordermesh" / area / "v1").glob("*.proto"))
        assert protos, f"no proto for {area}"
        text = "\n".join(p.read_text() for p in protos)
        assert re.search(rf"^package {re.escape(package)};", text, re.M), svc
        assert re.search(rf"^service {service}\b", text, re.M), svc


def test_every_deployment_is_hardened_and_probed(docs):
    deployments = of_kind(docs, "Deployment")
    assert set(deployments) == set(SERVICES)
    for name, dep in deployments.items():
        port, health, _ = SERVICES[name]
        pod = dep["spec"]["template"]["spec"]
        psc = pod.get("securityContext", {})
        assert psc.get("runAsNonRoot") is True, name
        assert psc.get("runAsUser") == UID, name
        assert psc.get("seccompProfile", {}).get("type") == "RuntimeDefault", name
        assert pod.get("automountServiceAccountToken") is False, name
        assert pod.get("serviceAccountName") == name, name
        assert not pod.get("hostNetwork") and not pod.get("hostPID") and not pod.get("hostIPC"), name
        assert len(pod["containers"]) == 1, name
        for c in pod["containers"] + pod.get("initContainers", []):
            where = f"{name}/{c['name']}"
            assert c.get("args") == ["serve", name], where
            grpc_ports = [p for p in c.get("ports", []) if p.get("name") == "grpc"]
            assert [p["containerPort"] for p in grpc_ports] == [port], where
            for probe in ("readinessProbe", "livenessProbe", "startupProbe"):
                assert c.get(probe, {}).get("grpc") == {"port": port, "service": health}, f"{where} {probe}"
            res = c.get("resources", {})
            for part in ("requests", "limits"):
                assert {"cpu", "memory"} <= set(res.get(part, {})), f"{where} resources.{part}"
            csc = c.get("securityContext", {})
            assert psc.get("runAsNonRoot") is True or csc.get("runAsNonRoot") is True, where
            assert csc.get("allowPrivilegeEscalation") is False, where
            assert csc.get("readOnlyRootFilesystem") is True, where
            assert csc.get("capabilities", {}).get("drop") == ["ALL"], where
            assert not csc.get("capabilities", {}).get("add"), where
            assert not csc.get("privileged"), where
            env = {e["name"]: e for e in c.get("env", [])}
            assert env[f"BORDERMESH_{name.upper()}__LISTEN"]["value"] == f"0.0.0.0:{port}", where


def test_grace_period_covers_prestop_and_drain(docs):
    _, config = config_of(docs)
    drain = config.get("drain_seconds", 10)
    for name, dep in of_kind(docs, "Deployment").items():
        pod = dep["spec"]["template"]["spec"]
        (c,) = pod["containers"]
        # The sleep handler needs no shell in the image (distroless has none).
        sleep = c["lifecycle"]["preStop"]["sleep"]["seconds"]
        assert sleep >= 1, name
        grace = pod["terminationGracePeriodSeconds"]
        assert grace >= sleep + drain + 5, f"{name}: grace {grace} < preStop {sleep} + drain {drain} + margin"


def test_config_is_mounted_accepted_and_consistent(docs):
    cm, config = config_of(docs)
    assert set(config) <= TOP_KEYS, set(config) - TOP_KEYS
    for section in SERVICES:
        extra = set(config.get(section, {})) - SECTION_KEYS - EXTRA_SECTION_KEYS.get(section, set())
        assert not extra, f"[{section}] unknown keys {extra}"
    services = of_kind(docs, "Service")
    # The gateway's downstream URLs name Services that exist, on the right port.
    for agency in AGENCIES:
        url = config["gateway"][f"{agency}_url"]
        m = re.fullmatch(r"http://([a-z0-9.-]+):(\d+)", url)
        assert m, url
        host, port = m.group(1).split(".")[0], int(m.group(2))
        assert host in services, url
        assert [p["port"] for p in services[host]["spec"]["ports"]] == [port], url
    # Secrets stay out of the ConfigMap.
    for section in SERVICES:
        assert "database_url" not in config.get(section, {}), section
    for name, dep in of_kind(docs, "Deployment").items():
        pod = dep["spec"]["template"]["spec"]
        (c,) = pod["containers"]
        volumes = {v["name"]: v for v in pod["volumes"]}
        mounts = {m["mountPath"]: m for m in c["volumeMounts"]}
        env = {e["name"]: e for e in c.get("env", [])}
        config_path = Path(env["BORDERMESH_CONFIG"]["value"])
        mount = mounts[str(config_path.parent)]
        assert mount.get("readOnly") is True, name
        assert volumes[mount["name"]]["configMap"]["name"] == cm["metadata"]["name"], name
        assert config_path.name == "config.toml", name
        # Writable places: data_dir and /tmp, nothing else (root filesystem is read-only).
        data = mounts[config["data_dir"]]
        assert "emptyDir" in volumes[data["name"]] or "persistentVolumeClaim" in volumes[data["name"]], name
        assert "emptyDir" in volumes[mounts["/tmp"]["name"]], name


def test_services_and_service_accounts(docs):
    services = of_kind(docs, "Service")
    deployments = of_kind(docs, "Deployment")
    for name, sa in of_kind(docs, "ServiceAccount").items():
        assert sa.get("automountServiceAccountToken") is False, name
    for name, svc in services.items():
        port, _, _ = SERVICES[name]
        (p,) = svc["spec"]["ports"]
        assert p["name"] == "grpc" and p["port"] == port and p["targetPort"] in ("grpc", port), name
        pod_labels = deployments[name]["spec"]["template"]["metadata"]["labels"]
        assert selects(svc["spec"]["selector"], pod_labels), name
        others = [d for d in deployments if d != name]
        assert not any(selects(svc["spec"]["selector"], deployments[o]["spec"]["template"]["metadata"]["labels"]) for o in others), name


def test_disruption_budgets_cover_every_deployment(docs):
    pdbs = list(of_kind(docs, "PodDisruptionBudget").values())
    for name, dep in of_kind(docs, "Deployment").items():
        labels = dep["spec"]["template"]["metadata"]["labels"]
        matching = [p for p in pdbs if selects(p["spec"]["selector"]["matchLabels"], labels)]
        assert len(matching) == 1, name
        # maxUnavailable keeps a single-replica deployment drainable.
        assert matching[0]["spec"].get("maxUnavailable") == 1, name


def test_network_policies(docs):
    policies = of_kind(docs, "NetworkPolicy")
    deny = [p for p in policies.values() if p["spec"]["podSelector"] == {} and not p["spec"].get("ingress") and not p["spec"].get("egress")]
    assert deny and set(deny[0]["spec"]["policyTypes"]) == {"Ingress", "Egress"}
    dns = policies["allow-dns-egress"]["spec"]["egress"][0]
    assert {(p["protocol"], p["port"]) for p in dns["ports"]} == {("UDP", 53), ("TCP", 53)}
    assert dns["to"][0]["namespaceSelector"]["matchLabels"] == {"kubernetes.io/metadata.name": "kube-system"}
    into_gateway = policies["allow-national-systems-to-gateway"]["spec"]
    assert into_gateway["ingress"][0]["ports"] == [{"protocol": "TCP", "port": 50051}]
    out_of_gateway = policies["allow-gateway-to-agencies"]["spec"]["egress"]
    assert sorted(r["ports"][0]["port"] for r in out_of_gateway) == [50052, 50053, 50054]
    for agency in AGENCIES:
        rule = policies[f"allow-gateway-to-{agency}"]["spec"]["ingress"][0]
        assert rule["from"][0]["podSelector"]["matchLabels"]["app.kubernetes.io/component"] == "gateway"
        assert rule["ports"] == [{"protocol": "TCP", "port": SERVICES[agency][0]}]


def test_dev_is_one_replica_on_sqlite():
    docs = render("overlays/dev")
    assert not of_kind(docs, "HorizontalPodAutoscaler")
    claims = of_kind(docs, "PersistentVolumeClaim")
    for name, dep in of_kind(docs, "Deployment").items():
        assert dep["spec"]["replicas"] == 1, name
        assert dep["spec"]["strategy"]["type"] == "Recreate", name
        volumes = {v["name"]: v for v in dep["spec"]["template"]["spec"]["volumes"]}
        claim = volumes["data"]["persistentVolumeClaim"]["claimName"]
        assert claim in claims, name
        (c,) = dep["spec"]["template"]["spec"]["containers"]
        assert not any(e["name"].endswith("__DATABASE_URL") for e in c.get("env", [])), name


def test_prod_is_replicated_on_postgres_with_per_request_balancing():
    docs = render("overlays/prod")
    deployments = of_kind(docs, "Deployment")
    hpas = of_kind(docs, "HorizontalPodAutoscaler")
    services = of_kind(docs, "Service")
    for name, dep in deployments.items():
        assert dep["spec"]["replicas"] >= 2, name
        assert dep["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0, name
        hpa = hpas[name]["spec"]
        assert hpa["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": name}
        assert hpa["minReplicas"] >= 2 and hpa["maxReplicas"] >= hpa["minReplicas"], name
        (c,) = dep["spec"]["template"]["spec"]["containers"]
        env = {e["name"]: e for e in c["env"]}
        ref = env[f"BORDERMESH_{name.upper()}__DATABASE_URL"]["valueFrom"]["secretKeyRef"]
        assert ref == {"name": f"{name}-database", "key": "url"}, name
        assert "image" in c and not c["image"].endswith(":latest") and ":" in c["image"], name
    for agency in AGENCIES:
        assert services[agency]["spec"].get("clusterIP") == "None", agency
    assert services["gateway"]["spec"].get("clusterIP") != "None"
    egress = of_kind(docs, "NetworkPolicy")["allow-postgres-egress"]["spec"]["egress"]
    assert egress[0]["ports"] == [{"protocol": "TCP", "port": 5432}]


def test_everything_is_namespaced_by_the_overlay(docs, overlay):
    (ns,) = of_kind(docs, "Namespace").values()
    assert ns["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    for d in docs:
        if d["kind"] != "Namespace":
            assert d["metadata"].get("namespace") == ns["metadata"]["name"], (overlay, d["kind"], d["metadata"]["name"])
