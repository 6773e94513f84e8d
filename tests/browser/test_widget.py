"""The chat widget shoppers use, in a real browser on the demo shop page, against the real stack
(gateway + Rasa + Redis): a question answered by the bot, the thumbs-up recorded, the history
surviving a reload, a message typed while the connection is down arriving exactly once (also
when its acknowledgement is lost), hostile text staying text, FAQ suggestions while typing, the
proactive greeting once per session, the offline form, keyboard use and axe-core."""

from __future__ import annotations

import io
import json
import re
from typing import Any

import httpx
import pytest
from PIL import Image
from playwright.sync_api import Page, WebSocketRoute, expect

from .conftest import XSS, axe_violations, poll, screenshot
from .helpers import BOT_MS, QUESTION, ZEBRA, bot_bubble, conversation_id, open_widget, say

pytestmark = pytest.mark.timeout(300)


def transcript(base_url: str, cid: str) -> list[dict[str, Any]]:
    res = httpx.get(f"{base_url}/api/chat/conversations/{cid}/messages", timeout=10)
    assert res.status_code == 200, res.text
    return res.json()["messages"]


def shopper_texts(base_url: str, cid: str) -> list[str]:
    return [m["text"] for m in transcript(base_url, cid) if m["role"] == "shopper"]










def shopper_bubble(page: Page, text: str):  # noqa: ANN201
    return page.locator(".msg.me .bubble").filter(has_text=re.compile(f"^{re.escape(text)}$"))


def test_answer_feedback_history_axe_and_screenshots(live, page: Page) -> None:
    gw, _bot, _redis = live
    open_widget(page, gw.url)
    say(page, QUESTION)
    expect(bot_bubble(page, "lien de suivi")).to_be_visible(timeout=BOT_MS)
    # "did this help": thumbs with accessible names; a click sends /affirm, shows its title
    thumbs_up = page.get_by_role("button", name="Oui, cette réponse m'a aidé")
    expect(thumbs_up).to_be_visible(timeout=BOT_MS)
    expect(page.get_by_role("button", name="Non, cette réponse ne m'a pas aidé")).to_be_visible()
    thumbs_up.click()
    expect(thumbs_up).to_have_attribute("aria-pressed", "true")
    expect(shopper_bubble(page, "Oui")).to_have_count(1)
    cid = conversation_id(page)
    poll(lambda: "/affirm" in shopper_texts(gw.url, cid), "/affirm in the transcript", page=page)
    expect(bot_bubble(page, "Parfait")).to_be_visible(timeout=BOT_MS)  # the bot's reply to the thumbs-up
    expect(page.locator(".typing")).to_be_hidden()
    screenshot(page, "widget-desktop")

    # a reload: same conversation, open panel remembered, history rendered once
    page.reload()
    expect(page.get_by_role("dialog", name="Atelier Lumen")).to_be_visible()
    expect(bot_bubble(page, "lien de suivi")).to_have_count(1)
    expect(shopper_bubble(page, QUESTION)).to_have_count(1)
    expect(shopper_bubble(page, "Oui")).to_have_count(1)          # the payload shown by its title
    expect(page.locator(".msg.me .bubble", has_text="/affirm")).to_have_count(0)
    expect(page.get_by_role("button", name="Oui, cette réponse m'a aidé")).to_have_attribute(
        "aria-pressed", "true")
    assert conversation_id(page) == cid

    violations = axe_violations(page)
    assert not violations, json.dumps(violations, indent=1)

    page.set_viewport_size({"width": 360, "height": 740})
    panel = page.get_by_role("dialog", name="Atelier Lumen")
    expect(panel).to_be_visible()
    box = panel.bounding_box()
    assert box and box["width"] == 360 and box["x"] == 0, box   # full screen on a phone
    expect(page.locator(".msg").last).to_be_in_viewport()         # still following the newest message
    screenshot(page, "widget-360")
    violations = axe_violations(page)
    assert not violations, json.dumps(violations, indent=1)


def test_message_typed_offline_arrives_once(live, page: Page) -> None:
    gw, _bot, _redis = live
    open_widget(page, gw.url)
    cid = conversation_id(page)
    page.context.set_offline(True)
    expect(page.get_by_text("Connexion perdue. Reconnexion…")).to_be_visible()
    text = "Ma commande AL-482913 n'est toujours pas arrivée"
    say(page, text)
    pending = page.locator(".msg.me.pending", has_text=text)
    expect(pending).to_contain_text("En attente de connexion")
    assert text not in shopper_texts(gw.url, cid)                 # really not sent yet
    # queued in localStorage with a client-made id, so a reload would not lose it
    queued = page.evaluate("() => JSON.parse(localStorage.getItem(`shop-support:${location.origin}:queue`))")
    assert [q["text"] for q in queued] == [text] and queued[0]["id"]

    page.context.set_offline(False)                               # back: reconnect, send once
    expect(pending).to_have_count(0, timeout=15_000)
    expect(page.get_by_text("Connexion perdue. Reconnexion…")).to_be_hidden()
    poll(lambda: text in shopper_texts(gw.url, cid), "the queued message in the transcript", page=page)
    expect(page.locator(".msg.bot").last).to_be_visible(timeout=BOT_MS)
    assert shopper_texts(gw.url, cid).count(text) == 1
    expect(shopper_bubble(page, text)).to_have_count(1)
    assert page.evaluate("() => localStorage.getItem(`shop-support:${location.origin}:queue`)") == "[]"


