"""Simulated sensors feeding a real central: the machinery of tests/api/test_central_load.py and of
`make bench` (tests/bench/run_bench.py, central ingest figure).

Why processes: a central serves many sensors at once, each its own machine; threads of the test
process would share its GIL with the server and serialise the clients, hiding the contention the
central must survive.  The sensor processes are forked from a forkserver that has imported this
module once (`sensor_pool`): twenty interpreters started from scratch would cost ~10 s of CPU on
a 2-core machine before the first batch.

A sensor posts `batches` batches as a busy sensor would after each flush period (host, dhcp, dns,
arp and conversation records of new devices, plus re-sightings of its devices already known, which
the central merges into existing facts), every `period` seconds of wall time, and meanwhile checks
that the new devices of each batch show in GET /api/v1/devices?q=<batch MAC prefix>: the
ingest-to-visible delay of each batch, measured from the moment its POST was sent.
"""

from __future__ import annotations

import json
import multiprocessing
import re
import socket
import statistics
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from multiprocessing.pool import Pool
from typing import Any, Self

BASE_TS = 1_772_438_460.0
"""Packet time of the first batch (a flush period of FLUSH seconds of capture time per batch)."""
FLUSH = 10.0
RECORDS_PER_DEVICE = 5
"""dhcp, host, arp, dns and conversation records for each new device of a batch."""
POLL = 0.5
"""Seconds between two visibility checks of a sensor: the resolution of the measured delay."""
GIVE_UP = 30.0
"""A batch still invisible this long after its POST is recorded as never seen (the spec bound is 10 s)."""
ROUTER_MAC = "00:00:0c:9f:f0:01"
PACS_IP = "10.50.0.20"
DNS_IP = "10.50.0.3"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def sensor_id(index: int) -> str:
    return f"load-{index:02d}"


def batch_prefix(index: int, batch: int) -> str:
    """MAC prefix shared by the new devices of one batch of one sensor (and by nothing else)."""
    return f"02:6d:{index:02x}:{batch:02x}:"


def device_mac(index: int, batch: int, dev: int) -> str:
    return f"{batch_prefix(index, batch)}00:{dev:02x}"


def device_ip(index: int, batch: int, dev: int) -> str:
    return f"10.{100 + index}.{batch}.{dev + 10}"


