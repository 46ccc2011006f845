"""Live capture on a veth pair in a network namespace equals the replay of the same frames.

A capture built from the demo fixtures (DICOM association, HL7 over MLLP, IntelliVue UDP, ARP,
VLAN-tagged) is written to a pcap, sent with scapy `sendp` from inside the namespace, and captured
by `collector.live.capture` on the host end.  Hosts, conversations and detector records (without
times, which are wall-clock live) must equal those of `replay` on the same file; the 802.1Q tags
the kernel strips into auxdata must come back.  Needs root and `ip netns`: skipped otherwise.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from scapy.layers.l2 import ARP, Dot1Q, Ether
from scapy.utils import wrpcap

from collector.pipeline import replay
from collector.schema import Observation
from collector.sinks import ListSink
from tests import needs
from tests.keys import TEST_KEY

VOLATILE = {"ts", "first_ts", "last_ts", "source", "frame_no", "sensor"}


def _ip(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ip", *args], capture_output=True, text=True, timeout=30)


@pytest.fixture
def veth() -> Any:
    if os.geteuid() != 0:
        needs.missing("root (netns, veth, AF_PACKET)", "run the suite as root, as CI does")
    needs.tool("ip", "iproute2")
    if _ip("netns", "list").returncode != 0:
        needs.missing("ip netns", "a kernel with network namespaces")
    tag = f"{os.getpid() % 100000}"
    ns, host_end, ns_end = f"mt-{tag}", f"mth{tag}", f"mtn{tag}"
    if _ip("netns", "add", ns).returncode != 0:
        needs.missing("a network namespace", "ip netns add failed")
    try:
        steps = [
            ("link", "add", host_end, "type", "veth", "peer", "name", ns_end),
            ("link", "set", ns_end, "netns", ns),
        ]
        for step in steps:
            r = _ip(*step)
            assert r.returncode == 0, r.stderr
        # no IPv6 autoconfiguration noise (router/neighbour solicitations) on either end
        subprocess.run(["sysctl", "-qw", f"net.ipv6.conf.{host_end}.disable_ipv6=1"], check=False)
        subprocess.run(["ip", "netns", "exec", ns, "sysctl", "-qw", f"net.ipv6.conf.{ns_end}.disable_ipv6=1"], check=False)
        assert _ip("link", "set", host_end, "up").returncode == 0
        assert _ip("netns", "exec", ns, "ip", "link", "set", ns_end, "up").returncode == 0
        yield ns, host_end, ns_end
    finally:
        _ip("link", "del", host_end)
        _ip("netns", "del", ns)


def _demo_frames() -> list[Any]:
    from pcaps.fixtures.gen_medical import dicom_associate, hl7_oru, intellivue_connect

    arp = Ether(src="00:09:fb:20:00:50", dst="ff:ff:ff:ff:ff:ff") / Dot1Q(vlan=120) / ARP(
        hwsrc="00:09:fb:20:00:50", psrc="10.10.120.50", pdst="10.10.120.1")
    return [arp] + dicom_associate() + hl7_oru() + intellivue_connect()


def _summary(observations: list[Observation]) -> dict[str, Any]:
    hosts: Counter[tuple[Any, ...]] = Counter()
    host_bytes: Counter[tuple[Any, ...]] = Counter()
    convs: Counter[tuple[Any, ...]] = Counter()
    records: Counter[str] = Counter()
    apps: set[tuple[Any, ...]] = set()
    for o in observations:
        if o.kind == "host":
            hosts[(o.mac, o.ip, o.vlan)] += o.frames
            host_bytes[(o.mac, o.ip, o.vlan)] += o.bytes
        elif o.kind == "conversation":
            key = (o.vlan, o.transport, o.client_ip, o.server_ip, o.server_port)
            convs[key + ("c2s",)] += o.packets_c2s
            convs[key + ("s2c",)] += o.packets_s2c
            if o.app:
                apps.add(key + (o.app,))
        elif o.kind not in ("stats", "weird"):
            records[o.model_dump_json(exclude=VOLATILE)] += 1
    return {"hosts": hosts, "bytes": host_bytes, "convs": convs, "records": records, "apps": apps}


def _live_equals_replay(veth: tuple[str, str, str], tmp_path: Path, **options: Any) -> Any:
    """Capture the demo frames sent through the veth pair with `options`; they must equal their replay."""
    from collector.live import capture

    ns, host_end, ns_end = veth
    pcap = tmp_path / "demo.pcap"
    wrpcap(str(pcap), _demo_frames())
    expected = ListSink()
    replay([pcap], expected, key=TEST_KEY)

    live = ListSink()
    stop, ready = threading.Event(), threading.Event()
    result: dict[str, Any] = {}
    thread = threading.Thread(target=lambda: result.update(
        stats=capture(host_end, live, key=TEST_KEY, stop_event=stop, flush_interval=60.0, on_ready=ready.set,
                      **options)))
    thread.start()
    try:
        assert ready.wait(60)  # sockets bound, promiscuous, rings mapped
        _send(ns, ns_end, pcap, host_end)
        time.sleep(0.2)  # received: in the ring (or the socket) well within that
    finally:
        stop.set()
        thread.join(timeout=30)
    stats = result["stats"]
    assert stats.packets == len(_demo_frames()) and stats.queue_drops == 0 and stats.kernel_drops == 0
    want, got = _summary(expected.observations), _summary(live.observations)
    assert got["hosts"] == want["hosts"]
    assert got["bytes"] == want["bytes"]
    assert got["convs"] == want["convs"]
    assert got["apps"] == want["apps"] and want["apps"]
    assert got["records"] == want["records"]
    assert any(k[2] == 120 for k in got["hosts"])  # VLAN restored from the ring's packet header (or auxdata)
    return stats


@pytest.mark.netns
@pytest.mark.parametrize("workers", [1, 2])
def test_live_capture_equals_replay(veth: tuple[str, str, str], tmp_path: Path, workers: int) -> None:
    """One socket, or two worker processes with their sockets in one PACKET_FANOUT group (issue 15),
    each read through its TPACKET_V3 ring."""
    stats = _live_equals_replay(veth, tmp_path, workers=workers)
    assert "capture_ring_unavailable" not in stats.weirds
    if workers > 1:
        assert len(stats.workers) == workers and sum(stats.workers) == stats.packets


def test_no_ring_asked_for_is_not_a_failure() -> None:
    """ring_bytes=0 (MEDTAP_CAPTURE_RING_MIB=0) reads one frame per recvmsg, as asked: no weird.  That path's
    records equal the replay's: the refused-ring test below runs it on the veth pair."""
    from collector.live import open_ring

    assert open_ring(None, 0, 65535) == (None, "")  # type: ignore[arg-type]  # the socket is not touched


