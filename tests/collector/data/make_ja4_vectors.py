"""Write ja4_foxio_vectors.json: FoxIO's published JA4 test vectors with the ClientHello bytes they come from.

    python tests/collector/data/make_ja4_vectors.py /path/to/FoxIO-LLC/ja4 \
        > tests/collector/data/ja4_foxio_vectors.json

For each capture of the FoxIO-LLC/ja4 repository (pcap/) that has expected outputs
(python/test/testdata/<capture>.json: per TCP stream, "JA4.<n>" and "JA4_r.<n>" for its n-th
ClientHello), the ClientHellos are read with tshark (reassembled when they span segments) and kept
with the expected JA4 and raw JA4, one vector per distinct raw JA4.  QUIC and DTLS hellos are left
out (medtap fingerprints TLS over TCP).  Needs tshark and the repository checkout; the test reads
only the JSON written here.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path


def hellos(pcap: Path) -> dict[int, list[str]]:
    """TCP stream -> the hex TCP payloads (from the record header) carrying its ClientHellos, in order."""
    out = subprocess.run(["tshark", "-r", str(pcap), "-Y", "tls.handshake.type == 1 && tcp", "-T", "fields",
                          "-e", "tcp.stream", "-e", "tcp.reassembled.data", "-e", "tcp.payload"],
                         capture_output=True, text=True, check=True).stdout
    streams: dict[int, list[str]] = {}
    for line in out.splitlines():
        stream, reassembled, payload = (line.split("\t") + ["", ""])[:3]
        data = (reassembled or payload).replace(":", "")
        at = data.find("16030")  # the handshake record (a SOCKS or CONNECT preface may come first)
        if stream and at >= 0:
            streams.setdefault(int(stream), []).append(data[at:])
    return streams


def main(repo: Path) -> None:
    commit = subprocess.run(["git", "-C", str(repo), "rev-parse", "HEAD"], capture_output=True, text=True,
                            check=False).stdout.strip() or "unknown"
    vectors: list[dict[str, object]] = []
    seen: set[str] = set()
    for expected in sorted((repo / "python" / "test" / "testdata").glob("*.json")):
        pcap = repo / "pcap" / expected.name.removesuffix(".json")
        rows = json.loads(expected.read_text())
        wanted = [(int(r["stream"]), k.split(".")[1], r[k], r.get(f"JA4_r.{k.split('.')[1]}"))
                  for r in rows for k in r if k.startswith("JA4.") and str(r[k]).startswith("t")]
        if not wanted or not pcap.is_file():
            continue
        found = hellos(pcap)
        for stream, n, ja4, raw in wanted:
            payloads = found.get(stream, [])
            if int(n) > len(payloads) or raw in seen:
                continue
            seen.add(raw)
            vectors.append({"capture": pcap.name, "stream": stream, "hello": int(n), "ja4": ja4, "ja4_r": raw,
                            "record_hex": payloads[int(n) - 1]})
    json.dump({"origin": f"github.com/FoxIO-LLC/ja4 commit {commit}: pcap/<capture> and "
                         "python/test/testdata/<capture>.json (JA4 is BSD 3-Clause, FoxIO)",
               "vectors": vectors}, sys.stdout, indent=1)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
