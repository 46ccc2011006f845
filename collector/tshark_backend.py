"""Optional deep-dissection backend (`--dissector tshark`): label unidentified conversations with tshark.

medtap's own detectors identify the protocols a hospital segmentation audit needs; everything else
stays a conversation with `app=None`.  When the operator asks for it, this module runs Wireshark's
tshark over the same capture files and labels each such conversation with the highest protocol
tshark dissected in its frames, as `app="tshark:<proto>"` (e.g. `tshark:modbus`, `tshark:tds`).
It is never on the default path: tshark's ~3000 dissectors parse untrusted traffic in C, which is
exactly the attack surface the default sensor avoids, and it is much slower than the fast path.

Implementation: one `tshark -n -r FILE -T fields -e frame.protocols -e ip.src ...` subprocess per
file, read line by line (constant memory), not pyshark.  pyshark drives the same tshark binary but
asks it for PDML/JSON of every packet and builds Python objects per layer; measured on
zeek-modbusBig.pcap (13 622 frames, 1.2 MB) it took 34.3 s against 0.64 s for the `-T fields`
subprocess (~50x), and it brings nothing we need: the only facts used are the protocol stack
(`frame.protocols`), addresses and ports.  pyshark stays a test dependency only.

Matching: `frame.protocols` is walked layer by layer; every IP layer (`ip` or `ipv6`, so tunnelled
inner packets count too) gives a candidate (src, dst, ports, transport), where the transport is the
next layer (`tcp`, `udp`, `sctp`, else `other`), and the protocol of that candidate is the last
non-generic layer between its transport and the next IP layer (so a CAPWAP or VXLAN outer
conversation is labelled with the tunnel, the inner one with what it carries; `data`, link layers,
media types, ASN.1 modules and `_ws.*` markers are generic).  A frame votes for the conversation
(client_ip, server_ip, server_port, transport) it matches in either direction; each conversation
takes its most voted protocol (ties: first seen).  Dissection stops at ICMP: the packet quoted in an
ICMP error is not the ICMP conversation's content.

PHI: only addresses, ports and protocol filter names are read from tshark; only the protocol name
enters a record.  No field value, no payload byte.
"""

from __future__ import annotations

import ipaddress
import logging
import shutil
import subprocess
import tempfile
from collections import Counter, defaultdict
from collections.abc import Iterator, Sequence
from pathlib import Path

from collector.schema import Conversation, Observation
from collector.sources import expand

log = logging.getLogger(__name__)

MISSING = "tshark not found: install the Debian package tshark or drop --dissector tshark"

FIELDS = ("frame.protocols", "ip.src", "ip.dst", "ipv6.src", "ipv6.dst", "tcp.srcport", "tcp.dstport",
          "udp.srcport", "udp.dstport", "sctp.srcport", "sctp.dstport")
IP_LAYERS = ("ip", "ipv6")
PORT_LAYERS = ("tcp", "udp", "sctp")
STOP_LAYERS = ("icmp", "icmpv6")
GENERIC = frozenset({
    "eth", "ethertype", "vlan", "llc", "snap", "sll", "null", "raw", "loop", "ppp", "pppoes", "pppoed",
    "mpls", "wlan", "wlan_radio", "radiotap", "frame", "data", "data-text-lines", "media", "json", "xml",
    "urlencoded-form", "mime_multipart", "png", "ber", "per", "cms", "tcp", "udp", "sctp", "ip", "ipv6",
})
GENERIC_PREFIXES = ("_ws.", "x509", "pkix", "pkcs", "image-", "ipv6.", "ip.")

ConvKey = tuple[str, str, int | None, str]


def available() -> bool:
    """True when a tshark binary is on PATH."""
    return shutil.which("tshark") is not None


def _tshark() -> str:
    path = shutil.which("tshark")
    if path is None:
        raise RuntimeError(MISSING)
    return path


def _norm_ip(text: str) -> str | None:
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        return None


def _port(values: list[str], index: int) -> int | None:
    try:
        return int(values[index])
    except (IndexError, ValueError):
        return None


def _generic(layer: str) -> bool:
    return layer in GENERIC or layer.startswith(GENERIC_PREFIXES)


def _top(layers: list[str]) -> str | None:
    """Last non-generic layer name of a segment of the protocol stack."""
    for layer in reversed(layers):
        if layer and not _generic(layer):
            return layer
    return None


Candidate = tuple[str, str, int | None, int | None, str, str]