def test_lost_ack_resent_after_reconnect_is_stored_and_shown_once(live, page: Page) -> None:
    """The socket dies after the server stored a message but before the widget saw the ack:
    the widget resends the same message_id on the next socket, the server says duplicate."""
    gw, _bot, _redis = live
    text = "Je voudrais changer l'adresse de livraison"
    frames: list[dict[str, Any]] = []                                 # page -> server
    acks: list[dict[str, Any]] = []                                   # server -> page
    state = {"cut": True}

    def handler(ws: WebSocketRoute) -> None:
        server = ws.connect_to_server()

        def to_server(message: str | bytes) -> None:
            frames.append(json.loads(message))
            server.send(message)

        def to_page(message: str | bytes) -> None:
            frame = json.loads(message)
            if frame.get("type") == "ack":
                acks.append(frame)
            if state["cut"] and frame.get("type") == "ack":
                state["cut"] = False                              # stored, but the ack never arrives:
                ws.close(code=4000)                               # the connection drops right there
                server.close()
                return
            ws.send(message)

        ws.on_message(to_server)
        server.on_message(to_page)

    page.route_web_socket(re.compile(r"/ws/chat"), handler)
    open_widget(page, gw.url)
    cid = conversation_id(page)
    say(page, text)
    poll(lambda: sum(1 for f in frames if f.get("text") == text) >= 2, "the resend after reconnecting",
         page=page)
    expect(page.locator(".msg.me.pending")).to_have_count(0, timeout=15_000)
    sent = [f for f in frames if f.get("type") == "message"]
    assert len({f["message_id"] for f in sent}) == 1              # the same client-made id both times
    # the pending mark may go as the history is resynced, before the resend's ack comes back
    poll(lambda: len(acks) >= 2, "the resend's ack", page=page)
    assert [a["duplicate"] for a in acks] == [False, True], acks  # stored once, the resend recognised
    poll(lambda: text in shopper_texts(gw.url, cid), "the message in the transcript", page=page)
    expect(page.locator(".msg.bot").last).to_be_visible(timeout=BOT_MS)
    assert shopper_texts(gw.url, cid).count(text) == 1
    expect(shopper_bubble(page, text)).to_have_count(1)


def test_hostile_text_stays_text(live, page: Page) -> None:
    gw, _bot, _redis = live
    open_widget(page, gw.url)
    say(page, ZEBRA)                                              # the KB entry with raw HTML in it
    answer = bot_bubble(page, "zebra cushion")
    expect(answer).to_be_visible(timeout=BOT_MS)
    expect(answer.locator("strong")).to_have_text("striped")     # the sanitised markdown is rendered
    expect(answer.locator('a[href="https://shop.example/zebra"]')).to_have_attribute("target", "_blank")
    say(page, XSS)
    expect(shopper_bubble(page, XSS)).to_have_count(1)            # shown as typed, as text
    poll(lambda: XSS in shopper_texts(gw.url, conversation_id(page)), "the hostile text stored", page=page)
    messages = page.locator(".msgs")
    expect(messages.locator("img")).to_have_count(0)
    expect(messages.locator('a[href^="javascript:"]')).to_have_count(0)
    # the same entry as a suggestion while typing: built as text nodes, never as markup (in
    # English now: the widget follows the language of the conversation)
    page.get_by_role("textbox", name="Your message").press_sequentially(ZEBRA, delay=10)
    suggestions = page.get_by_role("region", name="These answers may help")
    expect(suggestions).to_be_visible()
    suggestions.get_by_role("button").first.click()
    expect(suggestions).to_contain_text("onerror=alert(1)")       # the raw HTML, as visible text
    assert page.locator(".ss img, .ss script, .ss a[href^='javascript:']").count() == 0
    assert not page.dialogs  # type: ignore[attr-defined]