@pytest.mark.netns
def test_a_refused_ring_falls_back_to_recvmsg_and_says_so(veth: tuple[str, str, str], tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """A kernel refusing PACKET_RX_RING (old, or a locked-memory limit): the capture still equals the replay,
    and its stats carry the weird capture_ring_unavailable with the kernel's reason."""
    import errno

    import collector.live

    def refuse(*args: Any, **kwargs: Any) -> None:
        raise OSError(errno.ENOMEM, "Cannot allocate memory")

    monkeypatch.setattr(collector.live, "Ring", refuse)
    stats = _live_equals_replay(veth, tmp_path)
    assert stats.weirds.get("capture_ring_unavailable") == 1


@pytest.mark.netns
def test_engine_reads_through_its_ring_with_kernel_times(veth: tuple[str, str, str], tmp_path: Path) -> None:
    """The engine maps a ring of the asked size, and each frame is stamped when the kernel received it."""
    from collector.live import Engine

    ns, host_end, ns_end = veth
    pcap = tmp_path / "demo.pcap"
    wrpcap(str(pcap), _demo_frames())
    engine = Engine(host_end, ListSink(), bpf=None, snaplen=65535, flush_interval=60.0, sensor="", key=TEST_KEY,
                    ring_bytes=8 << 20)
    try:
        assert engine.ring is not None and engine.ring.size == 8 << 20 and engine.reader is None
        engine.start()
        before = time.time()
        _send(ns, ns_end, pcap, host_end)
        sent = time.time()
        time.sleep(0.2)  # the last block retired (50 ms after its first frame)
        while engine.ring.ready(0.0):
            engine.pump(0.0)
    finally:
        stats = engine.finish()
    assert stats.packets == len(_demo_frames()) and stats.queue_drops == 0 and not stats.weirds
    assert stats.first_ts is not None and stats.last_ts is not None
    assert before <= stats.first_ts <= stats.last_ts <= sent  # not when the pump read them, half a second later


@pytest.mark.netns
def test_bpf_filter_chooses_what_reaches_the_ring(veth: tuple[str, str, str], tmp_path: Path) -> None:
    """--bpf is attached to the socket: only the DICOM association's frames are in the ring."""
    from collector.live import capture
    from pcaps.fixtures.gen_medical import dicom_associate

    ns, host_end, ns_end = veth
    pcap = tmp_path / "demo.pcap"
    wrpcap(str(pcap), _demo_frames())
    stop, ready = threading.Event(), threading.Event()
    result: dict[str, Any] = {}
    thread = threading.Thread(target=lambda: result.update(
        stats=capture(host_end, ListSink(), key=TEST_KEY, stop_event=stop, bpf="tcp port 104", on_ready=ready.set)))
    thread.start()
    try:
        assert ready.wait(60)
        _send(ns, ns_end, pcap, host_end)
        time.sleep(0.2)
    finally:
        stop.set()
        thread.join(timeout=30)
    assert result["stats"].packets == len(dicom_associate()) < len(_demo_frames())


@pytest.mark.netns
@pytest.mark.parametrize("ring_bytes", [None, 0], ids=["ring", "recvmsg"])
def test_capture_ends_when_its_interface_goes_away(veth: tuple[str, str, str], tmp_path: Path,
                                                   ring_bytes: int | None) -> None:
    """A SPAN interface removed under the capture ends it (no stop asked), with the weird capture_interface_error
    and the frames seen before kept."""
    from collector.live import capture

    ns, host_end, ns_end = veth
    pcap = tmp_path / "demo.pcap"
    wrpcap(str(pcap), _demo_frames())
    live = ListSink()
    ready = threading.Event()
    result: dict[str, Any] = {}
    thread = threading.Thread(target=lambda: result.update(
        stats=capture(host_end, live, key=TEST_KEY, flush_interval=60.0, ring_bytes=ring_bytes, duration=60.0,
                      on_ready=ready.set)))
    thread.start()
    try:
        assert ready.wait(60)
        _send(ns, ns_end, pcap, host_end)
        time.sleep(0.2)
        assert _ip("link", "del", host_end).returncode == 0
        thread.join(timeout=20)
        assert not thread.is_alive(), "the capture did not notice its interface went away"
    finally:
        if thread.is_alive():
            thread.join(timeout=70)
    stats = result["stats"]
    assert stats.weirds.get("capture_interface_error") == 1
    assert stats.packets == len(_demo_frames())
    hosts = {(o.mac, o.vlan) for o in live.observations if o.kind == "host"}
    assert ("00:09:fb:20:00:50", 120) in hosts


def test_vlan_tag_is_restored_from_auxdata() -> None:
    from collector.live import AUXDATA, PACKET_AUXDATA, SOL_PACKET, restore_vlan
    from collector.ring import TP_STATUS_VLAN_VALID

    untagged = bytes(Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02", type=0x0800)) + b"\x45" + b"\x00" * 19
    aux = AUXDATA.pack(TP_STATUS_VLAN_VALID, len(untagged), len(untagged), 0, 0, 0x2000 | 120, 0)
    frame, length = restore_vlan(untagged, [(SOL_PACKET, PACKET_AUXDATA, aux)])
    assert frame[12:16] == b"\x81\x00\x20\x78" and frame[16:18] == b"\x08\x00" and length == len(untagged) + 4
    plain = AUXDATA.pack(0, len(untagged), len(untagged), 0, 0, 0, 0)
    assert restore_vlan(untagged, [(SOL_PACKET, PACKET_AUXDATA, plain)]) == (untagged, len(untagged))


def test_frame_time_is_the_kernels() -> None:
    """SO_TIMESTAMPNS: a frame is stamped when it arrived, not when a (busy) worker read it."""
    import socket

    from collector.live import SO_TIMESTAMPNS, TIMESPEC, unpack_frame

    frame = b"\x02" * 60
    stamp = (socket.SOL_SOCKET, SO_TIMESTAMPNS, TIMESPEC.pack(1_700_000_000, 250_000_000))
    assert unpack_frame(frame, [stamp]) == (frame, None, 1_700_000_000.25)
    assert unpack_frame(frame, []) == (frame, None, None)


def test_bpf_is_compiled_to_classic_bpf() -> None:
    from collector.live import compile_bpf

    insns = compile_bpf("tcp port 104")
    assert len(insns) % 8 == 0 and len(insns) >= 8 * 4
    codes = [int.from_bytes(insns[i : i + 2], "little") for i in range(0, len(insns), 8)]
    assert codes[0] == 0x28 and codes[-1] == 0x06  # ldh [12] ... ret


@contextlib.contextmanager
def _capturing(*args: str) -> Iterator[subprocess.Popen[bytes]]:
    """`medtap capture ARGS` as an operator runs it, ready to capture; stopped by SIGTERM, which must end it cleanly."""
    proc = subprocess.Popen([sys.executable, "-m", "api.cli", "capture", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    lines: list[bytes] = []
    ready = threading.Event()

    def read_stderr() -> None:  # the command says when its socket is bound: wait for that, not a guess
        assert proc.stderr is not None
        for line in proc.stderr:
            lines.append(line)
            if line.startswith(b"capturing on"):
                ready.set()

    reader = threading.Thread(target=read_stderr, daemon=True)
    reader.start()
    try:
        assert ready.wait(timeout=120), b"".join(lines).decode()
        assert proc.poll() is None, b"".join(lines).decode()
        yield proc
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
        reader.join(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, b"".join(lines).decode()[-2000:]


# The frames of a capture (read by medtap's own reader, collector.sources), each sent as it is on a raw AF_PACKET
# socket bound to the interface (what scapy's sendp does, without importing scapy: 1.5 s a send); prints how many.
_SENDER = """
import socket, sys
from collector.sources import open_capture
sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
sock.bind((sys.argv[2], 0))
sent = 0
for frame in open_capture(sys.argv[1]):
    assert sock.send(frame.data) == len(frame.data)
    sent += 1
print(sent)
"""


def _rx_packets(interface: str) -> int:
    return int(Path(f"/sys/class/net/{interface}/statistics/rx_packets").read_text())


def _send(ns: str, ns_end: str, pcap: Path, host_end: str) -> None:
    """Send the capture's frames from the namespace's end; return once the host's end has received them all
    (then within the ring's retire timeout, 50 ms, they are the capture's to read)."""
    before = _rx_packets(host_end)
    r = subprocess.run(["ip", "netns", "exec", ns, sys.executable, "-c", _SENDER, str(pcap), ns_end],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    sent = int(r.stdout)
    deadline = time.monotonic() + 30
    while _rx_packets(host_end) < before + sent:
        assert time.monotonic() < deadline, (before, sent, _rx_packets(host_end))
        time.sleep(0.01)


@pytest.mark.netns
def test_medtap_capture_command_stops_cleanly_on_sigterm_and_stores_everything(
    veth: tuple[str, str, str], tmp_path: Path
) -> None:
    """`medtap capture` as an operator runs it: SIGTERM flushes what was seen; the inventory shows it."""
    import json

    ns, host_end, ns_end = veth
    pcap = tmp_path / "demo.pcap"
    wrpcap(str(pcap), _demo_frames())
    db = f"sqlite:///{tmp_path / 'live.db'}"
    with _capturing("--interface", host_end, "--db", db, "--flush", "60"):
        _send(ns, ns_end, pcap, host_end)
        time.sleep(0.2)
    # the same `medtap inventory --json`, in this process (typer's CliRunner): one interpreter start less
    from typer.testing import CliRunner

    from api.cli import app

    inv = CliRunner().invoke(app, ["inventory", "--json", "--db", db])
    assert inv.exit_code == 0, inv.output
    devices = {d["mac"]: d for d in json.loads(inv.output)}
    assert 120 in devices["00:09:fb:20:00:50"]["vlans"]  # ARP frame, VLAN restored from auxdata
    assert any("dicom/client" in d["protocols"] for d in devices.values())


@pytest.mark.netns
def test_capture_shows_devices_and_findings_while_it_runs(veth: tuple[str, str, str], tmp_path: Path) -> None:
    """Issue 14: with --flush 2 the inventory and a finding are in the database within two flush periods,
    while `medtap capture` keeps running (no stop needed)."""

    from sqlmodel import Session

    from store.db import make_engine
    from store.records import list_devices, list_findings

    ns, host_end, ns_end = veth
    demo = Path(__file__).resolve().parents[2] / "pcaps" / "demo"
    db = f"sqlite:///{tmp_path / 'live.db'}"
    with _capturing("--interface", host_end, "--db", db, "--flush", "2", "--site", str(demo / "site.yaml")) as proc:
        _send(ns, ns_end, demo / "demo-remote.pcap", host_end)
        sent = time.monotonic()
        engine = make_engine(db)
        try:
            while True:
                with Session(engine) as session:
                    devices, _ = list_devices(session, limit=1000)
                    findings, _ = list_findings(session, limit=1000)
                if devices and any(f.rule == "remote-access-unapproved" for f in findings):
                    break
                assert time.monotonic() - sent < 2 * 2 + 1.0, (len(devices), [f.rule for f in findings])
                time.sleep(0.2)
        finally:
            engine.dispose()
        assert proc.poll() is None  # still capturing
