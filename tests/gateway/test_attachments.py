"""Files in the chat, on the real app and Redis: the widget uploads an image or a PDF, it becomes a
message of the transcript, the shopper and agents get it back with safe headers; anything else
(too big, too many, not what its name says, SVG, HTML, a bomb, a broken form, someone else's
conversation, no login) gets a clear 4xx and leaves nothing behind."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import redis
from fastapi.testclient import TestClient
from PIL import ExifTags, Image, ImageChops

from handoff.attachments import AttachmentRefused, Limits, clean_name, inspect, sniff
from tests.gateway.web_client import new_conversation, wait_history

from .helpers import PASSWORD, add_accounts


def png(width: int = 40, height: int = 30, mode: str = "RGB") -> bytes:
    out = io.BytesIO()
    Image.new(mode, (width, height), "red" if mode == "RGB" else 0).save(out, "PNG")
    return out.getvalue()


def jpeg() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 120, 40)).save(out, "JPEG")
    return out.getvalue()


def phone_photo(fmt: str = "JPEG") -> bytes:
    """A photo as a phone writes it: taken sideways (EXIF orientation 6: turn it 90° clockwise),
    with the phone's make, where and when, an XMP packet and a comment."""
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "SecretPhone"
    exif[ExifTags.Base.Orientation] = 6
    gps = ExifTags.GPS
    exif[ExifTags.IFD.GPSInfo] = {gps.GPSLatitudeRef: "N", gps.GPSLatitude: (48.0, 51.0, 29.0),
                                  gps.GPSLongitudeRef: "E", gps.GPSLongitude: (2.0, 21.0, 8.0)}
    img = Image.new("RGB", (64, 48), (200, 120, 40))
    img.paste((0, 0, 255), (0, 0, 8, 8))                # a blue corner, to see where the top left went
    out = io.BytesIO()
    img.save(out, fmt, exif=exif, comment=b"SecretComment", xmp=b"<x:xmpmeta>SecretXMP</x:xmpmeta>")
    return out.getvalue()


def same_pixels(a: bytes, b: bytes) -> bool:
    with Image.open(io.BytesIO(a)) as one, Image.open(io.BytesIO(b)) as other:
        return one.size == other.size and ImageChops.difference(one.convert("RGB"),
                                                                other.convert("RGB")).getbbox() is None


PDF = b"%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"
SVG = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(document.domain)</script></svg>'
HTML = b"<!doctype html><html><script>fetch('/api/agent/me')</script></html>"


@pytest.fixture
def api(make_client: Callable[..., TestClient], tmp_path: Path) -> TestClient:
    return make_client(attachments_dir=tmp_path / "files", attachment_max_bytes=64 * 1024,
                       attachment_max_count=3, attachment_max_total=200 * 1024)


def upload(api: TestClient, cid: str, content: bytes, name: str = "photo.png",
           kind: str = "image/png", **form: str) -> Any:
    return api.post(f"/api/chat/conversations/{cid}/attachments",
                    files={"file": (name, content, kind)}, data=form)


def files_on_disk(api: TestClient) -> list[Path]:
    root = api.app.state.gateway.settings.attachments_dir
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


def agent_headers(api: TestClient, redis_url: str) -> dict[str, str]:
    add_accounts(redis_url, ana="agent")
    res = api.post("/api/agent/login", json={"email": "ana@shop.example", "password": PASSWORD})
    token = res.json()["token"]
    return {"Authorization": f"Bearer {token}"}


