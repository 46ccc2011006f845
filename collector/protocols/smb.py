"""SMB detectors (MS-CIFS / MS-SMB for SMB1, MS-SMB2 for SMB2/3, MS-NLMP for NTLMSSP).

SMB1 has three carriers, each a detector of this module:
- `smb`: the NetBIOS session service on TCP 139/445 (below);
- `smb-dgm`: the NetBIOS datagram service, UDP 138 (RFC 1002 4.4): direct unique, direct group
  and broadcast datagrams (types 0x10-0x12) carry after their 14-byte header the source and
  destination names (RFC 1002 4.1 encoding) and then the user data, an SMB1 message for the
  browser and mailslot traffic (MS-BRWS, SMB_COM_TRANSACTION to \\MAILSLOT\\BROWSE);
- `smb-netbeui`: NetBEUI (the NetBIOS Frames protocol, IBM LAN Technical Reference: 802.2 LLC
  SAP 0xF0, no IP at all): a NetBIOS header (2-byte little-endian length, delimiter 0xEFFF,
  command) after the LLC header, 44 bytes long for DATAGRAM (0x08) and DATAGRAM_BROADCAST
  (0x09), 14 bytes for the session frames DATA_FIRST_MIDDLE (0x15) and DATA_ONLY_LAST (0x16),
  then the SMB1 message.
An SMB1 message on any of them is legacy SMB1 (`SmbObs.smb1`): the datagram carriers have no
negotiate, so their records carry no dialect.  Only the first fragment of a datagram is read.

On TCP:
Each direction's prefix is a sequence of NetBIOS session service messages (RFC 1002 4.3: type,
24-bit length; port 139 session request/response messages are skipped).  Kept:
- negotiate: dialects a client offers (SMB1 dialect strings, SMB2 dialect revisions as "3.1.1"),
  the dialect the server chose, and whether SMBv1 was offered (an SMB1 dialect other than
  "SMB 2.xxx") or negotiated (an SMB1 response);
- NTLMSSP in session setup: the version structure (MS-NLMP 2.2.2.10), the NetBIOS computer and
  domain names (CHALLENGE target info from a server, AUTHENTICATE workstation/domain from a
  client).  The user name is never read.  A version also yields an OsHint (method "smb-ntlm");
- the SMB families in use (`versions`), from the header of any message of the prefix, so a
  capture that starts after the negotiate still names SMB: 0xFF 'SMB' is smb1, 0xFE 'SMB' smb2
  (MS-SMB2 2.2.1), 0xFD 'SMB' (the SMB 3.x transform header of an encrypted message, MS-SMB2
  2.2.41) or a 3.x dialect negotiated smb3.  Without a negotiate, 0xFE alone cannot tell 2.x from
  3.x: it says smb2, the family nDPI calls SMBv23.
"""

from __future__ import annotations

import struct
from typing import Any

from collector.protocols import oshint
from collector.protocols.base import DecodeContext, Detector, Packet
from collector.schema import Observation, OsHint, SmbObs

SMB1, SMB2, SMB3_TRANSFORM = b"\xffSMB", b"\xfeSMB", b"\xfdSMB"
MAGICS = (SMB1, SMB2, SMB3_TRANSFORM)
SESSION_TYPES = (b"\x00", b"\x81", b"\x82", b"\x83", b"\x84", b"\x85")  # RFC 1002 4.3.1
NTLMSSP = b"NTLMSSP\x00"
SMB2_DIALECTS = {
    0x0202: "2.0.2",
    0x0210: "2.1",
    0x0222: "2.2.2",
    0x0224: "2.2.4",
    0x0300: "3.0",
    0x0302: "3.0.2",
    0x0310: "3.1.0",
    0x0311: "3.1.1",
    0x02FF: "2.???",
}
SMB1_RESPONSE_DIALECT = {17: "NT LM 0.12", 13: "LANMAN", 1: "PC NETWORK PROGRAM 1.0"}
FLAG_UNICODE, FLAG_VERSION = 0x00000001, 0x02000000
MAX_MESSAGES = 16
MAX_NAME = 64


def resync(payload: bytes) -> int:
    """Offset of the first session message whose body starts with an SMB magic, or -1.

    A capture that starts inside a large message (a READ response) has its first segments in the
    middle of it: the next message begins after it, on a segment boundary we cannot see, so the
    magic is searched for (a session message header is 0x00 and a 17-bit length before it).
    """
    best = -1
    for magic in (SMB2, SMB3_TRANSFORM, SMB1):
        at = payload.find(magic, 4)
        while at >= 4 and payload[at - 4] != 0x00:
            at = payload.find(magic, at + 1)
        if at >= 4 and (best < 0 or at - 4 < best):
            best = at - 4
    return best


