"""deploy/ is documentation that must not rot: the compose file, the Kubernetes manifests and the
Dockerfiles are parsed and cross-checked against the code (not run: no Docker in CI)."""

from __future__ import annotations

import json
import re
from ipaddress import ip_address, ip_network
from pathlib import Path

import yaml

from gateway.app import all_routes, create_app
from ops.run import WS_MAX_BYTES, trusted_proxies

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


def dockerfile_cmd(name: str) -> list[str]:
    text = (DEPLOY / name).read_text(encoding="utf-8").replace("\\\n", " ")
    [cmd] = [line for line in text.splitlines() if line.startswith("CMD ")]
    return json.loads(cmd.removeprefix("CMD "))


def test_rasa_gets_its_token_from_the_environment_never_argv() -> None:
    """`ps` shows argv to every user: every way deploy/ starts Rasa goes through bot/serve.py."""
    k8s = next(d for d in manifests() if d["kind"] == "Deployment" and d["metadata"]["name"] == "rasa")
    [container] = k8s["spec"]["template"]["spec"]["containers"]
    rasa = compose()["x-rasa"]
    for argv in (dockerfile_cmd("Dockerfile.rasa"), rasa["command"], container["args"]):
        assert argv[:3] == ["python", "serve.py", "run"], argv
        assert not any("auth-token" in a or "RASA_TOKEN" in a for a in argv), argv
        assert argv[argv.index("--credentials") + 1] == "credentials.yml"
    assert str(rasa["environment"]["RASA_TOKEN"]).startswith("${")
    assert "RASA_TOKEN" in {e["name"] for e in container["env"]}
    assert "serve.py" in (DEPLOY / "Dockerfile.rasa").read_text(encoding="utf-8")
    assert "gateway_channel.py" in (DEPLOY / "Dockerfile.rasa").read_text(encoding="utf-8")


def test_gateways_trust_only_their_proxy_and_cap_websocket_messages() -> None:
    cmd = dockerfile_cmd("Dockerfile.gateway")
    assert cmd[cmd.index("--ws-max-size") + 1] == str(WS_MAX_BYTES)
    assert cmd[cmd.index("--ws-per-message-deflate") + 1] == "false"
    # uvicorn reads FORWARDED_ALLOW_IPS itself; the image's default trusts nobody
    assert 'ENV FORWARDED_ALLOW_IPS=""' in (DEPLOY / "Dockerfile.gateway").read_text(encoding="utf-8")
    services = compose()["services"]
    proxy_ip = services["proxy"]["networks"]["default"]["ipv4_address"]
    assert services["gateway-1"]["environment"]["FORWARDED_ALLOW_IPS"] == proxy_ip
    [pool] = compose()["networks"]["default"]["ipam"]["config"]
    assert ip_address(proxy_ip) in ip_network(pool["subnet"])
    assert ip_address(proxy_ip) not in ip_network(pool["ip_range"])   # never handed to another container
    k8s = next(d for d in manifests() if d["kind"] == "Deployment" and d["metadata"]["name"] == "gateway")
    [container] = k8s["spec"]["template"]["spec"]["containers"]
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert trusted_proxies(env["FORWARDED_ALLOW_IPS"]) == env["FORWARDED_ALLOW_IPS"]


def test_metrics_token_is_a_documented_secret() -> None:
    documented = (DEPLOY / "README.md").read_text(encoding="utf-8")
    assert "--from-literal=METRICS_TOKEN=" in documented
    assert str(compose()["services"]["gateway-1"]["environment"]["METRICS_TOKEN"]).startswith("${")