def batch_records(index: int, batch: int, new_devices: int, repeats: int) -> list[dict[str, Any]]:
    """The records of batch `batch` of sensor `index`, as the collector would emit them (JSON-ready).

    `new_devices` devices appear (RECORDS_PER_DEVICE records each), then `repeats` records re-sight
    the sensor's devices seen so far (a host sighting or a DICOM association from a new ephemeral
    port): the same facts again, which the store must merge (count + 1), not add.
    """
    from collector.schema import ArpObs, Conversation, DhcpObs, DnsObs, HostSighting

    sensor = sensor_id(index)
    vlan = 110 + 10 * (index % 3)
    t0 = BASE_TS + batch * FLUSH
    out: list[Any] = []
    for d in range(new_devices):
        mac, ip = device_mac(index, batch, d), device_ip(index, batch, d)
        ts = t0 + d * 0.01
        eph = 49152 + (batch * 97 + d) % 16000
        out += [
            DhcpObs(ts=ts, sensor=sensor, vlan=vlan, src_mac=mac, dst_mac="ff:ff:ff:ff:ff:ff", src_ip="0.0.0.0",
                    dst_ip="255.255.255.255", src_port=68, dst_port=67, transport="udp", message_type="request",
                    client_mac=mac, hostname=f"PUMP-{index:02d}-{batch:02d}-{d:02d}", vendor_class="BBRAUN-SPACE",
                    param_request_list=(1, 3, 6, 15, 28), fingerprint="1,3,6,15,28", requested_ip=ip,
                    options=(53, 12, 60, 55, 50)),
            HostSighting(ts=ts, sensor=sensor, vlan=vlan, src_mac=mac, src_ip=ip, mac=mac, ip=ip, first_ts=ts,
                         last_ts=ts + 9.0, frames=40, bytes=18_000, ttl=64),
            ArpObs(ts=ts + 0.1, sensor=sensor, vlan=vlan, src_mac=mac, dst_mac="ff:ff:ff:ff:ff:ff", op="request",
                   sender_mac=mac, sender_ip=ip, target_mac="00:00:00:00:00:00", target_ip=f"10.{100 + index}.{batch}.1"),
            DnsObs(ts=ts + 0.2, sensor=sensor, vlan=vlan, src_mac=mac, dst_mac=ROUTER_MAC, src_ip=ip, dst_ip=DNS_IP,
                   src_port=eph, dst_port=53, transport="udp", protocol="dns", response=False,
                   queries=("pacs.hospital.example",)),
            Conversation(ts=ts + 0.3, sensor=sensor, vlan=vlan, src_mac=mac, dst_mac=ROUTER_MAC, src_ip=ip,
                         dst_ip=PACS_IP, src_port=eph, dst_port=104, transport="tcp", client_mac=mac, client_ip=ip,
                         server_mac=ROUTER_MAC, server_ip=PACS_IP, server_port=104, client_port=eph, first_ts=ts + 0.3,
                         last_ts=ts + 8.0, syn_seen=True, app="dicom", packets_c2s=30, packets_s2c=28,
                         bytes_c2s=120_000, bytes_s2c=4_000),
        ]
    known = (batch + 1) * new_devices
    for j in range(repeats):
        b, d = divmod(j % known, new_devices)
        mac, ip = device_mac(index, b, d), device_ip(index, b, d)
        ts = t0 + 1.0 + j * 0.001
        if j % 2:
            out.append(HostSighting(ts=ts, sensor=sensor, vlan=vlan, src_mac=mac, src_ip=ip, mac=mac, ip=ip,
                                    first_ts=ts, last_ts=ts + 5.0, frames=12, bytes=5_000, ttl=64))
        else:
            eph = 32768 + (batch * 131 + j) % 28000
            out.append(Conversation(ts=ts, sensor=sensor, vlan=vlan, src_mac=mac, dst_mac=ROUTER_MAC, src_ip=ip,
                                    dst_ip=PACS_IP, src_port=eph, dst_port=104, transport="tcp", client_mac=mac,
                                    client_ip=ip, server_mac=ROUTER_MAC, server_ip=PACS_IP, server_port=104,
                                    client_port=eph, first_ts=ts, last_ts=ts + 4.0, syn_seen=True, app="dicom",
                                    packets_c2s=10, packets_s2c=9, bytes_c2s=40_000, bytes_s2c=1_500))
    return [o.model_dump(mode="json") for o in out]


@dataclass(frozen=True)
class SensorPlan:
    """What one simulated sensor does (picklable: sent to its process)."""

    index: int
    base_url: str
    sensor_token: str
    viewer_token: str
    batches: int
    new_devices: int
    repeats: int
    period: float
    """Wall seconds between two posts (0: post again as soon as the central acknowledged)."""
    start_at: float
    """time.time() at which every sensor starts posting (they were all forked and ready before)."""


@dataclass
class BatchResult:
    seq: int
    records: int
    status: int = 0
    post_seconds: float = 0.0
    visible_after: float | None = None
    """Seconds from sending the POST to the first check that showed every new device; None: never."""
    error: str = ""


@dataclass
class SensorResult:
    sensor: str
    batches: list[BatchResult] = field(default_factory=list)
    first_post: float = 0.0
    last_ack: float = 0.0
    """time.time() of the first POST sent and of the last acknowledgement (throughput window)."""