def probe(payload: bytes) -> bool:
    """A session message (or a port 139 session request) whose body starts with an SMB magic, at the
    start of the prefix or, for a connection seen mid-way, further on (`resync`)."""
    if len(payload) >= 8 and payload[0] == 0x00 and payload[4:8] in (SMB1, SMB2, SMB3_TRANSFORM):
        return True
    if resync(payload) >= 0:
        return True
    # port 139 session request (RFC 1002 4.3.2): two encoded names of 34 bytes each
    return len(payload) >= 5 and payload[0] == 0x81 and payload[1:4] == b"\x00\x00\x44" and payload[4] == 0x20


def messages(payload: bytes) -> list[bytes]:
    """SMB messages of the NetBIOS session service stream (type 0x00 messages only)."""
    out: list[bytes] = []
    pos = 0
    if not (payload[:1] in SESSION_TYPES and (payload[0] != 0x00 or payload[4:8] in MAGICS)):
        at = resync(payload)  # a connection seen mid-way: start at its first whole SMB message
        pos = at if at >= 0 else len(payload)
    while pos + 4 <= len(payload) and len(out) < MAX_MESSAGES:
        mtype = payload[pos]
        length = int.from_bytes(payload[pos + 1 : pos + 4], "big") & 0x1FFFF
        if mtype == 0x00:
            out.append(payload[pos + 4 : pos + 4 + length])
        elif mtype not in (0x81, 0x82, 0x83, 0x84, 0x85):
            break
        pos += 4 + length
    return out


def _ntlm_string(blob: bytes, at: int, unicode: bool) -> str | None:
    length, _maxlen, offset = struct.unpack_from("<HHI", blob, at)
    raw = blob[offset : offset + length]
    if not raw:
        return None
    text = raw.decode("utf-16-le", "replace") if unicode else raw.decode("latin-1")
    return text[:MAX_NAME] or None


def _av_pairs(blob: bytes) -> dict[int, str]:
    out: dict[int, str] = {}
    pos = 0
    while pos + 4 <= len(blob):
        av_id, length = struct.unpack_from("<HH", blob, pos)
        if av_id == 0:
            break
        out.setdefault(av_id, blob[pos + 4 : pos + 4 + length].decode("utf-16-le", "replace")[:MAX_NAME])
        pos += 4 + length
    return out


def parse_ntlmssp(blob: bytes) -> dict[str, Any]:
    """Version, host and domain from an NTLMSSP message (blob starts at the signature)."""
    mtype = struct.unpack_from("<I", blob, 8)[0]
    fields: dict[str, Any] = {}
    version_at = {1: 32, 2: 48, 3: 64}.get(mtype)
    flags_at = {1: 12, 2: 20, 3: 60}.get(mtype)
    if version_at is None or flags_at is None:
        return fields
    flags = struct.unpack_from("<I", blob, flags_at)[0]
    if flags & FLAG_VERSION and len(blob) >= version_at + 8:
        major, minor, build = struct.unpack_from("<BBH", blob, version_at)
        if major:
            fields["version"] = (major, minor, build)
    if mtype == 2:
        ti_len, _m, ti_off = struct.unpack_from("<HHI", blob, 40)
        av = _av_pairs(blob[ti_off : ti_off + ti_len])
        fields["host"], fields["domain"] = av.get(1), av.get(2)
    elif mtype == 3:
        unicode = bool(flags & FLAG_UNICODE)
        fields["domain"] = _ntlm_string(blob, 28, unicode)
        fields["host"] = _ntlm_string(blob, 44, unicode)
    return fields


def _smb1(msg: bytes, acc: dict[str, Any]) -> None:
    command, flags = msg[4], msg[9]
    response = bool(flags & 0x80)
    if command == 0x72 and not response:
        bcount = struct.unpack_from("<H", msg, 33 + 2 * msg[32])[0]
        body = msg[35 + 2 * msg[32] : 35 + 2 * msg[32] + bcount]
        names = [d.decode("latin-1") for d in body.split(b"\x02") if d]
        names = [n.rstrip("\x00")[:MAX_NAME] for n in names]
        acc["offered"] += names
        if any(not n.startswith("SMB 2.") for n in names):
            acc["smb1"] = True
    elif command == 0x72:
        acc["smb1"] = True
        acc["chosen"] = SMB1_RESPONSE_DIALECT.get(msg[32], f"smb1-wc{msg[32]}")
    else:
        acc["smb1"] = True  # any other SMB1 command means SMBv1 is in use


