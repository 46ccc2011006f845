"""HTTP/1.x detector: header identity only (no query string, no body, no credential) and UA OS hints."""

from __future__ import annotations

from collector.protocols import http
from collector.protocols.base import Packet, SimpleContext
from tests.collector.replay_helpers import observations
from tests.conftest import real_pcap
from tests.keys import TEST_KEY


def _pkt(payload: bytes, from_client: bool = True) -> Packet:
    return Packet(
        ts=1.0,
        frame_no=1,
        src_ip="10.20.0.11",
        src_mac="3c:52:82:20:00:11",
        transport="tcp",
        payload=payload,
        from_client=from_client,
        server_port=80,
    )


def test_keep_alive_requests_and_path_cut() -> None:
    one = b"POST /api/v1/upload?token=SECRET HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\n\r\nDATA"
    two = b"GET /" + b"p" * 300 + b" HTTP/1.1\r\nHost: b\r\nUser-Agent: curl/8.5\r\n\r\n"
    out = http.decode(_pkt(one + two), SimpleContext())
    assert [(o.method, o.host) for o in out] == [("POST", "a"), ("GET", "b")]
    assert out[0].path == "/api/v1/upload" and len(out[1].path or "") == http.MAX_PATH
    assert "SECRET" not in "".join(o.model_dump_json() for o in out)
    assert not any(o.kind == "os_hint" for o in out)


def test_ua_os_hint_and_basic_flag() -> None:
    req = b"GET / HTTP/1.1\r\nUser-Agent: Mozilla/5.0 (Linux; Android 9; SM-T820)\r\n"
    req += b"Authorization: basic Zm9v\r\n\r\n"
    req_obs, hint = http.decode(_pkt(req), SimpleContext())
    assert req_obs.basic_auth and "Zm9v" not in req_obs.model_dump_json()
    assert (hint.method, hint.family, hint.version, hint.ip) == ("http-ua", "Android", "9", "10.20.0.11")


def test_truncated_header_and_non_http() -> None:
    ctx = SimpleContext()
    assert http.decode(_pkt(b"GET / HTTP/1.1\r\nHost: a\r\n"), ctx) == []
    assert ctx.weirds == {"http_header_truncated": 1}
    assert not http.probe(b"GETX / HTTP/1.1") and http.decode(_pkt(b"\x16\x03\x01"), SimpleContext()) == []


def test_response_status() -> None:
    (obs,) = http.decode(
        _pkt(b"HTTP/1.0 404 Not Found\r\nServer: GoAhead-Webs\r\n\r\n", False), SimpleContext()
    )
    assert (obs.status, obs.server, obs.method) == (404, "GoAhead-Webs", None)


def test_real_windows_update_and_wget() -> None:
    out = observations(real_pcap("ndpi-windowsupdate_over_http.pcap"), [http.DETECTOR])
    req = next(o for o in out if o.kind == "http" and o.method)
    assert req.user_agent == "Microsoft-Delivery-Optimization/10.0" and req.host == "151.99.72.125"
    assert any(o.kind == "http" and o.status == 206 and o.server == "nginx" for o in out)
    out = observations(real_pcap("zeek-http-vlan-0.pcap"), [http.DETECTOR])
    assert {(o.host, o.path) for o in out if o.kind == "http" and o.method} == {
        ("bro.org", "/download/CHANGES.bro-aux.txt")
    }


def test_bare_lf_header_block() -> None:
    (obs,) = http.decode(_pkt(b"GET /x?q=1 HTTP/1.0\nUser-Agent:\nHost: h\n\n"), SimpleContext())
    assert (obs.method, obs.path, obs.host, obs.user_agent) == ("GET", "/x", "h", None)


def test_real_bare_lf_request_through_the_pipeline() -> None:
    """arkime-http-empty-useragent.pcap: IPv6 over BSD loopback, LF-only request split over 3 segments."""
    from collector.pipeline import replay as pipeline_replay
    from collector.sinks import ListSink

    sink = ListSink()
    pipeline_replay([real_pcap("arkime-http-empty-useragent.pcap")], sink, key=TEST_KEY)
    found = [o for o in sink.observations if o.kind == "http"]
    assert any(o.method == "GET" and o.path == "/" and o.user_agent is None for o in found)
    assert any(o.status == 200 for o in found)
