"""POST /webhook: the bot's custom actions run in the gateway with the real retriever,
the real calendar and the real Redis (Rasa's side is covered by tests/bot)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
import redis
import yaml
from fastapi.testclient import TestClient

from analytics.ab import DEFAULT_VARIANT, assign
from handoff.desk import TICKETS_OPEN
from tests.gateway.actions_client import (
    REPO,
    SEND_DOMAIN,
    TOKEN,
    TUESDAY_MORNING,
    call,
    responses,
    slots,
)


def test_a_faq_question_gets_the_answer_and_did_it_help(bot: TestClient) -> None:
    res = call(bot, "action_answer_faq", "Comment payer ?")
    out = responses(res)
    assert out[1]["response"] == "utter_did_that_help"
    assert slots(res)["faq_band"] == "answer" and slots(res)["faq_entry"].startswith("pay")


def test_an_answer_on_a_parcels_whereabouts_also_offers_the_order_lookup(bot: TestClient) -> None:
    # config/shop.yml: order_lookups.offer_after lists delivery/tracking
    res = call(bot, "action_answer_faq", "Où est mon colis ?")
    out = responses(res)
    assert "suivi" in out[0]["text"].lower()
    assert out[1]["response"] == "utter_did_that_help_or_lookup"
    assert slots(res)["faq_band"] == "answer" and slots(res)["faq_entry"] == "track-fr"


def test_unsure_about_a_parcels_whereabouts_the_bot_looks_the_order_up(bot: TestClient) -> None:
    # band suggest, best guess the tracking entry: their own order says more than an article
    res = call(bot, "action_answer_faq", "Is my order on its way?", lang="en")
    assert [m["response"] for m in responses(res)] == ["utter_order_lookup_first"]
    events = res.json()["events"]
    assert {"event": "followup", "name": "order_form"} in [
        {k: e.get(k) for k in ("event", "name")} for e in events]
    assert slots(res)["faq_band"] == "suggest" and slots(res)["contact_reason"] == "delivery/tracking"


def test_inside_a_form_an_unsure_parcel_question_starts_no_lookup(bot: TestClient) -> None:
    res = _in_form(bot, "ticket_form", "ticket_email", "Is my order on its way?", lang="en")
    assert res.status_code == 200, res.text
    assert "followup" not in [e["event"] for e in res.json()["events"]]
    assert "utter_order_lookup_first" not in [m.get("response") for m in responses(res)]


def test_an_entry_with_variants_shows_each_conversation_one_variant_consistently(bot: TestClient) -> None:
    variants = bot.app.state.gateway.index.service.variants("track-fr")
    assert set(variants) == {"short"}
    seen = {}
    for n in range(16):
        sender = f"ab-{n}"
        texts = {responses(call(bot, "action_answer_faq", "Où est mon colis ?", sender=sender))[0]["text"]
                 for _ in range(2)}
        assert len(texts) == 1, "one conversation, one variant"
        expected = assign(sender, "track-fr", variants)
        assert texts.pop().startswith("Le **lien" if expected == "short" else "Utilisez le lien")
        seen[sender] = expected
    assert set(seen.values()) == {DEFAULT_VARIANT, "short"}   # 16 conversations: both variants served


def test_an_english_question_gets_the_english_entry(bot: TestClient) -> None:
    res = call(bot, "action_answer_faq", "Where is my parcel?", lang="en")
    assert slots(res)["faq_entry"] == "track-en"


def test_a_clicked_suggestion_answers_that_entry(bot: TestClient) -> None:
    res = call(bot, "action_answer_faq", '/faq_choice{"faq_id": "return-fr"}', intent="faq_choice",
               entities=[{"entity": "faq_id", "value": "return-fr"}])
    assert slots(res)["faq_entry"] == "return-fr"


def test_suggestions_are_buttons_that_answer_when_clicked(bot: TestClient) -> None:
    # vague: band suggest on kb_small (a lone word the KB never uses, "blabla", gets nothing)
    res = call(bot, "action_answer_faq", "une question sur mon achat", lang="fr")
    assert slots(res)["faq_band"] == "suggest"
    (msg,) = responses(res)
    assert msg["response"] == "utter_did_you_mean"
    assert 1 <= len(msg["buttons"]) <= 3
    assert all(b["payload"].startswith('/faq_choice{"faq_id": ') for b in msg["buttons"])


def test_a_miss_says_what_the_bot_can_do_and_offers_a_message_when_closed(bot: TestClient) -> None:
    res = call(bot, "action_answer_faq", "Qui a gagné la coupe du monde de football ?")
    names = [r.get("response") for r in responses(res)]
    assert names == ["utter_out_of_scope", "utter_offer_ticket"]
    assert "lundi" in responses(res)[1]["next_opening"]
    assert slots(res)["faq_misses"] == 1


def test_a_second_miss_in_a_row_offers_again_and_never_hands_over_by_itself(bot: TestClient) -> None:
    res = call(bot, "action_answer_faq", "Qui a gagné la coupe du monde de football ?",
               slots={"faq_misses": 1})
    assert [r.get("response") for r in responses(res)] == ["utter_out_of_scope", "utter_offer_ticket"]
    assert slots(res)["faq_band"] == "none" and "handoff" not in slots(res)


def test_handoff_out_of_hours_starts_the_ticket_form(bot: TestClient) -> None:
    res = call(bot, "action_handoff", "je veux parler à quelqu'un", intent="ask_human")
    (msg,) = responses(res)
    assert msg["response"] == "utter_escalate_ticket"
    assert slots(res)["handoff"] == "ticket"  # rule: ticket_form


def test_handoff_in_hours_with_an_agent_online_pauses_the_bot(bot: TestClient,
                                                              redis_client: redis.Redis) -> None:
    services = bot.app.state.gateway.action_services
    services.clock = lambda: TUESDAY_MORNING
    redis_client.zadd("support:agents:presence", {"agent-1": datetime.now().timestamp()})
    res = call(bot, "action_handoff", "je veux parler à quelqu'un", intent="ask_human", sender="conv-h")
    assert responses(res)[0]["response"] == "utter_handoff_queued"
    assert any(e["event"] == "pause" for e in res.json()["events"])
    assert slots(res)["handoff"] == "queued"
    queued = redis_client.hgetall("support:handoff:conv-h")
    assert queued["trigger"] == "asked" and queued["lang"] == "fr"


def test_in_hours_but_nobody_online_is_not_a_human_promise(bot: TestClient) -> None:
    bot.app.state.gateway.action_services.clock = lambda: TUESDAY_MORNING
    res = call(bot, "action_handoff", "un conseiller svp", intent="ask_human")
    assert responses(res)[0]["response"] == "utter_escalate_ticket_busy"  # not "closed"
    assert slots(res)["handoff"] == "ticket"
    res = call(bot, "action_offer_help", "non", intent="deny")
    assert [r["response"] for r in responses(res)] == ["utter_offer_ticket_busy"]


def test_offer_help_with_an_agent_online_offers_the_human(bot: TestClient, redis_client: redis.Redis) -> None:
    bot.app.state.gateway.action_services.clock = lambda: TUESDAY_MORNING
    redis_client.zadd("support:agents:presence", {"agent-1": datetime.now().timestamp()})
    res = call(bot, "action_offer_help", "non", intent="deny")
    assert [r["response"] for r in responses(res)] == ["utter_offer_human"]


@pytest.mark.parametrize("email", ["pas-un-email", "a@b", "marie@@example.fr"])
def test_an_invalid_email_is_asked_again(bot: TestClient, email: str) -> None:
    # as Rasa sends it: the form extracted the text into the slot, validation decides
    res = call(bot, "validate_ticket_form", email, intent="faq", active_loop="ticket_form",
               slots={"requested_slot": "ticket_email", "ticket_email": email},
               events=[{"event": "user", "text": email},
                       {"event": "slot", "name": "ticket_email", "value": email}])
    assert responses(res)[0]["response"] == "utter_invalid_email"
    assert slots(res)["ticket_email"] is None


def test_a_valid_email_is_kept_normalised(bot: TestClient) -> None:
    email = "Marie.Dupont@Example.FR"
    res = call(bot, "validate_ticket_form", email, intent="faq", active_loop="ticket_form",
               slots={"requested_slot": "ticket_email", "ticket_email": email},
               events=[{"event": "user", "text": email},
                       {"event": "slot", "name": "ticket_email", "value": email}])
    assert slots(res)["ticket_email"] == "Marie.Dupont@example.fr"


@pytest.mark.parametrize(("typed", "stored"), [("non", "-"), ("al 482913", "AL-482913")])
def test_the_order_number_is_optional_in_a_ticket(bot: TestClient, typed: str, stored: str) -> None:
    res = call(bot, "validate_ticket_form", typed, intent="faq", active_loop="ticket_form",
               slots={"requested_slot": "ticket_order", "ticket_order": typed},
               events=[{"event": "user", "text": typed},
                       {"event": "slot", "name": "ticket_order", "value": typed}])
    assert slots(res)["ticket_order"] == stored


def test_a_submitted_ticket_is_saved_and_promises_business_hours(bot: TestClient,
                                                                redis_client: redis.Redis) -> None:
    res = call(bot, "action_submit_ticket", "merci", slots={
        "ticket_email": "marie@example.fr", "ticket_order": "AL-482913", "ticket_message": "Colis abîmé"})
    (msg,) = responses(res)
    assert msg["response"] == "utter_ticket_created" and msg["sla_hours"] == 8
    assert msg["deadline"].startswith("lundi 30 novembre à 17:00")  # Fri 19:00 + 8 business hours
    (tid,) = redis_client.zrange(TICKETS_OPEN, 0, -1)
    ticket = redis_client.hgetall(f"support:ticket:{tid}")
    assert ticket["email"] == "marie@example.fr" and ticket["order_number"] == "AL-482913"
    # Rasa retrying the same action does not create a second ticket
    call(bot, "action_submit_ticket", "merci", slots={
        "ticket_email": "marie@example.fr", "ticket_order": "AL-482913", "ticket_message": "Colis abîmé"})
    assert redis_client.zcard(TICKETS_OPEN) == 1


@pytest.mark.parametrize(("message", "reason"), [
    ("Je voudrais retourner mon plaid, il ne me plaît pas", "returns/process"),   # what the text says
    ("zzzz qwxv", "payment/methods"),                   # a text that says nothing: the conversation's
])
def test_a_ticket_is_filed_under_what_its_own_text_says(bot: TestClient, redis_client: redis.Redis,
                                                        message: str, reason: str) -> None:
    """Issue 19: a torn lampshade was filed under payment methods, the shopper's previous question."""
    call(bot, "action_submit_ticket", "merci", sender=f"reason-{reason}", slots={
        "ticket_email": "marie@example.fr", "ticket_order": "-", "ticket_message": message,
        "contact_reason": "payment/methods"})
    tickets = [redis_client.hgetall(f"support:ticket:{tid}")
               for tid in redis_client.zrange(TICKETS_OPEN, 0, -1)]
    (ticket,) = [t for t in tickets if t["message"] == message]
    assert ticket["reason"] == reason


