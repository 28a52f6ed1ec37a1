"""HTTP caching: ETag and 304, HEAD, Cache-Control, Surrogate-Key, the versioned and gzipped
widget, the cache metrics, and the purge hook against a real HTTP server on loopback."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from recommender.api import RecommendationOut, create_app
from recommender.service import RecommenderService
from tests.factories import auth, make_settings, small_corpus

LISTS = ["/v1/articles/cuba-1/related?k=3", "/v1/popular?k=4&context=cuba-1"]


@pytest.mark.parametrize("path", LISTS)
def test_a_list_answers_304_to_its_etag(client: TestClient, path: str) -> None:
    first = client.get(path)
    etag = first.headers["etag"]
    assert first.status_code == 200 and etag.startswith('W/"')
    again = client.get(path, headers={"If-None-Match": f'"other", {etag}'})
    assert again.status_code == 304 and again.content == b""
    assert again.headers["etag"] == etag and "max-age" in again.headers["cache-control"]
    assert client.get(path, headers={"If-None-Match": '"other"'}).status_code == 200


def test_a_changed_list_gets_a_new_etag(client: TestClient) -> None:
    path = "/v1/articles/cuba-1/related?k=3"
    first = client.get(path)
    listed = first.json()["items"][0]["id"]
    changed = next(a for a in small_corpus() if a.id == listed)
    body = json.loads(changed.model_copy(update={"title": "Nieuwe kop"}).model_dump_json())
    assert client.put(f"/v1/articles/{listed}", json=body, headers=auth()).status_code == 200
    again = client.get(path, headers={"If-None-Match": first.headers["etag"]})
    assert again.status_code == 200 and again.headers["etag"] != first.headers["etag"]
    assert again.json()["items"][0]["title"] == "Nieuwe kop"


def test_cache_headers_come_from_the_settings(tmp_path: Path) -> None:
    settings = make_settings(
        tmp_path,
        http_max_age_seconds=11,
        http_s_maxage_seconds=22,
        http_stale_while_revalidate_seconds=33,
    )
    svc = RecommenderService(settings)
    svc.start()
    svc.upsert(small_corpus())
    with TestClient(create_app(settings, svc)) as client:
        response = client.get("/v1/articles/cuba-1/related?k=2")
    svc.close()
    assert response.headers["cache-control"] == (
        "public, max-age=11, s-maxage=22, stale-while-revalidate=33"
    )
    keys = response.headers["surrogate-key"].split()
    assert keys[0] == "recommender:related" and "article:cuba-1" in keys
    assert {f"article:{item['id']}" for item in response.json()["items"]} <= set(keys)


def test_the_body_keeps_the_documented_shape(client: TestClient) -> None:
    response = client.get("/v1/articles/cuba-1/related?k=2&explain=true")
    RecommendationOut.model_validate_json(response.content)  # what OpenAPI documents
    body = response.json()
    assert set(body) == {"recommendation_id", "kind", "fallback", "variant", "items"}
    item = body["items"][0]
    assert item["published_at"].endswith("Z")
    assert item["reasons"]["total"] == pytest.approx(item["score"], abs=1e-6)
    plain = client.get("/v1/articles/cuba-1/related?k=2").json()
    assert plain["items"][0]["reasons"] is None
    # the cached list keeps its recommendation id (see api/http_cache.py)
    assert (
        plain["recommendation_id"]
        == client.get("/v1/articles/cuba-1/related?k=2").json()["recommendation_id"]
    )


@pytest.mark.parametrize(
    "path",
    [
        *LISTS,
        "/v1/related?url=https://example.test/cuba-1",
        "/v1/articles/cuba-1",
        "/health/live",
        "/health/ready",
        "/widget.js",
        "/demo/cuba-1",
    ],
)
def test_head_answers_every_get_route_without_a_body(client: TestClient, path: str) -> None:
    get = client.get(path)
    head = client.head(path)
    assert head.status_code == get.status_code == 200
    assert head.content == b""
    assert head.headers["content-length"] == get.headers["content-length"]
    assert head.headers.get("etag") == get.headers.get("etag")


def test_the_widget_is_versioned_compressed_and_revalidated(client: TestClient) -> None:
    page = client.get("/demo/cuba-1").text
    src = page.split('<script src="', 1)[1].split('"', 1)[0]
    path = src  # root-relative: the demo page never writes the request's Host header
    assert path.startswith("/widget/") and path.endswith("/widget.js")
    zipped = client.get(path, headers={"Accept-Encoding": "gzip"})
    assert zipped.headers["content-encoding"] == "gzip"
    assert "immutable" in zipped.headers["cache-control"]
    assert "Accept-Encoding" in zipped.headers["vary"]
    plain = client.get("/widget.js", headers={"Accept-Encoding": "identity"})
    assert "max-age=300" in plain.headers["cache-control"]
    assert zipped.text == plain.text and "RecommenderWidget" in plain.text
    assert zipped.num_bytes_downloaded < len(plain.content) // 2  # sent compressed
    etag = zipped.headers["etag"]
    again = client.get(path, headers={"Accept-Encoding": "gzip", "If-None-Match": etag})
    assert again.status_code == 304
    stale = client.get("/widget/0ld/widget.js")
    assert stale.status_code == 200 and "max-age=300" in stale.headers["cache-control"]
    assert client.get("/widget/x/nope.js").status_code == 404


def test_metrics_report_the_result_cache(client: TestClient) -> None:
    for _ in range(3):
        client.get("/v1/articles/cuba-1/related?k=2")
    text = client.get("/metrics").text
    assert "recommender_result_cache_hits_total 2.0" in text
    assert "recommender_result_cache_hit_ratio" in text


# the purge hook against a real server ---------------------------------------------------------


class Recorder(BaseHTTPRequestHandler):
    received: list[dict[str, Any]]
    release: threading.Event
    status = 200

    def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
        self.release.wait(10)
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.received.append({"body": body, "keys": self.headers["Surrogate-Key"]})
        self.send_response(self.status)
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def purge_server() -> Iterator[tuple[str, type[Recorder]]]:
    handler: type[Recorder] = type(
        "Handler", (Recorder,), {"received": [], "release": threading.Event()}
    )
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/purge", handler
    handler.release.set()
    server.shutdown()
    server.server_close()


def test_writes_call_the_purge_hook_without_waiting_for_it(
    tmp_path: Path, purge_server: tuple[str, type[Recorder]]
) -> None:
    url, handler = purge_server
    settings = make_settings(tmp_path, purge_url=url, purge_headers={"Fastly-Key": "k"})
    svc = RecommenderService(settings)
    svc.start()
    try:
        with TestClient(create_app(settings, svc)) as client:
            body = json.loads(small_corpus()[0].model_dump_json())
            # the hook's server holds every request until released: the write must not wait
            assert client.put("/v1/articles/cuba-1", json=body, headers=auth()).status_code == 200
            assert client.delete("/v1/articles/cuba-1", headers=auth()).status_code == 200
            assert handler.received == []
            handler.release.set()
            assert svc.wait_for_purges(10)
        keys = [key for got in handler.received for key in got["body"]["keys"]]
        assert set(keys) == {"article:cuba-1"} and len(handler.received) in (1, 2)
        assert handler.received[0]["keys"] == "article:cuba-1"
    finally:
        svc.close()


def test_a_failing_purge_hook_is_logged_and_harmless(
    tmp_path: Path, purge_server: tuple[str, type[Recorder]], caplog: pytest.LogCaptureFixture
) -> None:
    url, handler = purge_server
    handler.status = 500
    handler.release.set()
    svc = RecommenderService(make_settings(tmp_path, purge_url=url))
    svc.start()
    try:
        svc.upsert(small_corpus()[:2])
        assert svc.wait_for_purges(20)
        assert [r.message for r in caplog.records].count("purge.failed") == 3  # all attempts
        assert len(handler.received) == 3
        assert svc.related("cuba-1", 1).items  # the service carries on
    finally:
        svc.close()


def test_head_requests_are_counted_under_their_route(client: TestClient) -> None:
    client.head("/v1/articles/cuba-1/related")
    text = client.get("/metrics").text
    assert 'route="/v1/articles/{article_id}/related",status="200"' in text.replace(
        'method="HEAD",', ""
    )
    assert 'method="HEAD"' in text