def frame_candidates(fields: dict[str, list[str]]) -> Iterator[Candidate]:
    """(src, dst, src_port, dst_port, transport, proto) for each IP layer of one frame that has a proto.

    `fields` maps a tshark field name to its occurrences (outermost first).
    """
    layers = fields.get("frame.protocols", [""])[0].split(":")
    seen: Counter[str] = Counter()
    for k, layer in enumerate(layers):
        if layer in STOP_LAYERS:
            return
        index = seen[layer]
        seen[layer] += 1
        if layer not in IP_LAYERS:
            continue
        srcs, dsts = fields.get(layer + ".src", []), fields.get(layer + ".dst", [])
        if index >= len(srcs) or index >= len(dsts):
            continue
        src, dst = _norm_ip(srcs[index]), _norm_ip(dsts[index])
        j = k + 1
        while j < len(layers) and layers[j].startswith(("ipv6.", "ip.")):  # IPv6 extension headers
            j += 1
        nxt = layers[j] if j < len(layers) else ""
        end = next((m for m in range(j, len(layers)) if layers[m] in IP_LAYERS), len(layers))
        sport = dport = None
        if nxt in PORT_LAYERS:
            pos = layers[:j].count(nxt)  # occurrence index of that L4 layer among the frame's fields
            sport = _port(fields.get(nxt + ".srcport", []), pos)
            dport = _port(fields.get(nxt + ".dstport", []), pos)
            transport, segment = nxt, layers[j + 1:end]
        elif nxt in STOP_LAYERS:
            continue
        else:
            transport, segment = "other", layers[j:end]
        proto = _top(segment)
        if src is not None and dst is not None and proto is not None:
            yield src, dst, sport, dport, transport, proto


def _frames(tshark: str, path: Path, limit: int | None) -> Iterator[dict[str, list[str]]]:
    """Field occurrences of each frame of one file, streamed from a tshark subprocess."""
    cmd = [tshark, "-n", "-r", str(path), "-T", "fields", "-E", "separator=/t", "-E", "occurrence=a",
           "-E", "aggregator=,", "-E", "quote=n"]
    if limit is not None:
        cmd += ["-c", str(limit)]
    for name in FIELDS:
        cmd += ["-e", name]
    # stderr goes to a file, not a pipe: a chatty tshark must never block on a full pipe nobody reads
    with tempfile.TemporaryFile("w+", errors="replace") as err, subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=err, text=True, errors="replace"
    ) as proc:
        for line in proc.stdout or ():
            values = line.rstrip("\n").split("\t")
            yield {name: values[i].split(",") if i < len(values) and values[i] else []
                   for i, name in enumerate(FIELDS)}
        proc.wait()
        err.seek(0)
        stderr = err.read(4096)
    if proc.returncode != 0:
        # e.g. a capture cut short: the frames before the cut were used; say so, never fail the run.
        reason = next((ln for ln in stderr.splitlines() if ln and "Running as user" not in ln), "")
        log.warning("tshark exited %s on %s: %s", proc.returncode, path, reason[:200])


def _protocols(paths: Sequence[Path], wanted: set[ConvKey], max_frames: int | None) -> dict[ConvKey, str]:
    tshark = _tshark()
    votes: dict[ConvKey, Counter[str]] = defaultdict(Counter)
    budget = max_frames
    for path in expand(paths):
        if budget is not None and budget <= 0:
            break
        for fields in _frames(tshark, path, budget):
            if budget is not None:
                budget -= 1
            for src, dst, sport, dport, transport, proto in frame_candidates(fields):
                for key in {(src, dst, dport, transport), (dst, src, sport, transport)}:
                    if key in wanted:
                        votes[key][proto] += 1
    return {key: counter.most_common(1)[0][0] for key, counter in votes.items() if counter}


def _key(conv: Conversation) -> ConvKey | None:
    client, server = _norm_ip(conv.client_ip), _norm_ip(conv.server_ip)
    if client is None or server is None or conv.transport is None:
        return None
    return client, server, conv.server_port, conv.transport


def enrich_with_tshark(
    paths: Sequence[Path], observations: list[Observation], *, max_frames: int | None = None
) -> list[Observation]:
    """Observations with each unidentified conversation (`app` None) labelled `tshark:<proto>` when tshark
    dissected an application protocol in its frames; every other record is returned unchanged, in order.
    A conversation key that medtap labelled in any of its records (e.g. in a later flush period) is left
    alone, so one conversation never carries both a medtap and a tshark label.

    `paths` are the capture files (or folders) the observations came from; `max_frames` caps the frames
    tshark reads over all files.  Raises RuntimeError when tshark is not installed.
    """
    _tshark()
    wanted: set[ConvKey] = set()
    identified: set[ConvKey] = set()  # a medtap label on any record of a key (another flush period) wins
    for obs in observations:
        if isinstance(obs, Conversation) and (key := _key(obs)) is not None:
            (wanted if obs.app is None else identified).add(key)
    wanted -= identified
    if not wanted:
        return list(observations)
    found = _protocols([Path(p) for p in paths], wanted, max_frames)
    out: list[Observation] = []
    for obs in observations:
        if isinstance(obs, Conversation) and obs.app is None:
            key = _key(obs)
            if key is not None and key in found:
                obs = obs.model_copy(update={"app": f"tshark:{found[key]}"})
        out.append(obs)
    return out
