"""deploy/ is documentation that must not rot: the compose file, the Kubernetes manifests and the
Dockerfiles are parsed and cross-checked against the code (not run: no Docker in CI)."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from gateway.app import all_routes, create_app

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
CODE = "\n".join(p.read_text(encoding="utf-8")
                 for folder in ("gateway", "handoff", "analytics", "retrieval", "ops")
                 for p in (REPO / folder).rglob("*.py"))


def compose() -> dict:
    return yaml.safe_load((DEPLOY / "docker-compose.yml").read_text(encoding="utf-8"))


def manifests() -> list[dict]:
    docs = []
    for path in sorted((DEPLOY / "k8s").glob("*.yaml")):
        docs += [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d]
    return docs


def test_compose_layout_two_gateways_two_rasa_one_redis() -> None:
    services = compose()["services"]
    assert {"redis", "gateway-1", "gateway-2", "rasa-1", "rasa-2", "proxy"} <= set(services)
    gateway = services["gateway-1"]
    assert gateway["environment"]["RASA_URL"] == "http://rasa-1:5005,http://rasa-2:5005"
    assert "--appendfsync" in services["redis"]["command"] and "always" in services["redis"]["command"]
    for name, value in gateway["environment"].items():      # every variable is one the code reads
        assert f'"{name}"' in CODE, f"{name} is set in docker-compose.yml but read nowhere"
        if any(word in name for word in ("TOKEN", "SECRET", "PASSWORD")):
            assert str(value).startswith("${"), f"{name}: secrets come from the environment, not the file"
    upstreams = re.findall(r"server ([\w-]+):8000", (DEPLOY / "nginx.conf").read_text(encoding="utf-8"))
    assert upstreams == ["gateway-1", "gateway-2"]


def test_kubernetes_manifests_are_complete_and_probe_real_routes() -> None:
    docs = manifests()
    kinds = {(d["kind"], d["metadata"]["name"]) for d in docs}
    assert {("Deployment", "gateway"), ("Service", "gateway"), ("Deployment", "rasa"), ("Service", "rasa"),
            ("PodDisruptionBudget", "gateway"), ("Ingress", "gateway")} <= kinds
    routes = {getattr(r, "path", "") for r in all_routes(create_app())}
    documented = (DEPLOY / "README.md").read_text(encoding="utf-8")
    secret_keys = set(re.findall(r"--from-literal=(\w+)=", documented))
    for d in docs:
        assert d["apiVersion"] and d["metadata"]["name"]
        if d["kind"] != "Deployment":
            continue
        selector = d["spec"]["selector"]["matchLabels"]
        assert selector.items() <= d["spec"]["template"]["metadata"]["labels"].items()
        pod = d["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True
        for container in pod["containers"]:
            assert container["resources"]["requests"] and container["resources"]["limits"]["memory"]
            probe = container["readinessProbe"]["httpGet"]["path"]
            assert d["metadata"]["name"] == "rasa" or probe in routes, probe
            for env in container.get("env", []):
                ref = env.get("valueFrom", {}).get("secretKeyRef")
                if ref:
                    assert ref["key"] in secret_keys, f"{ref['key']} missing from the documented Secret"
            for value in container.get("env", []):
                assert "value" not in value or not any(w in value["name"] for w in ("TOKEN", "SECRET"))


def test_dockerfiles_copy_what_exists() -> None:
    for name in ("Dockerfile.gateway", "Dockerfile.rasa"):
        for line in (DEPLOY / name).read_text(encoding="utf-8").splitlines():
            if line.startswith("COPY "):
                sources = line.split()[1:-1]
                for source in sources:
                    if source.endswith("bot.tar.gz"):
                        continue                              # built by `make train`
                    assert (REPO / source).exists(), f"{name}: COPY {source}: no such path"