def _smb2(msg: bytes, acc: dict[str, Any]) -> None:
    command = struct.unpack_from("<H", msg, 12)[0]
    response = bool(struct.unpack_from("<I", msg, 16)[0] & 1)
    if command != 0:
        return
    if not response:
        count = struct.unpack_from("<H", msg, 66)[0]
        revs = [v for (v,) in struct.iter_unpack("<H", msg[100 : 100 + 2 * min(count, 32)])]
        acc["offered"] += [SMB2_DIALECTS.get(r, f"{r:#06x}") for r in revs]
    else:
        rev = struct.unpack_from("<H", msg, 68)[0]
        acc["chosen"] = SMB2_DIALECTS.get(rev, f"{rev:#06x}")


def decode(pkt: Packet, ctx: DecodeContext) -> list[Observation]:
    """One SmbObs per direction that carried a negotiate or NTLMSSP, plus an OsHint from NTLM."""
    acc: dict[str, Any] = {"offered": [], "chosen": None, "smb1": False, "ntlm": {}}
    seen = False
    families: set[str] = set()
    for msg in messages(pkt.payload):
        magic = msg[:4]
        if magic == SMB1 and len(msg) >= 33:
            families.add("smb1")
            _smb1(msg, acc)
        elif magic == SMB2 and len(msg) >= 64:
            families.add("smb2")
            _smb2(msg, acc)
        elif magic == SMB3_TRANSFORM and len(msg) >= 52:
            families.add("smb3")
            seen = True
            continue
        else:
            continue
        seen = True
        at = msg.find(NTLMSSP)
        if at >= 0:
            for key, value in parse_ntlmssp(msg[at:]).items():
                if value is not None:
                    acc["ntlm"].setdefault(key, value)
    ntlm = acc["ntlm"]
    if not seen:
        return []
    chosen = acc["chosen"] or ""
    if "smb2" in families and chosen.startswith("3"):
        families.discard("smb2")
        families.add("smb3")
    version = ntlm.get("version")
    out: list[Observation] = [
        SmbObs(
            **pkt.envelope(),
            dialects_offered=tuple(acc["offered"]),
            dialect_chosen=acc["chosen"],
            smb1=acc["smb1"],
            ntlm_os_version=".".join(str(v) for v in version) if version else None,
            ntlm_host=ntlm.get("host"),
            ntlm_domain=ntlm.get("domain"),
            versions=tuple(sorted(families)),
        )
    ]
    if version:
        family, os_version = oshint.ntlm_os(*version)
        out.append(
            OsHint(
                **pkt.envelope(),
                mac=pkt.src_mac,
                ip=pkt.src_ip,
                method="smb-ntlm",
                family=family,
                version=os_version,
                confidence=0.8,
            )
        )
    return out


NBDS_PORT = 138
NBDS_DATA_TYPES = frozenset({0x10, 0x11, 0x12})  # direct unique, direct group, broadcast datagram
NBDS_FIRST = 0x02  # flags F bit: first fragment
NETBEUI_SAP = 0xF0
NETBEUI_DELIMITER = b"\xff\xef"
NETBEUI_HEADERS = {0x08: 44, 0x09: 44, 0x15: 14, 0x16: 14}  # command -> NetBIOS header length


def _skip_name(data: bytes, pos: int) -> int:
    """Offset after an RFC 1002 encoded name (labels up to the root, no compression in datagrams)."""
    for _ in range(64):
        n = data[pos]
        if n == 0:
            return pos + 1
        if n & 0xC0:
            raise ValueError("netbios datagram: compressed or reserved label")
        pos += 1 + n
    raise ValueError("netbios datagram: name too long")


def datagram_user_data(payload: bytes) -> bytes | None:
    """User data of the first fragment of a NetBIOS direct or broadcast datagram, None for other types."""
    if len(payload) < 14 or payload[0] not in NBDS_DATA_TYPES:
        return None
    if not payload[1] & NBDS_FIRST:
        return None  # a later fragment: its user data does not start with a header
    (dgm_length,) = struct.unpack_from("!H", payload, 10)
    pos = _skip_name(payload, _skip_name(payload, 14))
    end = min(len(payload), 14 + dgm_length)
    if pos > end:
        raise ValueError("netbios datagram: names overrun the datagram length")
    return payload[pos:end]


def netbeui_user_data(llc: bytes) -> bytes | None:
    """User data of a NetBEUI (NBF) frame after its 802.2 LLC header, None when it carries none."""
    if len(llc) < 3 or llc[0] != NETBEUI_SAP:
        return None
    pos = 3 if llc[2] & 0x03 == 0x03 else 4  # U frame: 1 control byte; I/S frame: 2
    if llc[2] & 0x03 == 0x01:
        return None  # S frame (RR, RNR, REJ): no information field
    head = llc[pos : pos + 5]
    if len(head) < 5 or head[2:4] != NETBEUI_DELIMITER:
        return None
    length = head[0] | (head[1] << 8)
    expected = NETBEUI_HEADERS.get(head[4])
    if expected is None:
        return None  # name query/recognized, session control...: no user data
    if length != expected:
        raise ValueError("netbeui: header length does not match its command")
    return llc[pos + length :]