@pytest.mark.parametrize(("number", "proof", "found"), [
    ("AL-482913", "marie.dupont@exemple.fr", True), ("al482913", " 69003 ", True),
    ("AL-482913", "Marie.Dupont@EXEMPLE.fr", True), ("AL-000000", "marie.dupont@exemple.fr", False)])
def test_order_status(bot: TestClient, number: str, proof: str, found: bool) -> None:
    bot.app.state.gateway.action_services.clock = lambda: TUESDAY_MORNING   # before the parcel's ETA
    res = call(bot, "action_order_status", proof, intent="faq",
               slots={"order_number": number, "order_proof": proof})
    (msg,) = responses(res)
    assert msg["response"] == ("utter_order_status" if found else "utter_order_unknown")
    if found:
        assert msg["order_number"] == "AL-482913" and "Colissimo" in msg["details"]
    got = slots(res)
    assert got["order_number"] is None and got["order_proof"] is None   # nothing kept for the next lookup


def test_only_the_form_validators_are_sent_the_domain(bot: TestClient) -> None:
    """endpoints.yml's selective domain (issue 20): every FAQ turn's call is 18 KB lighter, and
    each action that reads the domain (rasa_sdk's form validation) declares `send_domain`."""
    from rasa_sdk.forms import FormValidationAction

    endpoints = yaml.safe_load((REPO / "bot" / "endpoints.yml").read_text(encoding="utf-8"))
    assert endpoints["action_endpoint"]["enable_selective_domain"] is True
    registered = bot.app.state.gateway.actions.actions   # rasa_sdk: name -> the action's bound run
    validators = {name for name, run in registered.items() if isinstance(run.__self__, FormValidationAction)}
    assert validators and validators == SEND_DOMAIN


