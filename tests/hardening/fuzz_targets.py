"""Fuzz targets: the per-frame path of the pipeline (collector.decode + tables + deep path) and every detector.

Contract under test (contracts.md): malformed input never raises out of the
per-frame boundary; a detector may only raise the "malformed" exceptions the
pipeline counts (collector.deep.MALFORMED), and its probe never raises.

Run coverage-guided with atheris (libFuzzer) as a script:
    python -m tests.hardening.fuzz_targets frame -runs=20000 -artifact_prefix=out/
    python -m tests.hardening.fuzz_targets detector -runs=20000 corpus_dir/
The suite (tests/hardening/test_fuzz_decoder.py) runs it briefly, plus hypothesis.
"""

from __future__ import annotations

import struct
import sys
from collections.abc import Callable
from typing import Any

from tests.keys import TEST_KEY

LINKTYPES = (1, 1, 1, 1, 0, 9, 12, 14, 101, 105, 108, 113, 119, 127, 163, 228, 229, 276)
"""Link types the fuzzer picks from (first byte of the input); Ethernet is weighted up."""


class Target:
    """Lazily imports the collector (so atheris can instrument it first)."""

    def __init__(self) -> None:
        from collector.decode import Decoder
        from collector.deep import MALFORMED
        from collector.pipeline import Pipeline
        from collector.protocols.base import Packet, SimpleContext
        from collector.registry import all_detectors
        from collector.sinks import CountingSink

        self.Decoder, self.Pipeline, self.CountingSink = Decoder, Pipeline, CountingSink

        self.malformed = MALFORMED
        self.detectors = all_detectors()
        self.Packet = Packet
        self.SimpleContext = SimpleContext

    def frame(self, data: bytes) -> None:
        """Input = [linktype selector][u16 len][frame]...: every frame through one Pipeline, then close()."""
        if not data:
            return
        linktype = LINKTYPES[data[0] % len(LINKTYPES)]
        frames = []
        rest = data[1:]
        while rest and len(frames) < 16:
            if len(rest) < 2:
                frames.append(rest)
                break
            (size,) = struct.unpack_from(">H", rest)
            frames.append(rest[2:2 + size])
            rest = rest[2 + size:]
        self.Decoder().decode(frames[0] if frames else b"", linktype)  # the bare decoder never raises either
        pipe = self.Pipeline(sensor="fuzz", key=TEST_KEY, sink=self.CountingSink(), detectors=self.detectors, flush_interval=1.0)
        for n, frame in enumerate(frames):
            pipe.feed((1_700_000_000.0 + n * 0.4, linktype, frame, len(frame), n + 1, "fuzz", 0))
        stats = pipe.close()
        assert stats.packets == len(frames)

    def detector(self, data: bytes) -> None:
        """Input = [detector selector][flags][payload]: probe then decode one detector on a plausible packet."""
        if len(data) < 2:
            return
        det = self.detectors[data[0] % len(self.detectors)]
        flags = data[1]
        payload = data[2:]
        layer = str(det.layer)
        port = sorted(det.ports)[flags % len(det.ports)] if det.ports else 40000 + flags
        transport = "udp" if layer.endswith("udp") else "tcp" if "tcp" in layer else None
        client_is_src = bool(flags & 0x80)
        pkt = self.Packet(
            ts=1_700_000_000.0, frame_no=1, source="fuzz", vlan=110 if flags & 1 else None,
            src_mac="02:00:00:00:00:01", dst_mac=sorted(det.dst_macs)[0] if det.dst_macs else "02:00:00:00:00:02",
            ethertype=sorted(det.ethertypes)[0] if det.ethertypes else 0x0800,
            src_ip="10.10.110.5", dst_ip="10.50.0.20", ip_ttl=64, transport=transport,
            src_port=50000 if client_is_src else port, dst_port=port if client_is_src else 50000,
            tcp_flags=0x02 if "syn" in layer else 0x18, tcp_window=flags * 257, tcp_options=payload[:40] if "syn" in layer else b"",
            payload=payload, from_client=client_is_src, client_ip="10.10.110.5", server_ip="10.50.0.20", server_port=port,
            wifi=bool(flags & 2),
        )
        det.probe(payload)  # must never raise (the pipeline ignores a raising probe, but it is a bug)
        ctx = self.SimpleContext()
        try:
            records = list(det.decode(pkt, ctx))
        except self.malformed:
            return
        for rec in records:
            type(rec).model_validate(rec.model_dump())  # every record it builds is a valid observation


TARGETS: dict[str, Callable[[Target], Callable[[bytes], None]]] = {
    "frame": lambda t: t.frame,
    "detector": lambda t: t.detector,
}


def main(argv: list[str]) -> None:
    import atheris

    name = argv[1]
    with atheris.instrument_imports(include=["collector"]):
        target = TARGETS[name](Target())
    atheris.Setup([argv[0], *argv[2:]], target)
    atheris.Fuzz()


def seed_corpus(folder: Any, pcaps: list[Any], limit: int = 400) -> int:
    """Write fuzz seeds (one Ethernet frame each, `frame` target format) from capture files; returns how many."""
    from collector.sources import open_capture

    n = 0
    for pcap in pcaps:
        for raw in open_capture(pcap):
            if raw.linktype != 1 or len(raw.data) > 4000:
                continue
            (folder / f"seed-{n:05d}").write_bytes(b"\x00" + struct.pack(">H", len(raw.data)) + raw.data)
            n += 1
            if n >= limit:
                return n
    return n


def seed_detector_corpus(folder: Any, pcaps: list[Any], limit: int = 600) -> int:
    """Seeds for the `detector` target: the L4 payload of capture frames, addressed to each detector on their port."""
    from collector import decode as d
    from collector.registry import all_detectors
    from collector.sources import open_capture

    dets = all_detectors()
    dec = d.Decoder()
    n = 0
    for pcap in pcaps:
        for raw in open_capture(pcap):
            h = dec.decode(raw.data, raw.linktype)
            if h is None or h[d.POFF] is None:
                continue
            payload = raw.data[h[d.POFF]:h[d.PEND]]
            for i, det in enumerate(dets):
                ports = sorted(det.ports)
                for port in (h[d.SPORT], h[d.DPORT]):
                    if payload and (port in det.ports or det.any_port and det.probe(payload)):
                        flags = (ports.index(port) if port in ports else 0) | (0x80 if port == h[d.DPORT] else 0)
                        (folder / f"seed-{n:05d}").write_bytes(bytes([i, flags]) + payload[:4000])
                        n += 1
                        if n >= limit:
                            return n
                        break
    return n


def run_one(name: str, data: bytes) -> Any:
    """Replay one input through a target (regression fixtures, hypothesis)."""
    return TARGETS[name](Target())(data)


if __name__ == "__main__":
    main(sys.argv)