BROWSE_MAILSLOT = b"\\MAILSLOT\\BROWSE\x00"
HOST_ANNOUNCEMENTS = frozenset({0x01, 0x0F})  # HostAnnouncement, LocalMasterAnnouncement (MS-BRWS 2.2)
SV_TYPE_SERVER_UNIX = 0x00000800  # MS-RAP 5.1.1: a Unix/Samba server (its OS version fields are a setting)


def browser_os(msg: bytes) -> tuple[int, int, int] | None:
    """(OS major, OS minor, server type) of an SMB1 Transaction to \\MAILSLOT\\BROWSE carrying a host or local
    master announcement (MS-BRWS 2.2.1 and 2.2.6), None for any other message.

    The announcement states the sender's own OS version (5.1 for XP, 6.1 for 7...): a Windows host that
    speaks no SMB2 and no NTLM on the wire still says what it runs, every 12 minutes.
    """
    if len(msg) < 33 or msg[4] != 0x25 or msg[9] & 0x80 or msg[32] < 14:  # Transaction request, 14+ words
        return None
    words = 33
    data_count, data_offset = struct.unpack_from("<HH", msg, words + 2 * 11)
    setup = msg[words + 2 * 13]
    bytes_at = words + 2 * msg[32] + 2
    if not msg[bytes_at:].startswith(BROWSE_MAILSLOT) and not msg[bytes_at + 1:].startswith(BROWSE_MAILSLOT):
        return None  # another mailslot (the name may follow one pad byte)
    data = msg[data_offset:data_offset + data_count]
    if setup > 4 or len(data) < 28 or data[0] not in HOST_ANNOUNCEMENTS:
        return None
    (server_type,) = struct.unpack_from("<I", data, 24)
    return data[22], data[23], server_type


def _smb1_record(pkt: Packet, msg: bytes | None) -> list[Observation]:
    if msg is None or msg[:4] != SMB1:
        return []
    if len(msg) < 33:
        raise IndexError("smb1: header truncated")
    acc: dict[str, Any] = {"offered": [], "chosen": None, "smb1": False}
    _smb1(msg, acc)
    out: list[Observation] = [SmbObs(**pkt.envelope(), dialects_offered=tuple(acc["offered"]),
                                     dialect_chosen=acc["chosen"], smb1=True)]
    announced = browser_os(msg)
    if announced is not None:
        major, minor, server_type = announced
        if server_type & SV_TYPE_SERVER_UNIX:
            family, version = "Unix", None  # Samba announces a configurable version, not its OS
        else:
            family, version = oshint.ntlm_os(major, minor, 0)
        if family == "unknown":  # 4.x: Windows 9x/NT 4 or a Samba default; nothing the OS tables know
            return out
        out.append(OsHint(**pkt.envelope(), mac=pkt.src_mac, ip=pkt.src_ip, method="smb-browser",
                          family=family, version=version, confidence=0.6))
    return out


def datagram_decode(pkt: Packet, ctx: DecodeContext) -> list[Observation]:
    """One SmbObs (smb1) per NetBIOS datagram carrying an SMB1 message."""
    return _smb1_record(pkt, datagram_user_data(pkt.payload))


def netbeui_decode(pkt: Packet, ctx: DecodeContext) -> list[Observation]:
    """One SmbObs (smb1) per NetBEUI frame carrying an SMB1 message."""
    return _smb1_record(pkt, netbeui_user_data(pkt.payload))


def datagram_probe(payload: bytes) -> bool:
    try:
        data = datagram_user_data(payload)
    except (ValueError, IndexError, struct.error):
        return False
    return data is not None and data[:4] == SMB1


DETECTOR = Detector(
    name="smb",
    layer="tcp",
    decode=decode,
    probe=probe,
    ports=frozenset({139, 445}),
    app="smb",
    bpf_hint="tcp port 445 or tcp port 139",
    description="SMB1/SMB2 negotiate dialects and NTLMSSP version/host/domain (MS-SMB2, MS-NLMP).",
)
DETECTORS = [Detector(
    name="smb-dgm",
    layer="udp",
    decode=datagram_decode,
    probe=datagram_probe,
    ports=frozenset({NBDS_PORT}),
    app="smb",
    bpf_hint="udp port 138",
    description="SMB1 over the NetBIOS datagram service (RFC 1002 4.4; browser and mailslot messages).",
), Detector(
    name="smb-netbeui",
    layer="ether",
    decode=netbeui_decode,
    llc_saps=frozenset({NETBEUI_SAP}),
    app="smb",
    bpf_hint="llc",
    description="SMB1 over NetBEUI (NetBIOS Frames, 802.2 LLC SAP 0xF0).",
)]