def test_a_wrong_token_is_refused(bot: TestClient) -> None:
    assert call(bot, "action_answer_faq", "colis", token="nope").status_code == 401


def test_a_malformed_call_is_a_400(bot: TestClient) -> None:
    res = bot.post(f"/webhook?token={TOKEN}", content=b"{not json")
    assert res.status_code == 400
    assert bot.post(f"/webhook?token={TOKEN}", json={"next_action": "x"}).status_code == 400


def test_an_unknown_action_is_a_404(bot: TestClient) -> None:
    assert call(bot, "action_does_not_exist", "x").status_code == 404


def test_a_long_conversations_tracker_is_accepted_from_rasa_only(bot: TestClient) -> None:
    """Rasa sends the whole tracker with each action call: after a dozen long FAQ answers it
    outgrew the 64 KiB body limit, the call got a 413 and the shopper got silence. Rasa (with
    the action token) may send up to 16 MiB; anyone else still gets 413 past 64 KiB."""
    answer = "Votre commande est préparée sous 1 à 2 jours ouvrés. " * 40
    history = [e for n in range(60) for e in ({"event": "user", "text": f"question {n}"},
                                               {"event": "bot", "text": answer})]
    res = call(bot, "action_answer_faq", "Où est mon colis ?", events=history)
    assert len(json.dumps(history)) > 128 * 1024
    assert res.status_code == 200, res.text
    assert responses(res)
    stranger = call(bot, "action_answer_faq", "Où est mon colis ?", events=history, token="nope")
    assert stranger.status_code == 413