def run_sensor(plan: SensorPlan) -> SensorResult:
    """One sensor's life (runs in its own process): post every batch, check each shows, report delays."""
    import httpx

    bodies = [json.dumps({"sensor": sensor_id(plan.index), "seq": b + 1, "schema_version": 1,
                          "observations": batch_records(plan.index, b, plan.new_devices, plan.repeats)}).encode()
              for b in range(plan.batches)]  # built before the clock starts: a sensor has its batch ready
    out = SensorResult(sensor_id(plan.index))
    ingest_headers = {"Authorization": f"Bearer {plan.sensor_token}", "Content-Type": "application/json"}
    read_headers = {"Authorization": f"Bearer {plan.viewer_token}"}
    pending: deque[tuple[BatchResult, int, float]] = deque()
    with httpx.Client(base_url=plan.base_url, timeout=60.0) as client:
        time.sleep(max(0.0, plan.start_at - time.time()))
        out.first_post = time.time()
        next_post = next_poll = time.monotonic()
        sent = 0
        while sent < plan.batches or pending:
            if sent < plan.batches and time.monotonic() >= next_post:
                result = BatchResult(seq=sent + 1, records=plan.new_devices * RECORDS_PER_DEVICE + plan.repeats)
                started = time.monotonic()
                try:
                    reply = client.post("/api/v1/ingest", content=bodies[sent], headers=ingest_headers)
                    result.status = reply.status_code
                    if reply.status_code != 201:
                        result.error = reply.text[:300]
                except httpx.HTTPError as exc:
                    result.error = f"{type(exc).__name__}: {exc}"
                result.post_seconds = time.monotonic() - started
                out.last_ack = time.time()
                out.batches.append(result)
                if result.status == 201:
                    pending.append((result, sent, started))
                # paced: the next flush period; period 0: as soon as acknowledged (saturation, the bench)
                next_post = max(next_post + plan.period, time.monotonic())
                sent += 1
            if pending and time.monotonic() >= next_poll:
                next_poll = time.monotonic() + POLL
                result, b, started = pending[0]
                try:
                    reply = client.get("/api/v1/devices", headers=read_headers,
                                       params={"q": batch_prefix(plan.index, b), "limit": 200})
                    shown = reply.status_code == 200 and reply.json()["total"] == plan.new_devices
                    if reply.status_code >= 500:
                        result.error = f"devices read {reply.status_code}"
                except httpx.HTTPError as exc:
                    shown, result.error = False, f"devices read {type(exc).__name__}: {exc}"
                waited = time.monotonic() - started
                if shown:
                    result.visible_after = waited
                if shown or waited > GIVE_UP:
                    pending.popleft()
                    next_poll = time.monotonic()  # the next batch may already show too
                    continue
            wake = [next_poll] if pending else []
            if sent < plan.batches:
                wake.append(next_post)
            if wake:
                time.sleep(max(0.0, min(wake) - time.monotonic()))
    return out


