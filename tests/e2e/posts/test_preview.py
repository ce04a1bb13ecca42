"""`POST /v1/posts/preview`: the composer's preview is the published post's own rendering
(the read model's renderer, mentions linked only for handles that exist), and writes
nothing."""

from __future__ import annotations

from tests.support.identity import IdentityClient
from tests.support.log import stream_head
from tests.support.platform import Platform


async def test_a_preview_renders_as_publishing_would_and_writes_nothing(
    client: IdentityClient, platform: Platform
) -> None:
    ann = await client.sign_up(name="Ann Preview")
    token = ann["access_token"]
    status, changed = await client.call("PATCH", "/v1/me", token, {"handle": "ann_preview"})
    assert status == 200, changed
    before = {s: await stream_head(platform.infra, s) for s in ("CONTENT", "MEDIA")}
    body = (
        "**Bold** and <b>raw</b> #Quark\n\n"
        "@ann_preview meets @nobody_here\n\n"
        "![a cat](https://example.org/cat.png) [x](javascript:alert(1))"
    )
    status, preview, headers = await client.post(
        "/v1/posts/preview", {"body": body}, token, **{"Quark-After": changed["position"]}
    )
    assert status == 200, preview
    assert "Quark-Position" not in headers
    html = preview["body_html"]
    assert "<strong>Bold</strong>" in html and "&lt;b&gt;raw&lt;/b&gt;" in html
    assert 'href="/tags/quark"' in html
    assert 'href="/@ann_preview"' in html and "/@nobody_here" not in html
    assert "<img" not in html and "javascript:" not in html
    assert {s: await stream_head(platform.infra, s) for s in ("CONTENT", "MEDIA")} == before


async def test_a_preview_needs_a_token_and_a_body(client: IdentityClient) -> None:
    status, problem, _ = await client.post("/v1/posts/preview", {"body": "hi"})
    assert status == 401, problem
    ann = await client.sign_up()
    status, problem, _ = await client.post("/v1/posts/preview", {"body": ""}, ann["access_token"])
    assert status == 422 and problem["errors"][0]["field"] == "body"
    status, problem, _ = await client.post(
        "/v1/posts/preview", {"body": "hi", "title": "x"}, ann["access_token"]
    )
    assert status == 422 and problem["errors"][0]["field"] == "title"
