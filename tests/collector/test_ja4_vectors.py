"""JA4 against FoxIO's published test vectors (FoxIO-LLC/ja4: pcap/ and python/test/testdata/).

tests/collector/data/ja4_foxio_vectors.json holds, for each distinct raw JA4 of the TLS-over-TCP
ClientHellos of those captures (160 hellos, 14 distinct), the hello as it was on the wire (TLS
records from the first one) and FoxIO's expected JA4; its `origin` names the repository commit.  It
was written by tests/collector/data/make_ja4_vectors.py from a checkout of that repository (tshark
reads the captures; no FoxIO code is used).  Each hello goes through the detector's own parsing.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from collector.protocols import tls

DATA = json.loads((Path(__file__).parent / "data" / "ja4_foxio_vectors.json").read_text(encoding="utf-8"))
VECTORS: list[dict[str, Any]] = DATA["vectors"]


def test_the_vectors_name_their_origin_and_cover_the_alpn_cases() -> None:
    assert DATA["origin"].startswith("github.com/FoxIO-LLC/ja4 commit ") and len(VECTORS) >= 10
    alpn = {v["ja4"][8:10] for v in VECTORS}
    assert {"h2", "h1", "00", "99"} <= alpn


@pytest.mark.parametrize("vector", VECTORS,
                         ids=[f"{v['capture']}#{v['stream']}.{v['hello']}" for v in VECTORS])
def test_ja4_matches_foxio(vector: dict[str, Any]) -> None:
    hello = tls.parse_hello(tls.handshake_bytes(bytes.fromhex(vector["record_hex"])))
    assert hello.kind == 1
    got = tls.ja4(hello)
    assert got == vector["ja4"], f"{got} != {vector['ja4']} (raw {vector['ja4_r']})"
    # the raw form names what went into each part: the sorted ciphers and extensions must agree too
    raw_a, raw_ciphers, raw_exts = vector["ja4_r"].split("_")[:3]
    ciphers = sorted(f"{c:04x}" for c in hello.ciphers if not tls.is_grease(c))
    assert (got.split("_")[0], ",".join(ciphers)) == (raw_a, raw_ciphers)
    exts = sorted(f"{e:04x}" for e in hello.extensions if not tls.is_grease(e) and e not in (0, 16))
    assert ",".join(exts) == raw_exts