def test_an_answer_found_in_another_language_says_so(bot: TestClient) -> None:
    """Cross-lingual (issue 15): an English question answered from a French-only entry."""
    service = bot.app.state.gateway.index.service
    real_search = service.search

    def french_only(text: str, lang: str | None = None, k: int = 3, context: str | None = None) -> Any:
        result = real_search("Où est mon colis ?", "fr", k)
        result.query_lang, result.fallback = "en", True
        return result

    bot.app.state.gateway.action_services.retriever = lambda: type(
        "FrenchOnly", (), {"search": staticmethod(french_only), "entry": service.entry,
                           "variants": service.variants})()
    out = responses(call(bot, "action_answer_faq", "Where is my parcel?", lang="en"))
    assert out[0]["response"] == "utter_answer_in_fr"            # "This answer is only available in French:"
    assert "suivi" in out[1]["text"].lower()
    same = responses(call(bot, "action_answer_faq", "Où est mon colis ?", lang="fr", sender="conv-2"))
    assert all(m.get("response") != "utter_answer_in_fr" for m in same)


def _in_form(bot: TestClient, form: str, slot: str, text: str, intent: str = "faq", lang: str = "fr",
             extra: dict[str, Any] | None = None, entities: list[dict] | None = None) -> Any:
    """The form's validation as Rasa calls it: the text was extracted into the requested slot."""
    return call(bot, f"validate_{form}", text, intent=intent, active_loop=form, lang=lang,
                slots={"requested_slot": slot, slot: text, **(extra or {})}, entities=entities,
                events=[{"event": "user", "text": text}, {"event": "slot", "name": slot, "value": text}])


def test_a_question_asked_in_a_form_is_answered_then_the_form_asks_again(bot: TestClient) -> None:
    res = _in_form(bot, "ticket_form", "ticket_email", "au fait, les retours sont gratuits ?")
    out = responses(res)
    assert not out[0].get("response") and out[0]["text"]              # the FAQ answer itself
    assert [r.get("response") for r in out[1:]] == ["utter_form_resume"]   # no "did it help?" mid-form
    got = slots(res)
    assert got["ticket_email"] is None and got["faq_band"] == "answer" and got["faq_entry"] == "return-fr"
    assert "form_retries" not in got                                   # a question is not a failure


def test_a_second_invalid_value_in_a_row_ends_the_form_with_a_way_out(bot: TestClient) -> None:
    first = _in_form(bot, "ticket_form", "ticket_email", "marie arobase exemple")
    assert [r["response"] for r in responses(first)] == ["utter_invalid_email"]
    assert slots(first)["form_retries"] == 1
    second = _in_form(bot, "ticket_form", "ticket_email", "marie arobase exemple point fr",
                      extra={"form_retries": 1})
    assert [r["response"] for r in responses(second)] == ["utter_form_way_out_ticket"]
    got = slots(second)
    assert got["requested_slot"] is None and got["form_retries"] == 0   # the form stops asking


