"""deploy/ stays consistent and valid: every YAML parses, the Kubernetes manifests pass the
Kubernetes schema (kubernetes-validate, offline, strict), the llms.json they ship is a valid
config, and the numbers that must agree do (grace periods, ports, names, selectors)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from llms.config import load_config

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
K8S = DEPLOY / "k8s"
MANIFESTS = ["configmap.yaml", "deployment.yaml", "service.yaml", "hpa.yaml", "pdb.yaml"]


def load(name: str) -> dict:
    return yaml.safe_load((DEPLOY / name).read_text())


def llms_json() -> dict:
    return json.loads((DEPLOY / "llms.json").read_text())


def grace() -> float:
    shutdown = llms_json().get("shutdown", {})
    return shutdown.get("grace", 30) + shutdown.get("delay", 0)


DEPLOY_ENV = {
    "LLMS_DATABASE_URL": "postgresql://llms:pw@postgres:5432/llms",
    "LLMS_REDIS_URL": "redis://redis:6379/0",
    "LLMS_ADMIN_KEY": "admin",
}


def test_the_shipped_llms_json_is_a_valid_config_and_the_configmap_carries_it(monkeypatch):
    for name, value in DEPLOY_ENV.items():
        monkeypatch.setenv(name, value)
    config = load_config(str(DEPLOY / "llms.json"))
    assert config.reliability.shutdown_grace == 30
    assert config.usage.dsn == DEPLOY_ENV["LLMS_DATABASE_URL"]  # replicas share one ledger and key table
    assert config.access.redis_url == DEPLOY_ENV["LLMS_REDIS_URL"] and config.access.required
    cm = load("k8s/configmap.yaml")
    assert json.loads(cm["data"]["llms.json"]) == llms_json()


@pytest.mark.parametrize("name", MANIFESTS)
def test_manifest_passes_the_kubernetes_schema(name):
    kv = pytest.importorskip("kubernetes_validate")
    doc = load(f"k8s/{name}")
    kv.validate(doc, "1.30.0", strict=True)  # raises ValidationError with the path on a mistake
    assert doc["metadata"]["name"] and doc["metadata"]["labels"]["app.kubernetes.io/name"] == "llms"


def test_kustomization_lists_every_manifest():
    assert load("k8s/kustomization.yaml")["resources"] == MANIFESTS


def test_deployment_probes_grace_and_wiring_agree():
    dep = load("k8s/deployment.yaml")
    pod = dep["spec"]["template"]
    labels = pod["metadata"]["labels"]
    assert dep["spec"]["selector"]["matchLabels"].items() <= labels.items()
    [c] = pod["spec"]["containers"]
    args = c["args"]
    port = int(args[args.index("--serve") + 1])
    assert c["ports"][0]["containerPort"] == port
    assert c["livenessProbe"]["httpGet"]["path"] == "/health"  # never a backend: no restart storms
    assert c["readinessProbe"]["httpGet"]["path"] == "/health/ready"
    sleep = int(c["lifecycle"]["preStop"]["exec"]["command"][1])
    assert pod["spec"]["terminationGracePeriodSeconds"] >= sleep + grace() + 5
    config_dir = Path(args[args.index("--config") + 1]).parent
    mounts = {m["mountPath"]: m["name"] for m in c["volumeMounts"]}
    volumes = {v["name"]: v for v in pod["spec"]["volumes"]}
    assert volumes[mounts[str(config_dir)]]["configMap"]["name"] == load("k8s/configmap.yaml")["metadata"]["name"]
    assert dep["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
    assert set(DEPLOY_ENV) <= {e["name"] for e in c["env"]}

    svc, hpa, pdb = load("k8s/service.yaml"), load("k8s/hpa.yaml"), load("k8s/pdb.yaml")
    assert svc["spec"]["selector"].items() <= labels.items()
    assert svc["spec"]["ports"][0]["targetPort"] == c["ports"][0]["name"]
    assert hpa["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "llms"}
    assert hpa["spec"]["minReplicas"] >= 2 and pdb["spec"]["minAvailable"] < hpa["spec"]["minReplicas"]
    assert pdb["spec"]["selector"]["matchLabels"].items() <= labels.items()


def _seconds(value: str) -> int:
    m = re.fullmatch(r"(\d+)s", value)
    assert m, value
    return int(m.group(1))


def test_compose_runs_nginx_two_replicas_postgres_and_redis_as_nginx_conf_expects():
    compose = load("compose.yaml")
    services = compose["services"]
    assert {"nginx", "llms-1", "llms-2", "postgres", "redis"} <= services.keys()
    nginx_conf = (DEPLOY / "nginx.conf").read_text()
    upstreams = re.findall(r"^\s*server (\S+):(\d+) ", nginx_conf, re.M)
    assert upstreams == [("llms-1", "8000"), ("llms-2", "8000")]
    listen = re.search(r"^\s*listen (\d+);", nginx_conf, re.M)
    assert listen and services["nginx"]["ports"][0].endswith(f":{listen.group(1)}")
    assert "./nginx.conf:/etc/nginx/conf.d/default.conf:ro" in services["nginx"]["volumes"]
    for name in ("llms-1", "llms-2"):
        svc = services[name]
        cmd = svc["command"]
        assert cmd[cmd.index("--serve") + 1] == "8000" and cmd[cmd.index("--host") + 1] == "0.0.0.0"
        assert _seconds(svc["stop_grace_period"]) >= grace() + 5
        env = svc["environment"]
        assert "@postgres:5432/" in env["LLMS_DATABASE_URL"] and env["LLMS_REDIS_URL"].startswith("redis://redis:")
        assert set(DEPLOY_ENV) <= env.keys()
        assert "./llms.json:/etc/llms/llms.json:ro" in svc["volumes"]
        assert set(svc["depends_on"]) == {"postgres", "redis"}