def test_an_image_becomes_a_message_the_shopper_and_agents_can_open(api: TestClient,
                                                                   redis_server: Any) -> None:
    cid = new_conversation(api, lang="fr")
    image = png()
    res = upload(api, cid, image, name="colis abîmé.png", message_id="m-1", lang="fr")
    assert res.status_code == 202, res.text
    sent = res.json()
    assert sent["message_id"] == "m-1" and not sent["duplicate"]
    file = sent["file"]
    assert file["type"] == "image/png" and file["size"] == len(image)
    assert (file["width"], file["height"]) == (40, 30)
    assert file["name"] == "colis abîmé.png" and file["id"].startswith("a-")

    messages = wait_history(api, cid, 2)       # the file, then the bot's acknowledgement
    assert messages[0]["role"] == "shopper" and messages[0]["files"] == [file] and messages[0]["text"] == ""
    assert messages[1]["role"] == "bot" and "fichier" in messages[1]["text"]

    got = api.get(f"/api/chat/conversations/{cid}/attachments/{file['id']}")
    assert got.status_code == 200 and len(got.content) == file["size"]
    assert same_pixels(got.content, image)
    assert got.headers["content-type"] == "image/png"
    assert got.headers["x-content-type-options"] == "nosniff"
    assert got.headers["content-disposition"].startswith("inline;")
    assert "filename*=UTF-8''colis%20ab%C3%AEm%C3%A9.png" in got.headers["content-disposition"]
    assert "sandbox" in got.headers["content-security-policy"]
    assert "default-src 'none'" in got.headers["content-security-policy"]
    assert got.headers["cache-control"] == "private, no-store"

    headers = agent_headers(api, redis_server.url)
    assert api.get(f"/api/agent/attachments/{file['id']}").status_code == 401
    by_agent = api.get(f"/api/agent/attachments/{file['id']}", headers=headers)
    assert by_agent.status_code == 200 and by_agent.content == got.content
    assert by_agent.headers["cross-origin-resource-policy"] == "same-origin"
    transcript = api.get(f"/api/agent/conversations/{cid}", headers=headers).json()["messages"]
    assert transcript[0]["files"] == [file]


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP"])
def test_a_photo_is_kept_upright_without_where_and_with_what_it_was_taken(api: TestClient, fmt: str) -> None:
    photo = phone_photo(fmt)
    assert b"SecretPhone" in photo and (fmt == "PNG" or b"SecretXMP" in photo)
    cid = new_conversation(api)
    kind = f"image/{fmt.lower()}"
    res = upload(api, cid, photo, name=f"IMG_0001.{fmt.lower()}", kind=kind)
    assert res.status_code == 202, res.text
    file = res.json()["file"]
    assert (file["width"], file["height"]) == (48, 64)              # turned upright
    served = api.get(f"/api/chat/conversations/{cid}/attachments/{file['id']}").content
    [stored] = files_on_disk(api)
    assert stored.read_bytes() == served and file["size"] == len(served)
    for secret in (b"SecretPhone", b"SecretComment", b"SecretXMP", b"Exif", b"eXIf", b"GPS"):
        assert secret not in served, secret
    with Image.open(io.BytesIO(served)) as img:
        assert img.format == fmt and not img.getexif() and "xmp" not in img.info and "comment" not in img.info
        rgb = img.convert("RGB")
        assert rgb.getpixel((44, 2))[2] > 200 and rgb.getpixel((2, 2))[2] < 100   # the top left, turned


def test_an_image_without_metadata_keeps_its_pixels(api: TestClient) -> None:
    cid = new_conversation(api)
    for image, kind in ((jpeg(), "image/jpeg"), (png(mode="RGBA"), "image/png")):
        file = upload(api, cid, image, name="x", kind=kind).json()["file"]
        served = api.get(f"/api/chat/conversations/{cid}/attachments/{file['id']}").content
        assert same_pixels(served, image), kind       # a JPEG is written again with its own tables


def test_a_pdf_is_downloaded_never_shown_inline(api: TestClient) -> None:
    cid = new_conversation(api)
    res = upload(api, cid, PDF, name="facture.pdf", kind="application/pdf")
    assert res.status_code == 202, res.text
    got = api.get(f"/api/chat/conversations/{cid}/attachments/{res.json()['file']['id']}")
    assert got.headers["content-type"] == "application/pdf"
    assert got.headers["content-disposition"].startswith("attachment;")


def test_the_same_upload_sent_twice_is_stored_once(api: TestClient) -> None:
    cid = new_conversation(api)
    assert upload(api, cid, jpeg(), name="a.jpg", kind="image/jpeg", message_id="m-2").status_code == 202
    again = upload(api, cid, jpeg(), name="a.jpg", kind="image/jpeg", message_id="m-2")
    assert again.status_code == 202 and again.json()["duplicate"] is True
    assert len(files_on_disk(api)) == 1


@pytest.mark.parametrize(("content", "name", "kind"), [
    (b"just some text, not a photo at all", "photo.jpg", "image/jpeg"),   # a name and type that lie
    (SVG, "drawing.svg", "image/svg+xml"),                                 # SVG runs scripts
    (SVG, "photo.png", "image/png"),
    (HTML, "page.png", "image/png"),
    (b"GIF8" + b"<script>alert(1)</script>", "anim.gif", "image/gif"),    # not a full GIF header
    (b"MZ\x90\x00" + b"\x00" * 200, "setup.pdf", "application/pdf"),
])
def test_files_are_judged_by_their_content_not_their_name(api: TestClient, content: bytes, name: str,
                                                          kind: str) -> None:
    cid = new_conversation(api)
    res = upload(api, cid, content, name=name, kind=kind)
    assert res.status_code == 415, res.text
    assert res.json()["error"] == "bad_type"
    assert files_on_disk(api) == [] and wait_history(api, cid, 0) == []