def sensor_pool(processes: int) -> Pool:
    """A pool of sensor processes forked from a forkserver that imported this module and httpx once.

    As with any forkserver or spawn child, each process imports the caller's main module under
    `__mp_main__`: a script calling this must keep its work under `if __name__ == "__main__":`.
    """
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(["httpx", "collector.schema", __name__])
    return ctx.Pool(processes)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Central:
    """The real central app (API, web UI, background analysis) under uvicorn in a thread, on 127.0.0.1."""

    def __init__(self, db_url: str, **settings: Any) -> None:
        import uvicorn

        from api.main import create_app
        from api.settings import Settings

        self.app = create_app(Settings(db_url=db_url, secret_key="l" * 32, **settings))
        self.port = free_port()
        self.server = uvicorn.Server(uvicorn.Config(self.app, host="127.0.0.1", port=self.port, log_level="warning",
                                                    lifespan="on"))
        self.thread = threading.Thread(target=self.server.run, name="central", daemon=True)
        self.url = f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> Self:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            assert time.monotonic() < deadline and self.thread.is_alive(), "uvicorn did not start"
            time.sleep(0.05)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(15)

    def token(self, role: str, sensor: str | None = None) -> str:
        from sqlmodel import Session

        from api.auth import create_token

        with Session(self.app.state.engine) as session:
            return create_token(session, role=role, name=sensor or f"load-{role}-{uuid.uuid4().hex[:6]}", sensor=sensor)

    def watch_analyses(self, stop: Any) -> list[float]:
        """Durations of the background analyses until `stop` (sampled every 50 ms from the analyzer's counters)."""
        out: list[float] = []
        analyzer = self.app.state.analyzer

        def watch() -> None:
            seen = analyzer.analyses
            while not stop.wait(0.05):
                if analyzer.analyses != seen and analyzer.last_duration is not None:
                    seen = analyzer.analyses
                    out.append(analyzer.last_duration)

        threading.Thread(target=watch, name="analyses", daemon=True).start()
        return out

    def stored_per_sensor(self) -> dict[str, int]:
        """Observations the facts stand for, per sensor (each record sent once -> its count once)."""
        from sqlalchemy import text

        with self.app.state.engine.connect() as conn:
            rows = conn.execute(text("SELECT sensor, sum(count) FROM fact GROUP BY sensor")).all()
        return {str(sensor): int(total) for sensor, total in rows}

    def fact_rows(self) -> int:
        from sqlalchemy import text

        with self.app.state.engine.connect() as conn:
            return int(conn.execute(text("SELECT count(*) FROM fact")).scalar_one())


@dataclass
class Read:
    path: str
    status: int | None
    seconds: float
    error: str = ""


class Reader:
    """Reads the API and the web UI in a loop while the sensors post, as a team watching the central would.

    In a process of its own, like the sensors: a reader thread in the test process would take the
    central's GIL from the requests and the analysis it measures."""

    API_PATHS = ("/api/v1/devices?limit=100", "/api/v1/findings?limit=100", "/api/v1/status")
    UI_PATHS = ("/devices",)

    def __init__(self, base_url: str, viewer_token: str, pause: float = 0.2) -> None:
        ctx = multiprocessing.get_context("forkserver")
        self.stop = ctx.Event()
        self._results, sender = ctx.Pipe(duplex=False)
        self._process = ctx.Process(target=read_loop, args=(base_url, viewer_token, pause, self.stop, sender),
                                    name="reader", daemon=True)
        self.reads: list[Read] = []

    def start(self) -> None:
        self._process.start()

    def join(self, timeout: float) -> None:
        """Wait for the reads (after `stop` was set)."""
        if self._results.poll(timeout):
            self.reads = self._results.recv()
        self._process.join(timeout)


def sign_in(client: Any, token: str) -> None:
    """Sign in to the web UI with a token (login form, CSRF nonce, session cookie)."""
    page = client.get("/login")
    nonce = CSRF.search(page.text)
    assert nonce is not None, page.text[:500]
    reply = client.post("/login", data={"token": token, "csrf_token": nonce.group(1), "next": "/devices"})
    assert reply.status_code == 303, reply.text[:500]


def read_loop(base_url: str, token: str, pause: float, stop: Any, results: Any) -> None:
    """The reader process: read Reader.API_PATHS and Reader.UI_PATHS until `stop`, then send the reads."""
    import httpx

    reads: list[Read] = []
    with httpx.Client(base_url=base_url, timeout=30.0) as ui, \
            httpx.Client(base_url=base_url, timeout=30.0, headers={"Authorization": f"Bearer {token}"}) as api:
        sign_in(ui, token)
        while not stop.is_set():
            for client, paths in ((api, Reader.API_PATHS), (ui, Reader.UI_PATHS)):
                for path in paths:
                    started = time.monotonic()
                    try:
                        reply = client.get(path, follow_redirects=False)
                        reads.append(Read(path, reply.status_code, time.monotonic() - started,
                                          "" if reply.status_code == 200 else reply.text[:200]))
                    except httpx.HTTPError as exc:
                        reads.append(Read(path, None, time.monotonic() - started, f"{type(exc).__name__}: {exc}"))
            stop.wait(pause)
    results.send(reads)