def test_faq_suggestions_while_typing_and_keyboard_only(live, page: Page) -> None:
    gw, _bot, _redis = live
    page.goto(f"{gw.url}/demo")
    launcher = page.get_by_role("button", name=re.compile("^Ouvrir le chat"))
    launcher.focus()
    page.keyboard.press("Enter")                                  # keyboard only from here
    box = page.get_by_role("textbox", name="Votre message")
    expect(box).to_be_focused()
    page.keyboard.type("ou est mon colis", delay=30)
    suggestions = page.get_by_role("region", name="Ces réponses peuvent vous aider")
    expect(suggestions).to_be_visible()
    offered = suggestions.get_by_role("button")
    assert 1 <= offered.count() <= 3
    expect(offered.first).to_contain_text("colis")
    page.keyboard.press("Shift+Tab")                              # up into the suggestions, expand one
    expect(offered.last).to_be_focused()
    page.keyboard.press("Enter")
    expect(offered.last).to_have_attribute("aria-expanded", "true")
    expect(suggestions.locator(".sug-a").last).to_be_visible()
    for _ in range(offered.count() - 1):
        page.keyboard.press("Shift+Tab")
    expect(offered.first).to_be_focused()
    page.keyboard.press("Space")
    expect(suggestions.locator(".sug-a").first).to_contain_text("suivi")
    cid = conversation_id(page)
    assert shopper_texts(gw.url, cid) == []                       # nothing was sent
    box.focus()
    page.keyboard.press("Escape")                                 # hides the suggestions
    expect(suggestions).to_be_hidden()
    page.keyboard.press("Escape")                                 # closes the panel, focus back
    expect(page.get_by_role("dialog", name="Atelier Lumen")).to_be_hidden()
    expect(page.get_by_role("button", name=re.compile("^Ouvrir le chat"))).to_be_focused()


def test_proactive_greeting_appears_once_per_session(live, page: Page) -> None:
    gw, _bot, _redis = live
    page.goto(f"{gw.url}/demo")
    host = page.locator("#shop-support-widget")
    greeting = page.get_by_role("button", name=re.compile("^Bonjour ! Une question sur votre commande"))
    expect(greeting).to_be_visible(timeout=10_000)                # data-proactive: "after": 3 s on /demo
    expect(host).to_have_attribute("data-proactive", "shown")
    expect(page.locator(".badge")).to_have_text("1")
    page.reload()
    expect(host).to_have_attribute("data-proactive", "already-shown")
    expect(greeting).to_be_hidden()
    expect(page.locator(".badge")).to_be_hidden()
    # a new session (new tab): greeted again; a click on the greeting opens the chat
    other = page.context.new_page()
    other.goto(f"{gw.url}/demo")
    greeting = other.get_by_role("button", name=re.compile("^Bonjour ! Une question sur votre commande"))
    expect(greeting).to_be_visible(timeout=10_000)
    greeting.click()
    expect(other.get_by_role("dialog", name="Atelier Lumen")).to_be_visible()
    expect(other.locator(".intro")).to_contain_text("Une question sur votre commande")
    expect(greeting).to_be_hidden()


def test_closed_header_and_offline_ticket_form(live, page: Page) -> None:
    """The stack is open for business: the availability answer alone is replaced (closed until
    Monday); the ticket itself goes to the real tickets route."""
    gw, _bot, _redis = live
    closed = {"status": "closed", "typical_wait_s": None, "next_opening": "lundi à 09:00",
              "ticket_reply_hours": 8}
    page.route(re.compile(r"/api/chat/availability"), lambda route: route.fulfill(json=closed))
    open_widget(page, gw.url)
    expect(page.get_by_text("De retour lundi à 09:00")).to_be_visible()
    form = page.get_by_role("form", name="Laissez-nous un message")
    expect(form).to_be_visible()
    email = form.get_by_role("textbox", name="Adresse e-mail")
    message = form.get_by_role("textbox", name="Message", exact=True)
    form.get_by_role("button", name="Envoyer la demande").click()
    expect(email).to_have_attribute("aria-invalid", "true")      # inline validation, no request
    expect(form).to_contain_text("Saisissez une adresse e-mail valide")
    expect(form).to_contain_text("Écrivez votre message.")
    expect(email).to_be_focused()
    email.fill("anna@example.com")
    form.get_by_role("textbox", name="Numéro de commande (facultatif)").fill("AL-482913")
    message.fill("Ma lampe Halo est arrivée avec l'abat-jour déchiré.")
    picture = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 120, 40)).save(picture, "PNG")
    form.get_by_label(re.compile("^Photo ou document")).set_input_files(
        {"name": "abat-jour.png", "mimeType": "image/png", "buffer": picture.getvalue()})
    form.get_by_role("button", name="Envoyer la demande").click()
    done = page.get_by_role("status").filter(has_text="est bien enregistrée")
    expect(done).to_contain_text(re.compile(r"Votre demande T-\d+"))
    expect(done).to_contain_text("Nous vous répondrons par e-mail au plus tard")
    # the photo went into the ticket's conversation, where the agent's ticket view shows it
    expect(page.locator(".msg.me img")).to_have_count(1, timeout=30_000)
    cid = conversation_id(page)
    stored = httpx.get(f"{gw.url}/api/chat/conversations/{cid}/messages", timeout=30).json()["messages"]
    assert [f["type"] for m in stored for f in m.get("files") or []] == ["image/png"]
