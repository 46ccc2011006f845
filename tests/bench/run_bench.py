"""`make bench`: medtap replay against dpkt, tshark -T fields and a naive scapy loop on one mix.

Not a test (pytest does not collect it).  Generates the deterministic 1M-frame hospital mix
(pcaps/make_bench_mix.py) if missing, then runs each contender in its own subprocess on one
core and reads its peak RSS (ru_maxrss) and the CPU seconds it and its processes used (user +
system): medtap replay with every registered detector (a counting sink), medtap with the fast path
only, a dpkt loop extracting the same header fields into a conversation dict, `tshark -T fields`
with the same fields (its output consumed into the same dict; tshark's own RSS is its child
ru_maxrss), and a naive scapy loop (full dissection) on the first
50,000 frames only, extrapolated.  Prints a table and writes /tmp/medtap-bench/results.json.

Usage: python tests/bench/run_bench.py [--pcap PATH] [--frames N] [--with-5m] [--best-of N] [--skip NAME ...]
       [--skip-central] [--central-sensors K] [--central-batches N] [--central-period S]
       [--skip-live] [--live-rate R] [--live-seconds S] [--live-workers N]

`medtap-replay-command` is the whole `medtap replay` command (start-up, decoding, SQLite, analysis, report):
what a user waits for; it also reports the store it leaves (SQLite file and facts' JSON, in bytes per
frame and per million frames).  `medtap-analysis-per-flush` replays the mix into the runner's database
sink and times the incremental analysis run after each flush period, as a live capture does.
`--with-5m` adds the same runs over the mix given five times (memory check).  Last, `central-ingest`
(not pinned, not a child: it forks its own sensor processes) feeds one central on PostgreSQL from K
simulated sensors and reports the records a second it sustains and the ingest-to-visible delays;
it is skipped, with a line saying so, when PostgreSQL is unreachable (or with --skip-central).
`medtap-replay-command-1w` and `-2w` run the whole command with --workers 1 on one core and
--workers 2 on two cores (issue 15: 2 workers at least 1.7x one); `medtap-2w` runs the collector alone
on 2 workers (two cores), to compare with `medtap` (one process, one core).  `live-no-loss` (in the driver,
root only) runs `medtap capture` on a veth pair while tcpreplay sends the first mix at --live-rate
frames/s for --live-seconds, and reports frames sent, received and dropped by the kernel, dropped
in medtap's queue and decoded.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:  # run as a script (make bench): tests/ is not on the path otherwise
    sys.path.insert(0, str(REPO))
BENCH_DIR = Path("/tmp/medtap-bench")
PROFILES = ("default", "identity")  # pcaps/make_bench_mix.py --profile: both mixes in every table
RESULTS = Path("/tmp/medtap-bench/results.json")
SCAPY_FRAMES = 50_000
TSHARK_FIELDS = ["vlan.id", "eth.src", "eth.dst", "ip.src", "ip.dst", "ip.proto", "tcp.srcport", "tcp.dstport",
                 "udp.srcport", "udp.dstport", "frame.len"]


# ----------------------------------------------------------------------------- contenders (run in a child)


def run_medtap(pcap: Path, repeat: int = 1, fast_only: bool = False) -> dict[str, Any]:
    from collector.pipeline import replay
    from collector.registry import all_detectors
    from collector.sinks import CountingSink
    from tests.keys import TEST_KEY

    detectors = [] if fast_only else list(all_detectors())  # imported before the clock starts
    sink = CountingSink()
    t = time.perf_counter()
    stats = replay([pcap] * repeat, sink, key=TEST_KEY, detectors=detectors)
    elapsed = time.perf_counter() - t
    return {"frames": stats.packets, "bytes": stats.bytes, "seconds": elapsed, "records": sink.counts,
            "weirds": stats.weirds, "conversations_seen": sink.counts.get("conversation", 0)}


def run_medtap_workers(pcap: Path, workers: int) -> dict[str, Any]:
    """The collector alone on `workers` processes (collector.parallel, a counting sink): how decoding scales
    with cores, apart from the storing and the analysis that the whole command adds in its main process."""
    from collector.parallel import replay_workers
    from collector.registry import all_detectors
    from collector.sinks import CountingSink
    from tests.keys import TEST_KEY

    detectors = list(all_detectors())  # imported before the clock starts, inherited by the workers
    sink = CountingSink()
    t = time.perf_counter()
    stats = replay_workers([pcap], sink, key=TEST_KEY, workers=workers, detectors=detectors)
    elapsed = time.perf_counter() - t
    return {"frames": stats.packets, "bytes": stats.bytes, "seconds": elapsed, "records": sink.counts,
            "workers": stats.workers}


def run_cli(pcap: Path, repeat: int = 1, workers: int | None = None) -> dict[str, Any]:
    """The whole `medtap replay` command as a user runs it: interpreter start, imports, decoding, storing every
    observation in a fresh SQLite file, the analysis and the report JSON (its RSS is the child's ru_maxrss:
    the largest of the command's processes, its workers included).  `workers`: its --workers (None: the
    default, every core the child may use)."""
    import tempfile

    medtap = Path(sys.executable).with_name("medtap")
    with tempfile.TemporaryDirectory(prefix="medtap-bench-") as tmp:
        cmd = [str(medtap), "replay", *[str(pcap)] * repeat, "--db", f"sqlite:///{tmp}/bench.db", "--quiet",
               "--report", f"{tmp}/report.json"]
        if workers is not None:
            cmd += ["--workers", str(workers)]
        t = time.perf_counter()
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, cwd=tmp)
        elapsed = time.perf_counter() - t
        report = json.loads(Path(tmp, "report.json").read_text())
        store = store_size(Path(tmp, "bench.db"))
    stats = report["stats"]
    frames = stats["packets"]
    store.update({f"{k}_per_frame": round(store[k] / frames, 2) if frames else None
                  for k in ("file_bytes", "fact_blob_bytes")})
    store.update({f"{k}_per_million_frames": round(store[k] * 1e6 / frames) if frames else None
                  for k in ("file_bytes", "fact_blob_bytes")})
    return {"frames": frames, "bytes": stats["bytes"], "seconds": elapsed, "workers": stats.get("workers") or [],
            "devices": len(report["devices"]), "findings": len(report["findings"]), "store": store,
            "child_maxrss_kib": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss}


def store_size(db: Path) -> dict[str, Any]:
    """What a replay left on disk: the SQLite file (with its WAL, if any) and the fact blobs in it.

    The store should grow with what is new on the network, not with frames (target: at most
    20 bytes of store a frame on the mix); sizes are read before sqlite3 opens the file (it adds a -shm).
    """
    import sqlite3

    file_bytes = sum(p.stat().st_size for p in db.parent.glob(db.name + "*"))
    with sqlite3.connect(db) as conn:
        blob_bytes, facts, observations = conn.execute(
            "SELECT coalesce(sum(length(blob)), 0), count(*), coalesce(sum(count), 0) FROM fact").fetchone()
    return {"file_bytes": file_bytes, "fact_blob_bytes": int(blob_bytes), "facts": int(facts),
            "observations": int(observations)}


def run_flush_analysis(pcap: Path) -> dict[str, Any]:
    """Incremental analysis as a running capture does it (store.loop.run_capture's `FlushAnalysis`).

    The mix is replayed through collector.pipeline.replay into the database sink of medtap's runner,
    which folds every stored batch into the digest; after each flush period of the collector
    (10 s of packet time) the analysis runs if it is due (store.freshness: new facts, a sheet or
    policy change, or the refresh period of packet time).  Each analysis that ran is timed: its cost
    should follow what is on the network (devices, conversations), not the frames seen so far.
    """
    import statistics
    import tempfile

    from collector.pipeline import replay
    from store.db import session_for
    from store.loop import FlushAnalysis, _DbSink
    from store.service import start_digest
    from tests.keys import TEST_KEY

    records: list[int] = []
    with tempfile.TemporaryDirectory(prefix="medtap-bench-") as tmp, \
            session_for(f"sqlite:///{tmp}/flush.db") as session:
        flushes = FlushAnalysis(session, site=None)
        stored = [0]

        def analyze_flush() -> None:
            records.append(sink.count - stored[0])
            stored[0] = sink.count
            flushes.run(sink)

        sink = _DbSink(session, "bench", digest=start_digest(session, site=None), on_flush=analyze_flush,
                       gate=flushes.gate)
        t = time.perf_counter()
        stats = replay([pcap], sink, sensor="bench", key=TEST_KEY)
        elapsed = time.perf_counter() - t
        span = (stats.last_ts or 0.0) - (stats.first_ts or 0.0)
    analyses = flushes.seconds
    return {"frames": stats.packets, "bytes": stats.bytes, "seconds": elapsed, "analyses": len(analyses),
            "flushes": len(records), "analyses_skipped": flushes.gate.skipped,
            "analysis_median_s": statistics.median(analyses) if analyses else None,
            "analysis_max_s": max(analyses) if analyses else None, "analysis_total_s": sum(analyses),
            "analysis_seconds": analyses, "records_per_flush": records,
            "packet_seconds": span, "records_per_packet_second": sink.count / span if span else None}


def _account(conv: dict[tuple[Any, ...], list[int]], key: tuple[Any, ...], size: int) -> None:
    entry = conv.get(key)
    if entry is None:
        conv[key] = [1, size]
    else:
        entry[0] += 1
        entry[1] += size


def run_dpkt(pcap: Path) -> dict[str, Any]:
    import dpkt

    conv: dict[tuple[Any, ...], list[int]] = {}
    n = nbytes = 0
    t = time.perf_counter()
    with open(pcap, "rb") as f:
        for _, buf in dpkt.pcap.Reader(f):
            n += 1
            nbytes += len(buf)
            eth = dpkt.ethernet.Ethernet(buf)
            vlan = eth.vlan_tags[-1].id if getattr(eth, "vlan_tags", None) else None
            ip = eth.data
            if not isinstance(ip, dpkt.ip.IP):
                continue
            l4 = ip.data
            sport = getattr(l4, "sport", None)
            dport = getattr(l4, "dport", None)
            a, b = (ip.src, sport), (ip.dst, dport)
            _account(conv, (vlan, ip.p) + (a + b if a <= b else b + a), len(buf))
    return {"frames": n, "bytes": nbytes, "seconds": time.perf_counter() - t, "conversations": len(conv)}


def run_tshark(pcap: Path) -> dict[str, Any]:
    cmd = ["tshark", "-n", "-r", str(pcap), "-T", "fields", "-E", "separator=\t", "-E", "occurrence=l"]
    for field in TSHARK_FIELDS:
        cmd += ["-e", field]
    conv: dict[tuple[Any, ...], list[int]] = {}
    n = nbytes = 0
    t = time.perf_counter()
    with subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, bufsize=1 << 20) as proc:
        assert proc.stdout is not None
        for line in proc.stdout:
            n += 1
            vlan, _, _, src, dst, proto, tsp, tdp, usp, udp_, size = line.rstrip("\n").split("\t")
            nbytes += int(size or 0)
            if not src:
                continue
            a, b = (src, tsp or usp), (dst, tdp or udp_)
            _account(conv, (vlan, proto) + (a + b if a <= b else b + a), int(size or 0))
    elapsed = time.perf_counter() - t
    child = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return {"frames": n, "bytes": nbytes, "seconds": elapsed, "conversations": len(conv), "tshark_maxrss_kib": child}


def run_scapy(pcap: Path, limit: int = SCAPY_FRAMES) -> dict[str, Any]:
    from scapy.layers.inet import IP, TCP, UDP
    from scapy.layers.l2 import Dot1Q, Ether
    from scapy.utils import PcapReader

    conv: dict[tuple[Any, ...], list[int]] = {}
    n = nbytes = 0
    t = time.perf_counter()
    for pkt in PcapReader(str(pcap)):
        n += 1
        size = len(pkt)
        nbytes += size
        vlan = pkt[Dot1Q].vlan if Dot1Q in pkt else None
        _ = pkt[Ether].src if Ether in pkt else None
        if IP in pkt:
            ip = pkt[IP]
            l4 = pkt[TCP] if TCP in pkt else pkt[UDP] if UDP in pkt else None
            a, b = (ip.src, getattr(l4, "sport", None)), (ip.dst, getattr(l4, "dport", None))
            _account(conv, (vlan, ip.proto) + ((a + b) if str(a) <= str(b) else (b + a)), size)
        if n >= limit:
            break
    return {"frames": n, "bytes": nbytes, "seconds": time.perf_counter() - t, "conversations": len(conv),
            "extrapolated": True}


CONTENDERS = {
    "medtap": lambda p: run_medtap(p),
    "medtap-fast-path-only": lambda p: run_medtap(p, fast_only=True),
    "medtap-2w": lambda p: run_medtap_workers(p, 2),
    "dpkt": run_dpkt,
    "tshark-fields": run_tshark,
    "scapy-naive": run_scapy,
    "medtap-5x-same-hosts": lambda p: run_medtap(p, repeat=5),
    "medtap-replay-command": lambda p: run_cli(p),
    "medtap-analysis-per-flush": run_flush_analysis,
    "medtap-replay-command-5x": lambda p: run_cli(p, repeat=5),
    "medtap-replay-command-1w": lambda p: run_cli(p, workers=1),
    "medtap-replay-command-2w": lambda p: run_cli(p, workers=2),
}
CORES = {"medtap-replay-command-2w": 2, "medtap-2w": 2}
"""Cores a contender's child may use (default one): the 2-worker command gets two, to compare with 1w."""


def _cpu_seconds() -> float:
    own, waited = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + waited.ru_utime + waited.ru_stime


def child(name: str, pcap: Path) -> None:
    if hasattr(os, "sched_setaffinity"):  # one core, or the contender's CORES
        os.sched_setaffinity(0, set(sorted(os.sched_getaffinity(0))[: CORES.get(name, 1)]))
    before = _cpu_seconds()
    result = CONTENDERS[name](pcap)
    # CPU time of the contender and of the processes it waited for (workers, the command): what a run costs
    # on a busy machine, where wall time also depends on the neighbours
    result["cpu_seconds"] = _cpu_seconds() - before
    result["maxrss_kib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps(result))


# ----------------------------------------------------------------------------- live capture (in the driver)


def _ip(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ip", *args], capture_output=True, text=True, timeout=30, check=False)


def run_live(pcap: Path, *, rate: int, seconds: float, workers: int | None) -> dict[str, Any]:
    """`medtap capture` on one end of a veth pair while tcpreplay sends the mix into the other at `rate` frames/s.

    The other end is in a network namespace of its own (as in tests/collector/test_live_capture.py);
    tcpreplay loops over the capture until it has sent rate x seconds frames.  Reported: frames sent
    (tcpreplay's "Actual"), received by the kernel on the capture end (its rx_packets counter),
    dropped by the kernel (PACKET_STATISTICS tp_drops, summed over the workers' sockets), dropped in
    medtap's queue, and decoded by medtap (the run's stats record, read from --observations).
    Needs root, iproute2 and tcpreplay; raises RuntimeError with the reason otherwise.
    """
    import shutil
    import tempfile
    import threading

    if os.geteuid() != 0:
        raise RuntimeError("needs root (veth pair, network namespace, AF_PACKET)")
    if shutil.which("tcpreplay") is None or shutil.which("ip") is None:
        raise RuntimeError("needs tcpreplay and iproute2 (make system-deps)")
    tag = f"{os.getpid() % 100000}"
    ns, host_end, ns_end = f"mtb-{tag}", f"mtbh{tag}", f"mtbn{tag}"
    if _ip("netns", "add", ns).returncode != 0:
        raise RuntimeError("ip netns add failed")
    try:
        for step in (("link", "add", host_end, "type", "veth", "peer", "name", ns_end), ("link", "set", ns_end, "netns", ns)):
            r = _ip(*step)
            if r.returncode != 0:
                raise RuntimeError(f"ip {' '.join(step)}: {r.stderr.strip()}")
        subprocess.run(["sysctl", "-qw", f"net.ipv6.conf.{host_end}.disable_ipv6=1"], check=False)
        subprocess.run(["ip", "netns", "exec", ns, "sysctl", "-qw", f"net.ipv6.conf.{ns_end}.disable_ipv6=1"], check=False)
        _ip("link", "set", host_end, "up")
        _ip("netns", "exec", ns, "ip", "link", "set", ns_end, "up")
        with tempfile.TemporaryDirectory(prefix="medtap-bench-live-") as tmp:
            obs = Path(tmp, "obs.jsonl")
            cmd = [sys.executable, "-m", "api.cli", "capture", "--interface", host_end, "--db", f"sqlite:///{tmp}/live.db",
                   "--flush", "10", "--observations", str(obs)]
            if workers is not None:
                cmd += ["--workers", str(workers)]
            env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
            proc = subprocess.Popen(cmd, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, cwd=tmp, env=env)
            ready = threading.Event()
            lines: list[bytes] = []

            def read_stderr() -> None:
                assert proc.stderr is not None
                for line in proc.stderr:
                    lines.append(line)
                    if line.startswith(b"capturing on"):
                        ready.set()

            threading.Thread(target=read_stderr, daemon=True).start()
            try:
                if not ready.wait(timeout=120):
                    raise RuntimeError("medtap capture did not start: " + b"".join(lines).decode()[-500:])
                rx = Path(f"/sys/class/net/{host_end}/statistics/rx_packets")
                rx_before = int(rx.read_text())
                frames = int(rate * seconds)
                started = time.perf_counter()
                sent = subprocess.run(["ip", "netns", "exec", ns, "tcpreplay", "-i", ns_end, "--pps", str(rate),
                                       "--loop", "0", "--limit", str(frames), str(pcap)],
                                      capture_output=True, text=True, timeout=seconds * 10 + 120, check=False)
                send_seconds = time.perf_counter() - started
                time.sleep(3.0)  # the capture's queue drains
                rx_after = int(rx.read_text())
                proc.send_signal(15)
                proc.wait(timeout=300)
            finally:
                if proc.poll() is None:
                    proc.kill()
            stats = json.loads(obs.read_text().splitlines()[-1])
    finally:
        _ip("link", "del", host_end)
        _ip("netns", "del", ns)
    actual = [ln for ln in sent.stdout.splitlines() if ln.strip().startswith("Actual:")]
    sent_frames = int(actual[0].split()[1]) if actual else None
    decoded = stats.get("packets", 0)
    return {"rate_asked": rate, "seconds_asked": seconds, "frames_sent": sent_frames, "send_seconds": send_seconds,
            "tcpreplay": " | ".join(ln.strip() for ln in sent.stdout.splitlines() if ln.strip())[-400:],
            "kernel_received": rx_after - rx_before, "kernel_dropped": stats.get("kernel_drops"),
            "queue_dropped": stats.get("queue_drops"), "decoded": decoded, "workers": stats.get("workers") or [],
            "lost": (sent_frames - decoded) if sent_frames is not None else None,
            "capture_exit": proc.returncode}


def live_line(live: dict[str, Any]) -> str:
    if "error" in live:
        return f"live no-loss: {live['error']}"
    return (f"live no-loss (medtap capture, workers {live['workers'] or 1}, tcpreplay --pps {live['rate_asked']:,} "
            f"for {live['seconds_asked']:g} s through a veth pair): sent {live['frames_sent']:,} in "
            f"{live['send_seconds']:.1f} s ({live['frames_sent'] / live['send_seconds']:,.0f} frames/s achieved; "
            f"tcpreplay falls behind on a busy machine), received by the kernel {live['kernel_received']:,}, dropped by the kernel "
            f"{live['kernel_dropped']}, dropped in medtap's queue {live['queue_dropped']}, decoded {live['decoded']:,}"
            f" (lost {live['lost']})")


# ----------------------------------------------------------------------------- central ingest (in the driver)


PG_URL = os.environ.get("MEDTAP_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def run_central_ingest(*, sensors: int, batches: int, new_devices: int, repeats: int,
                       period: float) -> dict[str, Any]:
    """One central on PostgreSQL fed by `sensors` sensor processes (tests/api/central_load.py).

    Period 0 (the default) posts each batch as soon as the previous one is acknowledged: the records
    a second acknowledged over the whole run are what one central sustains (each a record a sensor
    sent, merged into the facts), and the ingest-to-visible delays (POST sent -> the batch's new
    devices listed by GET /devices?q=) include the queue that builds when the sensors outpace it.
    The central (uvicorn, web UI, background analysis every 1 s) runs in this process; the sensors
    in processes forked from a forkserver; PostgreSQL gets a schema of its own, dropped afterwards.
    Raises ConnectionError when PostgreSQL is unreachable.
    """
    import uuid

    import psycopg

    from tests.api.central_load import RECORDS_PER_DEVICE, run_load

    plain = PG_URL.replace("postgresql+psycopg://", "postgresql://")
    try:
        conn = psycopg.connect(plain, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as exc:
        raise ConnectionError(f"PostgreSQL unreachable at {plain}: {exc}") from exc
    schema = "medtap_bench_" + uuid.uuid4().hex[:10]
    conn.execute(f'CREATE SCHEMA "{schema}"')
    try:
        sep = "&" if "?" in PG_URL else "?"
        run = run_load(f"{PG_URL}{sep}options=-csearch_path%3D{schema}", sensors=sensors, batches=batches,
                       new_devices=new_devices, repeats=repeats, period=period)
    finally:
        conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
        conn.close()
    out = run.summary()
    per_batch = new_devices * RECORDS_PER_DEVICE + repeats
    lost = sensors * batches * per_batch - sum(run.stored.values())
    failed = sum(1 for s in run.sensors for b in s.batches if b.status != 201)
    late = sum(1 for s in run.sensors for b in s.batches if b.visible_after is None or b.visible_after > 10.0)
    out.update({"records_per_batch": per_batch, "period": period, "records_not_stored": lost,
                "batches_refused": failed, "batches_not_visible_within_10s": late,
                "reads_not_200": sum(1 for r in run.reads if r.status != 200)})
    return out


def extra_table(results: dict[str, dict[str, Any]], central: dict[str, Any] | None) -> str:
    """Store size, analysis per flush and central ingest lines (printed under the speed table)."""
    rows: list[str] = []
    for name in ("medtap-replay-command", "medtap-replay-command-5x"):
        store = results.get(name, {}).get("store")
        if store:
            rows.append(f"store after {name}: SQLite file {store['file_bytes'] / 1e6:.1f} MB = "
                        f"{store['file_bytes_per_frame']} bytes/frame ({store['file_bytes_per_million_frames'] / 1e6:.1f}"
                        f" MB per million frames); fact blobs {store['fact_blob_bytes'] / 1e6:.1f} MB = "
                        f"{store['fact_blob_bytes_per_frame']} bytes/frame; {store['facts']:,} facts for "
                        f"{store['observations']:,} observations (target <= 20 bytes/frame)")
    flush = results.get("medtap-analysis-per-flush", {})
    if flush.get("analyses"):
        rows.append(f"analysis per flush: {flush['analyses']} analyses for {flush['flushes']} flushes "
                    f"({flush['analyses_skipped']} skipped: nothing new), median {flush['analysis_median_s']:.2f} s, "
                    f"max {flush['analysis_max_s']:.2f} s (total {flush['analysis_total_s']:.1f} s of "
                    f"{flush['seconds']:.1f} s); {flush['records_per_packet_second']:.0f} records per second of "
                    f"capture ({flush['packet_seconds']:.0f} s of packet time)")
    if central and "error" not in central:
        rate = flush.get("records_per_packet_second")
        served = f"; ~{central['records_per_second'] / rate:.1f} sensors as busy as the mix" if rate else ""
        rows.append(f"central ingest (PostgreSQL, {central['sensors']} sensor processes, {central['batches']} "
                    f"batches of {central['records_per_batch']} records, period {central['period']} s): "
                    f"{central['records_per_second']:,.0f} records/s sustained over {central['ingest_seconds']} s"
                    f"{served}; ingest-to-visible median {central['visible_median_s']} s, max "
                    f"{central['visible_max_s']} s; POST median {central['post_median_s']} s, max "
                    f"{central['post_max_s']} s; {central['analyses']} background analyses (median "
                    f"{central['analysis_median_s']} s, max {central['analysis_max_s']} s); not stored "
                    f"{central['records_not_stored']}, refused {central['batches_refused']}, late (>10 s) "
                    f"{central['batches_not_visible_within_10s']}, reads not 200 {central['reads_not_200']}")
    elif central:
        rows.append(f"central ingest: {central['error']}")
    return "\n".join(rows)


# ----------------------------------------------------------------------------- driver


def run_child(name: str, pcap: Path) -> dict[str, Any]:
    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    out = subprocess.run([sys.executable, __file__, "--child", name, "--pcap", str(pcap)], capture_output=True,
                         text=True, env=env, check=False)
    if out.returncode != 0:
        return {"error": out.stderr.strip().splitlines()[-1] if out.stderr.strip() else f"exit {out.returncode}"}
    return json.loads(out.stdout.strip().splitlines()[-1])


def table(results: dict[str, dict[str, Any]]) -> str:
    base = results.get("medtap", {}).get("fps")
    rows = [f"{'contender':24} {'frames':>10} {'seconds':>8} {'frames/s':>10} {'MB/s':>7} {'peak RSS':>9} "
            f"{'medtap/it':>9}"]
    for name, r in results.items():
        if "error" in r:
            rows.append(f"{name:24} error: {r['error']}")
            continue
        ratio = f"{base / r['fps']:.1f}" if base and r["fps"] else "-"
        note = "  (first 50k frames, extrapolated)" if r.get("extrapolated") else ""
        rows.append(f"{name:24} {r['frames']:>10,} {r['seconds']:>8.1f} {r['fps']:>10,.0f} {r['mbps']:>7.1f} "
                    f"{r['rss_mib']:>7.0f}MiB {ratio:>9}{note}")
    return "\n".join(rows)


def side_by_side(per_profile: dict[str, dict[str, dict[str, Any]]]) -> str:
    """One row per contender, frames/s and peak RSS on each mix side by side."""
    profiles = list(per_profile)
    names = list(dict.fromkeys(n for results in per_profile.values() for n in results))
    head = f"{'contender':24}" + "".join(f" {p + ' frames/s':>20} {'RSS':>7}" for p in profiles)
    rows = [head]
    for name in names:
        cells = []
        for prof in profiles:
            r = per_profile[prof].get(name)
            if not r or "error" in r:
                cells.append(f" {'-' if not r else 'error':>20} {'-':>7}")
            else:
                cells.append(f" {r['fps']:>20,.0f} {r['rss_mib']:>5.0f}Mi")
        rows.append(f"{name:24}" + "".join(cells))
    return "\n".join(rows)


def _cpu(result: dict[str, Any]) -> str:
    cpu = result.get("cpu_seconds")
    return "?" if cpu is None else f"{cpu:.1f} s"


def main() -> None:
    ap = argparse.ArgumentParser(description="medtap benchmark (see module docstring)")
    ap.add_argument("--pcap", type=Path, default=None,
                    help="one capture instead of the generated mixes (--child: the capture to run on)")
    ap.add_argument("--profiles", nargs="*", default=list(PROFILES), choices=PROFILES,
                    help="generated mixes to run (default: both)")
    ap.add_argument("--frames", type=int, default=1_000_000, help="frames of the generated mix")
    ap.add_argument("--with-5m", action="store_true", help="also replay the file 5 times in one run (memory check)")
    ap.add_argument("--skip", nargs="*", default=[], help="contenders to skip")
    ap.add_argument("--best-of", type=int, default=1,
                    help="run each contender (except tshark and the 5x run) N times and keep the fastest: "
                         "on a shared machine the best run is the least disturbed one")
    ap.add_argument("--skip-central", action="store_true",
                    help="skip the central ingest run (one central on PostgreSQL fed by simulated sensors)")
    ap.add_argument("--central-sensors", type=int, default=20, help="sensor processes of the central run")
    ap.add_argument("--central-batches", type=int, default=15, help="batches each sensor posts")
    ap.add_argument("--central-new-devices", type=int, default=10, help="new devices in each batch")
    ap.add_argument("--central-repeats", type=int, default=290,
                    help="re-sighting records in each batch (facts merged, not added)")
    ap.add_argument("--central-period", type=float, default=0.0,
                    help="seconds between two batches of a sensor (0: as soon as acknowledged, saturation)")
    ap.add_argument("--skip-live", action="store_true", help="skip the live no-loss run (root, tcpreplay)")
    ap.add_argument("--live-rate", type=int, default=100_000, help="frames/s tcpreplay sends in the live run")
    ap.add_argument("--live-seconds", type=float, default=30.0, help="seconds of sending in the live run")
    ap.add_argument("--live-workers", type=int, default=None, help="--workers of the live capture (default: medtap's)")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(args.child, args.pcap)
        return
    names = [n for n in CONTENDERS if n not in args.skip and ("5x" not in n or args.with_5m)]
    mixes: dict[str, Path] = {}
    if args.pcap is not None:
        mixes["given"] = args.pcap
    else:
        for prof in args.profiles:
            path = BENCH_DIR / ("mix.pcap" if prof == "default" else f"mix-{prof}.pcap")
            if not path.exists():
                print(f"generating {path} ({args.frames:,} frames, {prof})...", flush=True)
                subprocess.run([sys.executable, str(REPO / "pcaps" / "make_bench_mix.py"), str(path), "--frames",
                                str(args.frames), "--profile", prof], check=True)
            mixes[prof] = path
    per_profile: dict[str, dict[str, dict[str, Any]]] = {}
    load_start = os.getloadavg()
    for prof, pcap in mixes.items():
        per_profile[prof] = results = {}
        for name in names:
            print(f"running {name} on the {prof} mix...", flush=True)
            runs = 1 if name == "tshark-fields" or "5x" in name else max(1, args.best_of)
            tries = [run_child(name, pcap) for _ in range(runs)]
            ok = [t for t in tries if "error" not in t]
            r = min(ok, key=lambda t: t["seconds"]) if ok else tries[0]
            r["runs"] = runs
            if "error" not in r:
                r["fps"] = r["frames"] / r["seconds"] if r["seconds"] else 0.0
                r["mbps"] = r["bytes"] / r["seconds"] / 1e6 if r["seconds"] else 0.0
                r["rss_mib"] = max(r["maxrss_kib"], r.get("tshark_maxrss_kib", 0),
                                   r.get("child_maxrss_kib", 0)) / 1024
            results[name] = r
    central: dict[str, Any] | None = None
    if not args.skip_central:
        print("running central-ingest...", flush=True)
        try:
            central = run_central_ingest(sensors=args.central_sensors, batches=args.central_batches,
                                         new_devices=args.central_new_devices, repeats=args.central_repeats,
                                         period=args.central_period)
        except ConnectionError as exc:  # no PostgreSQL here: the other figures still stand
            central = {"error": f"skipped, {exc}"}
    live: dict[str, Any] | None = None
    if not args.skip_live:
        print(f"running live-no-loss at {args.live_rate:,} frames/s...", flush=True)
        try:
            live = run_live(next(iter(mixes.values())), rate=args.live_rate, seconds=args.live_seconds,
                            workers=args.live_workers)
        except RuntimeError as exc:
            live = {"error": f"skipped, {exc}"}
    for prof, results in per_profile.items():
        print(f"\n{prof} mix ({mixes[prof]}):")
        print(table(results))
        extra = extra_table(results, central if prof == next(iter(per_profile)) else None)
        if extra:
            print(extra)
    if len(per_profile) > 1:
        print("\nboth mixes side by side:")
        print(side_by_side(per_profile))
    for prof, results in per_profile.items():
        one, two = results.get("medtap", {}), results.get("medtap-2w", {})
        if one.get("fps") and two.get("fps"):
            print(f"{prof} mix, collector alone: 2 workers {two['fps']:,.0f} frames/s = "
                  f"{two['fps'] / one['fps']:.2f}x 1 process ({one['fps']:,.0f}); "
                  f"CPU {_cpu(two)} vs {_cpu(one)}")
        one, two = results.get("medtap-replay-command-1w", {}), results.get("medtap-replay-command-2w", {})
        if one.get("fps") and two.get("fps"):
            print(f"{prof} mix, whole replay command: 2 workers {two['fps']:,.0f} frames/s = "
                  f"{two['fps'] / one['fps']:.2f}x 1 worker ({one['fps']:,.0f}); "
                  f"CPU {_cpu(two)} vs {_cpu(one)}; frames per worker {two['workers']}")
    if live is not None:
        print(live_line(live))
    machine = {"cpu": platform.processor() or platform.machine(), "python": platform.python_version(),
               "cores_visible": os.cpu_count(), "one_core_pinned": hasattr(os, "sched_setaffinity"),
               "loadavg_start": load_start, "loadavg_end": os.getloadavg(), "best_of": args.best_of}
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                machine["cpu"] = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    print(f"\nmachine: {machine['cpu']}, {machine['cores_visible']} vCPU visible, Python {machine['python']}; "
          f"load average {machine['loadavg_start'][0]:.1f} -> {machine['loadavg_end'][0]:.1f}; each contender pinned "
          f"to one core, best of {args.best_of}; scapy measured on the first 50,000 frames and extrapolated")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({"mixes": {k: str(v) for k, v in mixes.items()}, "machine": machine,
                                   "results": per_profile, "central_ingest": central, "live": live}, indent=2))
    print(f"results: {RESULTS}")


if __name__ == "__main__":
    main()