@dataclass
class LoadRun:
    """Everything one load run measured."""

    sensors: list[SensorResult]
    reads: list[Read]
    stored: dict[str, int]
    facts: int
    wall_seconds: float
    analyses: list[float] = field(default_factory=list)
    """Seconds each background analysis of the central took during the run."""
    central_cpu_seconds: float = 0.0
    """CPU time of the process running the central during the run (its analysis process apart)."""
    rebuilds: int = 0
    """Times the analysis process read every stored fact (once at the start; again only after a restart or
    another writer)."""

    def delays(self) -> list[float]:
        return [b.visible_after for s in self.sensors for b in s.batches if b.visible_after is not None]

    def records_sent(self) -> int:
        return sum(b.records for s in self.sensors for b in s.batches if b.status == 201)

    def ingest_window(self) -> float:
        """Seconds from the first POST sent to the last acknowledgement, over all sensors."""
        return max(s.last_ack for s in self.sensors) - min(s.first_post for s in self.sensors)

    def summary(self) -> dict[str, Any]:
        delays = self.delays()
        posts = [b.post_seconds for s in self.sensors for b in s.batches]
        window = self.ingest_window()
        return {
            "sensors": len(self.sensors), "batches": sum(len(s.batches) for s in self.sensors),
            "records": self.records_sent(), "facts_rows": self.facts, "ingest_seconds": round(window, 2),
            "records_per_second": round(self.records_sent() / window, 1) if window else None,
            "visible_median_s": round(statistics.median(delays), 2) if delays else None,
            "visible_max_s": round(max(delays), 2) if delays else None,
            "post_median_s": round(statistics.median(posts), 3) if posts else None,
            "post_max_s": round(max(posts), 3) if posts else None,
            "rebuilds": self.rebuilds, "reads": len(self.reads), "read_max_s": round(max((r.seconds for r in self.reads), default=0.0), 2),
            "wall_seconds": round(self.wall_seconds, 1), "analyses": len(self.analyses),
            "analysis_median_s": round(statistics.median(self.analyses), 2) if self.analyses else None,
            "analysis_max_s": round(max(self.analyses), 2) if self.analyses else None,
            "central_cpu_s": round(self.central_cpu_seconds, 1),
        }


def run_load(db_url: str, *, sensors: int, batches: int, new_devices: int, repeats: int, period: float,
             **settings: Any) -> LoadRun:
    """Start a central on `db_url`, fork `sensors` sensors, read meanwhile; return what was measured."""
    started = time.monotonic()
    pool = sensor_pool(sensors)  # forked before the server thread starts
    try:
        with Central(db_url, **settings) as central:
            viewer = central.token("viewer")
            reader = Reader(central.url, viewer)
            start_at = time.time() + 0.5
            plans = [SensorPlan(index=i, base_url=central.url, sensor_token=central.token("sensor", sensor_id(i)),
                                viewer_token=viewer, batches=batches, new_devices=new_devices, repeats=repeats,
                                period=period, start_at=start_at + i * period / sensors)
                     for i in range(sensors)]  # independent flush timers: starts spread over one period
            cpu = time.process_time()
            pending = pool.map_async(run_sensor, plans, chunksize=1)
            reader.start()
            analyses = central.watch_analyses(reader.stop)
            try:
                results = pending.get(timeout=batches * max(period, 1.0) + GIVE_UP + 120)
            finally:
                reader.stop.set()
                reader.join(60)
            return LoadRun(results, reader.reads, central.stored_per_sensor(), central.fact_rows(),
                           time.monotonic() - started, analyses, time.process_time() - cpu,
                           central.app.state.analyzer.rebuilds)
    finally:
        pool.terminate()
        pool.join()
