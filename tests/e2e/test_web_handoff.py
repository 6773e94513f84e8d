"""Acceptance flow on the web channel, every process real: a shopper on /ws/chat gets an FAQ
answer from Rasa, asks for a human, an agent logged in through the API takes the
conversation (seeing the bot's turns), replies over the shopper's socket, closes, and the
bot answers the next question again."""

from __future__ import annotations

import time

from ops.redis_server import RedisServer
from tests.stack import Gateway, Rasa

from .conftest import AgentClient, Shopper, add_agent


def test_faq_then_human_then_back_to_the_bot(open_stack: tuple[Gateway, Rasa],
                                             redis_server: RedisServer) -> None:
    gw, _ = open_stack
    add_agent(redis_server.url, "marie@shop.example", "correct horse battery")
    agent = AgentClient(gw.url, "marie@shop.example", "correct horse battery")  # logs in = online
    shopper = Shopper(gw.url.replace("http", "ws") + "/ws/chat?lang=fr")
    cid = shopper.conversation_id

    ack = shopper.say("Bonjour, où est mon colis ?")
    assert ack["type"] == "ack" and not ack["duplicate"]
    shopper.wait_message("bot", "lien de suivi")                   # the FAQ answer, from Rasa

    shopper.say("je veux parler à un conseiller")
    shopper.wait_message("bot", "conseiller")                       # "Je vous passe un conseiller..."
    waiting = agent.get("/api/agent/queue").json()["queue"]
    assert cid in [w["conversation_id"] for w in waiting]
    assert {"lang": "fr", "channel": "web"}.items() <= next(
        w for w in waiting if w["conversation_id"] == cid).items()

    claimed = agent.post(f"/api/agent/conversations/{cid}/claim")
    assert claimed.status_code == 200, claimed.text
    shopper.wait_message("system", "rejoint")                       # "marie a rejoint la conversation."

    seen = agent.get(f"/api/agent/conversations/{cid}").json()
    roles_texts = [(m["role"], m["text"]) for m in seen["messages"]]
    assert ("shopper", "Bonjour, où est mon colis ?") in roles_texts
    assert any(role == "bot" and "lien de suivi" in text for role, text in roles_texts)  # bot turns too

    sent = agent.post(f"/api/agent/conversations/{cid}/messages", json={"text": "Je regarde votre colis."})
    assert sent.status_code == 200, sent.text
    shopper.wait_message("agent", "Je regarde votre colis.")

    shopper.say("merci, c'est la commande AL-482913")               # goes to the agent, not to Rasa
    transcript = agent.get(f"/api/agent/conversations/{cid}").json()["messages"]
    assert transcript[-1]["role"] == "shopper" and "AL-482913" in transcript[-1]["text"]

    assert agent.post(f"/api/agent/conversations/{cid}/close").status_code == 200
    shopper.wait_message("bot", "terminée")
    rating = shopper.wait(lambda f: f.get("type") == "message" and any(
        b["payload"].startswith("/csat") for b in f["message"]["buttons"]))["message"]
    assert len(rating["buttons"]) == 5

    shopper.say("Comment retourner un article ?")                   # the bot is back
    answer = shopper.wait_message("bot", "retour")
    assert answer["role"] == "bot"
    shopper.close()


def test_agent_api_needs_a_valid_token(open_stack: tuple[Gateway, Rasa]) -> None:
    import httpx

    gw, _ = open_stack
    for headers in ({}, {"Authorization": "Bearer not-a-token"}, {"Authorization": "Basic abc"}):
        res = httpx.get(f"{gw.url}/api/agent/queue", headers=headers)
        assert res.status_code == 401, res.text
        assert res.json()["error"] == "unauthorized"
    bad = httpx.post(f"{gw.url}/api/agent/login", json={"email": "marie@shop.example", "password": "nope"})
    assert bad.status_code == 401


def test_two_agents_claiming_at_once_one_wins(open_stack: tuple[Gateway, Rasa],
                                              redis_server: RedisServer) -> None:
    import threading

    import httpx

    gw, _ = open_stack
    agents = []
    for name in ("ana", "bob"):
        add_agent(redis_server.url, f"{name}@shop.example", "correct horse battery")
        agents.append(AgentClient(gw.url, f"{name}@shop.example", "correct horse battery"))
    for _ in range(5):
        cid = httpx.post(f"{gw.url}/api/chat/conversations", json={"lang": "fr"}).json()["conversation_id"]
        httpx.post(f"{gw.url}/api/chat/conversations/{cid}/messages",
                   json={"text": "je veux parler à un conseiller", "message_id": "h1"})
        deadline = time.monotonic() + 60
        while cid not in [w["conversation_id"] for w in agents[0].get("/api/agent/queue").json()["queue"]]:
            assert time.monotonic() < deadline, "never queued"
            time.sleep(0.2)
        barrier = threading.Barrier(2)
        results: dict[str, int] = {}

        def claim(agent: AgentClient, name: str, cid: str = cid, barrier: threading.Barrier = barrier,
                  results: dict[str, int] = results) -> None:
            barrier.wait()
            results[name] = agent.post(f"/api/agent/conversations/{cid}/claim").status_code

        threads = [threading.Thread(target=claim, args=(a, n))
                   for a, n in zip(agents, ("ana", "bob"), strict=True)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert sorted(results.values()) == [200, 409], results
        winner = agents[0] if results["ana"] == 200 else agents[1]
        assert winner.post(f"/api/agent/conversations/{cid}/close").status_code == 200