def test_the_order_form_takes_number_and_proof_from_one_message(bot: TestClient) -> None:
    text = "AL-482913, marie.dupont@exemple.fr"
    res = _in_form(bot, "order_form", "order_number", text, intent="order_status",
                   entities=[{"entity": "order_number", "value": "AL-482913"}])
    assert responses(res) == []
    got = slots(res)
    assert got["order_number"] == "AL-482913" and got["order_proof"] == "marie.dupont@exemple.fr"


def test_the_proof_given_first_is_kept_and_the_number_asked(bot: TestClient) -> None:
    res = _in_form(bot, "order_form", "order_number", "69003")
    got = slots(res)
    assert got["order_number"] is None and got["order_proof"] == "69003" and responses(res) == []


def test_a_new_number_given_with_the_proof_corrects_the_first(bot: TestClient) -> None:
    res = _in_form(bot, "order_form", "order_proof", "non pardon c'est AL-304958, code postal 33000",
                   intent="deny", extra={"order_number": "AL-482913"})
    got = slots(res)
    assert got["order_number"] == "AL-304958" and got["order_proof"] == "33000"


@pytest.mark.parametrize(("typed", "number", "proof"), [
    ("AL-304958", "AL-304958", None),      # a corrected number alone (it could pass for a postcode)
    ("33000", None, "33000"),              # the postcode asked for
])
def test_asked_for_the_proof_a_number_corrects_and_a_postcode_proves(
        bot: TestClient, typed: str, number: str | None, proof: str | None) -> None:
    got = slots(_in_form(bot, "order_form", "order_proof", typed, extra={"order_number": "AL-482913"}))
    assert got.get("order_number", "AL-482913") == (number or "AL-482913") and got.get("order_proof") == proof


def test_leaving_a_form_forgets_its_values_and_says_so(bot: TestClient) -> None:
    res = call(bot, "action_leave_form", "laisse tomber", intent="stop", active_loop="order_form",
               slots={"requested_slot": "order_proof", "order_number": "AL-482913"})
    assert [r["response"] for r in responses(res)] == ["utter_form_cancelled"]
    events = res.json()["events"]
    assert any(e["event"] == "active_loop" and e.get("name") is None for e in events)
    assert slots(res)["order_number"] is None and slots(res)["requested_slot"] is None


def test_a_form_ended_early_submits_nothing(bot: TestClient, redis_client: redis.Redis) -> None:
    res = call(bot, "action_submit_ticket", "x", slots={"ticket_email": None, "ticket_order": None})
    assert responses(res) == [] and redis_client.zcard(TICKETS_OPEN) == 0
    res = call(bot, "action_order_status", "x", slots={"order_number": "AL-482913", "order_proof": None})
    assert responses(res) == []


def test_a_late_parcel_is_said_to_be_late(bot: TestClient) -> None:
    bot.app.state.gateway.action_services.clock = lambda: datetime(2026, 12, 5, 10, tzinfo=UTC)
    res = call(bot, "action_order_status", "69003", lang="en",
               slots={"order_number": "AL-482913", "order_proof": "69003"})
    msg, offer = responses(res)
    assert msg["response"] == "utter_order_late" and "December" in msg["details"]
    assert offer["response"].startswith("utter_offer_")    # late: a person (or a message) is offered


def test_a_person_asked_for_again_with_nobody_there_is_offered_a_message_not_a_second_form(
        bot: TestClient) -> None:
    res = call(bot, "action_handoff", "je veux un humain", intent="ask_human", slots={"handoff": "ticket"})
    (msg,) = responses(res)
    assert msg["response"] == "utter_escalate_again" and "lundi" in msg["next_opening"]
    assert slots(res) == {"handoff": "offered"}        # no ticket form: the rule waits for the shopper


def test_the_optional_order_number_never_ends_the_message_form(bot: TestClient) -> None:
    first = _in_form(bot, "ticket_form", "ticket_order", "euh la grande")
    assert [r["response"] for r in responses(first)] == ["utter_invalid_order_number"]
    second = _in_form(bot, "ticket_form", "ticket_order", "la bleue", extra={"form_retries": 1})
    assert [r["response"] for r in responses(second)] == ["utter_form_way_out_no_order"]   # says how to stop
    assert slots(second)["ticket_order"] == "-" and "requested_slot" not in slots(second)  # on to the message
    dunno = _in_form(bot, "ticket_form", "ticket_order", "je ne sais pas")
    assert slots(dunno)["ticket_order"] == "-"