def test_an_image_that_does_not_decode_is_refused(api: TestClient) -> None:
    cid = new_conversation(api)
    broken = png()[:60]                                  # a PNG header, then nothing
    res = upload(api, cid, broken)
    assert res.status_code == 422 and res.json()["error"] == "unreadable"
    polyglot = b"\xff\xd8\xff\xe0" + HTML               # a JPEG's magic number on an HTML page
    res = upload(api, cid, polyglot, name="x.jpg", kind="image/jpeg")
    assert res.status_code == 422 and files_on_disk(api) == []


def test_a_decompression_bomb_is_refused_before_it_is_decoded(api: TestClient) -> None:
    cid = new_conversation(api)
    bomb = png(7000, 7000, mode="1")                     # 49 megapixels in a few kilobytes
    assert len(bomb) < 64 * 1024
    res = upload(api, cid, bomb)
    assert res.status_code == 413 and res.json()["error"] == "too_many_pixels"


def test_too_big_is_413_in_the_route_and_at_the_door(api: TestClient) -> None:
    cid = new_conversation(api)
    big = PDF + b"0" * (64 * 1024)                       # just over the file limit
    res = upload(api, cid, big, name="big.pdf", kind="application/pdf")
    assert res.status_code == 413 and res.json()["error"] == "too_big" and res.json()["limit"] == 64 * 1024
    huge = PDF + b"0" * (200 * 1024)                     # over the body limit: refused before it is read
    res = upload(api, cid, huge, name="huge.pdf", kind="application/pdf")
    assert res.status_code == 413
    assert files_on_disk(api) == []


def test_a_conversation_holds_a_limited_number_of_files(api: TestClient) -> None:
    cid = new_conversation(api)
    for n in range(3):
        assert upload(api, cid, png(10 + n, 10)).status_code == 202
    res = upload(api, cid, png())
    assert res.status_code == 409 and res.json()["error"] == "too_many" and res.json()["limit"] == 3
    assert len(files_on_disk(api)) == 3
    other = new_conversation(api)                        # the limit is per conversation
    assert upload(api, other, png()).status_code == 202


def test_a_conversation_holds_a_limited_number_of_bytes(make_client: Callable[..., TestClient],
                                                        tmp_path: Path) -> None:
    api = make_client(attachments_dir=tmp_path, attachment_max_bytes=64 * 1024, attachment_max_total=1000)
    cid = new_conversation(api)
    assert upload(api, cid, PDF + b"1" * 600, kind="application/pdf").status_code == 202
    res = upload(api, cid, PDF + b"2" * 600, kind="application/pdf")
    assert res.status_code == 409 and res.json()["error"] == "quota"


def test_files_of_one_conversation_are_not_served_under_another(api: TestClient, redis_server: Any) -> None:
    headers = agent_headers(api, redis_server.url)
    mine, theirs = new_conversation(api), new_conversation(api)
    aid = upload(api, theirs, png()).json()["file"]["id"]
    assert api.get(f"/api/chat/conversations/{mine}/attachments/{aid}").status_code == 404
    assert api.get(f"/api/chat/conversations/c-guessed/attachments/{aid}").status_code == 404
    assert upload(api, "c-guessed", png()).status_code == 404
    for bad in ("..%2F..%2F..%2Fetc%2Fpasswd", "a-" + "0" * 32, "a-../../x", "%2e%2e"):
        res = api.get(f"/api/chat/conversations/{theirs}/attachments/{bad}")
        assert res.status_code == 404, bad
        assert api.get(f"/api/agent/attachments/{bad}").status_code in (401, 404), bad
        assert api.get(f"/api/agent/attachments/{bad}", headers=headers).status_code == 404, bad


def test_path_tricks_in_a_name_never_reach_the_disk(api: TestClient, tmp_path: Path) -> None:
    cid = new_conversation(api)
    res = upload(api, cid, png(), name="../../../../tmp/evil\x00.png\u202egnp.exe")
    assert res.status_code == 202, res.text
    name = res.json()["file"]["name"]
    assert "/" not in name and "\\" not in name and "\x00" not in name and "\u202e" not in name
    assert name.endswith(".png")
    [stored] = files_on_disk(api)
    assert stored.name == res.json()["file"]["id"] and stored.is_relative_to(tmp_path / "files")


