"""Replay scapy packets or a capture file through the real collector pipeline, for detector tests.

One helper for every detector test (it replaces the three stand-in deep paths the detector
tests used before collector/pipeline.py existed): frames go through `collector.pipeline.Pipeline`,
optionally with only some detectors, and the test gets the observations, the run's
`CaptureStats` (its `weirds` are what a `SimpleContext` used to count) and the frames the
detectors re-injected through `ctx.inner_frame` (CAPWAP/LWAPP/Aruba GRE decapsulation).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import Any

from collector.decode import Decoder
from collector.deep import MALFORMED
from collector.pcapfile import ReadStats
from collector.pipeline import Pipeline
from collector.protocols.base import Detector
from collector.schema import CaptureStats, Observation
from collector.sinks import ListSink
from collector.sources import FrameSource, RawFrame
from tests.keys import TEST_KEY

__all__ = ["AGGREGATE_KINDS", "MALFORMED", "Replayed", "detectors_of", "frames_of", "l2_payload", "observations",
           "run"]

AGGREGATE_KINDS = frozenset({"host", "conversation", "stats", "weird"})
"""Records the pipeline itself emits (fast path tables, run counters, first weird of a name)."""


class _RecordingPipeline(Pipeline):
    """The real pipeline, also remembering each frame a detector re-injects."""

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.inner: list[tuple[bytes, int, str]] = []

    def inner_frame(self, data: bytes, linktype: int, tunnel: str, ts: float, frame_no: int) -> None:
        self.inner.append((data, linktype, tunnel))
        super().inner_frame(data, linktype, tunnel, ts, frame_no)


@dataclass
class Replayed:
    """What one replay produced."""

    observations: list[Observation]
    stats: CaptureStats
    inner: list[tuple[bytes, int, str]] = field(default_factory=list)

    @property
    def weirds(self) -> dict[str, int]:
        return dict(self.stats.weirds)

    def of_kind(self, *kinds: str) -> list[Observation]:
        """Observations of these kinds; with no kind, the detector records (no host/conversation/stats/weird)."""
        if kinds:
            return [o for o in self.observations if o.kind in kinds]
        return [o for o in self.observations if o.kind not in AGGREGATE_KINDS]


def frames_of(packets: Iterable[Any], source: str = "test") -> list[RawFrame]:
    """Scapy packets as the pipeline's `RawFrame`s (link type from the packet's outer layer)."""
    from scapy.config import conf

    out = []
    for frame_no, pkt in enumerate(packets, start=1):
        data = bytes(pkt)
        linktype = conf.l2types.layer2num.get(type(pkt), 1)
        out.append(RawFrame(float(pkt.time), linktype, data, len(data), frame_no, source))
    return out


def run(
    capture: Path | str | Sequence[Any],
    detectors: Iterable[Detector] | None = None,
    *,
    limit: int | None = None,
    key: bytes = TEST_KEY,
) -> Replayed:
    """Replay a capture file (its first `limit` frames) or a list of scapy packets through the pipeline.

    `detectors` defaults to every registered detector; pass a few to test them alone.
    """
    sink = ListSink()
    read_stats = ReadStats()
    # one record per decoded frame (no fact merging): the cross-checks compare frame by frame with Wireshark
    pipe = _RecordingPipeline(sink=sink, key=key, read_stats=read_stats, merge_facts=False,
                              detectors=None if detectors is None else list(detectors))
    if isinstance(capture, (str, Path)):
        frames: Iterable[Sequence[Any]] = FrameSource([capture], read_stats)
    else:
        frames = frames_of(capture)
    for frame in islice(frames, limit):
        pipe.feed(frame)
    stats = pipe.close()
    return Replayed(observations=sink.observations, stats=stats, inner=pipe.inner)


def observations(
    capture: Path | str | Sequence[Any],
    detectors: Iterable[Detector] | None = None,
    *,
    kind: str | None = None,
    limit: int | None = None,
) -> list[Observation]:
    """The observations of a replay: all of `kind`, or the detector records when `kind` is None."""
    result = run(capture, detectors, limit=limit)
    return result.of_kind(kind) if kind else result.of_kind()


def detectors_of(*modules: Any) -> list[Detector]:
    """The detectors that protocol modules export (`DETECTOR` or `DETECTORS`), in module order."""
    out: list[Detector] = []
    for module in modules:
        out.extend(getattr(module, "DETECTORS", None) or [module.DETECTOR])
    return out


def l2_payload(frame: bytes) -> bytes | None:
    """What the pipeline hands an ether-layer detector for this Ethernet frame (after MACs, VLAN tags
    and, for 802.3 frames, the length field); None when the fast path cannot read the frame."""
    h = Decoder().decode(frame, 1)
    return None if h is None else frame[h[5]:]