@pytest.mark.parametrize(("raw", "kind", "expected"), [
    ("photo.jpg", "application/pdf", "photo.pdf"),       # the real type's extension
    ("C:\\Users\\me\\IMG_1.PNG", "image/png", "IMG_1.png"),
    ("...", "image/png", "file.png"),
    ("", "image/jpeg", "file.jpg"),
    ("a" * 500 + ".png", "image/png", "a" * 94 + ".png"),
    ('x";filename=evil.html', "image/png", "xfilename=evil.png"),
])
def test_names_are_cleaned_for_display(raw: str, kind: str, expected: str) -> None:
    assert clean_name(raw, kind) == expected


def test_sniffing_knows_the_accepted_types_only() -> None:
    assert sniff(png()) == "image/png" and sniff(jpeg()) == "image/jpeg" and sniff(PDF) == "application/pdf"
    assert sniff(b"RIFF\x00\x00\x00\x00WEBPVP8 ") == "image/webp" and sniff(b"GIF89a...") == "image/gif"
    assert sniff(SVG) is None and sniff(HTML) is None and sniff(b"") is None


@pytest.mark.parametrize(("body", "headers"), [
    (b"--xyz\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.png\"\r\n\r\nabc",
     {"Content-Type": "multipart/form-data; boundary=xyz"}),                    # never closed
    (b"garbage", {"Content-Type": "multipart/form-data"}),                      # no boundary
    (b"garbage", {"Content-Type": "multipart/form-data; boundary="}),
    (b"\xff\xfe" * 100, {"Content-Type": "multipart/form-data; boundary=zz"}),
    (json.dumps({"file": "x"}).encode(), {"Content-Type": "application/json"}),
    (b"", {}),
])
def test_a_malformed_upload_is_a_4xx_never_a_500(api: TestClient, body: bytes,
                                                 headers: dict[str, str]) -> None:
    cid = new_conversation(api)
    res = api.post(f"/api/chat/conversations/{cid}/attachments", content=body, headers=headers)
    assert 400 <= res.status_code < 500, (res.status_code, res.text)
    assert files_on_disk(api) == []


def test_a_form_without_the_file_or_with_a_bad_id_is_422(api: TestClient) -> None:
    cid = new_conversation(api)
    res = api.post(f"/api/chat/conversations/{cid}/attachments", data={"message_id": "m-3"},
                   files={"other": ("a.png", png(), "image/png")})
    assert res.status_code == 422
    res = upload(api, cid, png(), message_id="bad\u202eid")
    assert res.status_code == 422
    res = upload(api, cid, png(), message_id="x" * 65)
    assert res.status_code == 422


def test_uploads_are_off_when_the_count_limit_is_zero(make_client: Callable[..., TestClient],
                                                       tmp_path: Path, redis_client: redis.Redis) -> None:
    api = make_client(attachments_dir=tmp_path, attachment_max_count=0)
    cid = new_conversation(api)
    assert upload(api, cid, png()).status_code == 409
    assert list(tmp_path.rglob("*.png")) == [] and not redis_client.keys("support:attachment:*")


@pytest.mark.parametrize("fmt", ["GIF", "PNG", "WEBP"])
def test_an_animation_counts_every_frame_in_the_pixel_budget(fmt: str) -> None:
    """Writing an animation again (without its metadata) decodes every frame: a small file of many
    large frames is a bomb too, refused before it is written."""
    frames = [Image.new("RGB", (50, 40), (20 * i, 0, 0)) for i in range(5)]    # 5 x 2,000 pixels
    out = io.BytesIO()
    frames[0].save(out, fmt, save_all=True, append_images=frames[1:], duration=100, loop=0)
    kind = f"image/{fmt.lower()}"
    kept, width, height = inspect(out.getvalue(), Limits(max_pixels=10_000))[1:]
    with Image.open(io.BytesIO(kept)) as img:
        assert (img.n_frames, width, height) == (5, 50, 40)                  # within: kept, animated
    with pytest.raises(AttachmentRefused) as refused:
        inspect(out.getvalue(), Limits(max_pixels=9_999))
    assert (refused.value.status, refused.value.code) == (413, "too_many_pixels"), kind
