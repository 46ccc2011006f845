"""The stored form of a fact: a 64-bit key and a small compressed blob beside the columns.

A fact row (store.models.FactRow) keeps `kind`, `sensor`, `count`, `first_ts` and `last_ts` as
columns, because queries filter and aggregate on them; repeating them in the record's JSON doubled
what a row cost.  The blob holds the rest of the record: one version byte, one flags byte, then the
record's JSON without those fields (fields at their default left out, as the raw rows), compressed
with raw deflate and a preset dictionary.  Facts are short (a few hundred bytes) and alike, so
most of what deflate would otherwise spend on field names and common values is found in the
dictionary: about 2.5x smaller than the JSON on the bench mixes.

The blob is made in the collector, not in the store that keeps it: with several workers each
encodes the records it sends (collector.shard.PipeSink), in parallel, and the process
that writes only encodes what was merged there (`merge_blob` says when even that is not needed).

The dictionary is frozen here, version 1.  It must never change: rows written with it are read
with it.  A better one becomes version 2 beside it (`_DICTS`), and old rows stay readable.

The flags say how the times of the record follow from the columns, so that `decode(encode(o))`
gives `o` back exactly, and so that merging a newer record of a known fact (store.facts) needs to
rewrite the columns only:
- F_TS: `ts` equals the `first_ts` column (always, except for host and conversation aggregates whose
  envelope is not their first frame);
- F_FIRST: the `first_ts` field (host, conversation, stats) equals the `first_ts` column;
- `last_ts` is never in the blob: it is the `last_ts` column, or None when F_LAST_NONE is set, or
  F_LAST_NONE_SINGLE is set and the count is still 1 (a single record has no last time; once it
  is merged it has one, and the blob need not change);
- F_SUMS: the summed counters of a host or conversation (collector.facts.SUMMED) are not in the
  blob but in the row's `sum1`..`sum4` columns, in SUMMED's order (`sums`), so that a later period
  of a known host or conversation, the most frequent write of a long capture, updates columns
  only; rows written before these columns existed hold them in the blob, without F_SUMS;
- F_SYN: the record's `syn_seen` is true (it is in the blob as well): merging a later record
  whose `syn_seen` is true changes nothing then;
- F_BEFORE_LAST: `ts` and the `first_ts` field are at most the `last_ts` column (true of every
  record the collector makes; merging only moves the last time on), so that a record beginning
  after the `last_ts` column provably leaves them as they are.
"""

from __future__ import annotations

import json
import zlib
from typing import Any

from collector.facts import SUMMED, envelope
from collector.schema import Observation, parse_observation

RAW = 0
"""Version byte: the JSON body as is (when deflate would not make it smaller)."""
ZLIB_1 = 1
"""Version byte: raw deflate (no zlib header or checksum: the database keeps the row whole) with ZDICT_1."""

F_TS = 1
F_FIRST = 2
F_LAST_NONE_SINGLE = 4
F_LAST_NONE = 8
F_SUMS = 16
F_SYN = 32
F_BEFORE_LAST = 64
SUM_COLUMNS = 4
"""Columns `sum1`..`sum4` of a fact row: enough for the longest tuple of collector.facts.SUMMED."""
Sums = tuple[int | None, int | None, int | None, int | None]
NO_SUMS: Sums = (None, None, None, None)

COLUMNS = frozenset({"kind", "sensor", "count", "last_ts"})
"""Fields never in the blob (columns, or derived from them: module docstring)."""

# Built once from collector.schema (kinds, field names, common values; the names most kinds share
# last, where deflate reaches them with the shortest distances) and frozen: see the module docstring.
ZDICT_1 = (
    b'"host""conversation""stats""weird""arp""dhcp""lldp""cdp""dns""netbios""ssdp""http""tls""ssh""smb""sn'
    b'mp""ntp""os_hint""dicom""hl7""sdc""intellivue""poct""astm""remote_access""wifi""transport":"udp""tra'
    b'nsport":"tcp""protocol":"dns""protocol":"mdns""protocol":"llmnr""response":false"response":true"rtyp'
    b'e":"A""rtype":"AAAA""rtype":"PTR""rtype":"SRV""rtype":"TXT".local_tcp_udp.example"hello":"client""he'
    b'llo":"server""op":"request""op":"reply""message_type":"request""message_type":"discover""method":"NO'
    b'TIFY""method":"M-SEARCH""app":"dicom""app":"hl7""app":"dns""app":"http""app":"tls""app":"sdc""app":"'
    b'ntp""mode":"client""mode":"server""version":4"version":"TLS1.2""version":"TLS1.3""community_id":"1:"'
    b'syn_seen":true"ttl":64"ttl":128"ts":17"first_ts":17"frame_no":"source":".pcap""dst_mac":"ff:ff:ff:ff'
    b':ff:ff""dst_mac":"01:00:5e:"dst_ip":"239.255.255.250""dst_ip":"224.0.0.251""dst_ip":"255.255.255.255'
    b'"urn:schemas-upnp-org:device:uuid:urn:uuid:http://"family":"Windows""family":"Linux""method":"ttl""c'
    b'onfidence":0."dst_port":53"src_port":53"dst_port":443"dst_port":104"server_port":53"server_port":443'
    b'"server_port":104"dst_port":3702"dst_port":1900"dst_port":123"dst_port":67"dst_port":68"src_port":68'
    b'"src_port":67"packets_c2s":1"packets_s2c":1"abstract_syntaxes":"action":"address":"aged_out":"alpn":'
    b'"answers":"ap_mac":"app":"application_context":"assigned_ip":"banner":"basic_auth":"bed_label":"byte'
    b's_c2s":"bytes_s2c":"called_ae":"calling_ae":"chassis_id":"client_id":"client_port":"community_defaul'
    b't":"community_id":"deep_repeats":"dialect_chosen":"dialects_offered":"dimse_commands":"duplex":"encr'
    b'ypted":"endpoint_reference":"family":"files":"fingerprint":"fqdn":"frames":"gratuitous":"group":"hel'
    b'lo":"host":"hostname":"implementation_class_uid":"implementation_version":"instrument":"ja3":"ja3_st'
    b'ring":"ja4":"kernel_drops":"linktypes":"location":"malformed":"manufacturer":"med_device_class":"med'
    b'_manufacturer":"med_model":"med_software":"message":"mllp":"modality_hints":"mode":"model_id":"monit'
    b'or_ip":"monitor_mac":"mud_url":"native_vlan":"ntlm_domain":"ntlm_host":"ntlm_os_version":"options":"'
    b'packets":"packets_c2s":"packets_s2c":"param_request_list":"path":"platform":"port_description":"port'
    b'_vlan":"protocol":"queries":"queue_drops":"receiving_application":"receiving_facility":"reference_id'
    b'":"relay_ip":"reportable":"requested_ip":"response":"result":"role":"scopes":"sender":"sender_ip":"s'
    b'ender_mac":"sending_application":"sending_facility":"serial":"server_id":"server_mac":"set_oids":"si'
    b'gnature":"smb1":"sni":"software":"ssid":"st":"status":"stratum":"subnet_mask":"suffix":"syn_seen":"s'
    b'ystem_description":"system_name":"table_overflow":"target_ip":"target_mac":"tcp_streams_refused":"tl'
    b's":"truncated":"ttl":"types":"user_hash":"user_identity":"user_present":"usn":"vendor_class":"vendor'
    b'_id":"weirds":"wifi":"workers":"xaddrs":"bytes":"capabilities":"detail":"device_id":"evidence":"ip":'
    b'"mac":"mgmt_ip":"name":"op":"pdu":"port_id":"processing_id":"server":"server_ip":"server_port":"soft'
    b'ware_version":"user_agent":"versions":"client_ip":"client_mac":"confidence":"first_ts":"message_type'
    b'":"method":"version":"dst_ip":"dst_mac":"dst_port":"frame_no":"outer_vlan":"source":"src_ip":"src_ma'
    b'c":"src_port":"transport":"ts":"tunnel":"vlan":'
)
ZDICT_1_SHA256 = "c0ee93d3c6d7989a244fc7b83e83862731d7038da2c57b1b3e80de3f8906b9b0"
"""What tests check ZDICT_1 against: a changed byte would make every stored row unreadable."""

_DICTS: dict[int, bytes] = {ZLIB_1: ZDICT_1}
_INFLATE_WBITS = -15
"""Raw inflate with the largest window: it reads a stream deflated with any window."""
_DEFLATE = zlib.compressobj(6, zlib.DEFLATED, -12, 2, zlib.Z_DEFAULT_STRATEGY, ZDICT_1)
"""Deflate primed with the dictionary, copied for each row: setting up deflate costs more than compressing
a row this short, and a copy of a small state (a 4 KiB window holds the dictionary, a small hash
table) is the cheapest setup; level 9 or larger tables gave the same size on the bench mixes."""

_EXCLUDE: dict[tuple[bool, bool], set[str]] = {
    (ts, first): set(COLUMNS) | ({"ts"} if ts else set()) | ({"first_ts"} if first else set())
    for ts in (False, True) for first in (False, True)}


def key64(fact_key: str) -> int:
    """The stored key of a fact: the first 8 bytes of collector.facts.fact_key as a signed 64-bit integer.

    A BIGINT indexes in about a third of the 32 hex digits; two distinct facts share a key with a
    probability of about n²/2^65 (1e-8 for a million facts)."""
    value = int(fact_key[:16], 16)
    return value - (1 << 64) if value >= 1 << 63 else value


def first_column(o: Observation) -> float:
    """The `first_ts` column of a record (collector.facts.first_seen)."""
    first = o.__dict__.get("first_ts")  # not getattr: a miss on a pydantic model raises, slowly
    return o.ts if first is None else min(o.ts, first)


def last_column(o: Observation) -> float:
    """The `last_ts` column of a record (collector.facts.last_seen)."""
    return o.last_ts if o.last_ts is not None else o.ts


def sums(o: Observation) -> Sums:
    """The `sum1`..`sum4` columns of a record: its SUMMED counters, None for the other kinds."""
    names = SUMMED.get(o.kind)
    if names is None:
        return NO_SUMS
    values = [o.__dict__[name] for name in names]
    return tuple(values + [None] * (SUM_COLUMNS - len(values)))


def encode(o: Observation, *, sums_in_columns: bool = True) -> bytes:
    """The blob of a record (module docstring); the columns are taken from the record by the caller
    (`sums(o)` for the summed counters).  `sums_in_columns=False`: the blob of a row without the
    `sum*` columns (migrations before 0010)."""
    first_field = o.__dict__.get("first_ts")
    first = o.ts if first_field is None else min(o.ts, first_field)
    flags = 0
    if o.ts == first:
        flags |= F_TS
    if first_field == first:
        flags |= F_FIRST
    if o.last_ts is None:
        flags |= F_LAST_NONE_SINGLE if o.count == 1 else F_LAST_NONE
    exclude = _EXCLUDE[bool(flags & F_TS), bool(flags & F_FIRST)]
    summed = SUMMED.get(o.kind)
    if summed is not None:
        last = last_column(o)
        if o.ts <= last and (first_field is None or first_field <= last):
            flags |= F_BEFORE_LAST
        if o.__dict__.get("syn_seen"):
            flags |= F_SYN
        if sums_in_columns:
            flags |= F_SUMS
            exclude = exclude | set(summed)
    body: bytes = o.__pydantic_serializer__.to_json(o, exclude_defaults=True, exclude=exclude)
    return _pack(flags, body)


def merge_blob(a: Observation, a_blob: bytes | None, b: Observation, b_blob: bytes | None) -> bytes | None:
    """The blob of `collector.facts.merge(a, b)` from the blobs of a and b, or None when it must be encoded.

    For a kind without summed counters, the merged record is the envelope record (the earlier one)
    with another `count` and `last_ts`: both are columns, never in the body, and its `ts` and
    `first_ts` are the envelope's, so its blob is the envelope's with the flags byte alone changed
    (a merged record has a last time: no F_LAST_NONE*).  Host and conversation records: None (their
    `syn_seen`, `first_ts` and flags may change; the store encodes them if the fact is new).
    """
    if a.kind in SUMMED:
        return None
    blob = a_blob if envelope(a, b) is a else b_blob
    if blob is None:
        return None
    return bytes((blob[0], blob[1] & ~(F_LAST_NONE_SINGLE | F_LAST_NONE))) + blob[2:]


def _pack(flags: int, body: bytes) -> bytes:
    deflate = _DEFLATE.copy()
    packed = deflate.compress(body) + deflate.flush()
    if len(packed) < len(body):
        return bytes((ZLIB_1, flags)) + packed
    return bytes((RAW, flags)) + body


def body(blob: bytes) -> bytes:
    """The JSON object a blob holds (without the column fields)."""
    version = blob[0]
    if version == RAW:
        return bytes(blob[2:])
    zdict = _DICTS.get(version)
    if zdict is None:
        raise ValueError(f"fact blob version {version} unknown to this medtap: upgrade it")
    inflate = zlib.decompressobj(_INFLATE_WBITS, zdict)
    return inflate.decompress(blob[2:]) + inflate.flush()


def fields(blob: bytes) -> dict[str, Any]:
    """The blob's fields as a dict, for readers that need a few of them and not a validated record."""
    out: dict[str, Any] = json.loads(body(blob))
    return out


def counters_only(blob: bytes, *, first_ts: float, last_ts: float, o: Observation) -> bool:
    """Whether merging `o`, a record of the fact of this row (its blob and its `first_ts` and `last_ts`
    columns), leaves the blob as it is, so that only the columns change (store.facts).

    For a kind without summed counters: `ts` is the `first_ts` column and `o` is later (the stored
    envelope stays); `last_ts` follows the columns once merged.  For a host or conversation: its
    counters are columns (F_SUMS), `o` begins after the row's last time, which is after its `ts` and
    `first_ts` field (F_BEFORE_LAST: the envelope and the `first_ts` field stay), and `o`'s `syn_seen`
    is false or already true in the blob."""
    flags = blob[1]
    if flags & F_LAST_NONE:
        return False
    if o.kind not in SUMMED:
        return bool(flags & F_TS) and o.ts > first_ts
    needed = F_SUMS | F_BEFORE_LAST
    if flags & needed != needed or min(o.ts, o.__dict__["first_ts"]) <= last_ts:
        return False
    return not o.__dict__.get("syn_seen") or bool(flags & F_SYN)


def decode(blob: bytes, *, kind: str, sensor: str, count: int, first_ts: float,
           last_ts: float, sums: Sums = NO_SUMS) -> Observation:
    """The record a row stands for: its blob completed with its columns."""
    flags = blob[1]
    head = f'{{"kind":"{kind}","sensor":{json.dumps(sensor)},"count":{count}'
    if flags & F_SUMS:
        for name, value in zip(SUMMED[kind], sums, strict=False):
            head += f',"{name}":{int(value or 0)}'
    if flags & F_TS:
        head += f',"ts":{first_ts!r}'
    if flags & F_FIRST:
        head += f',"first_ts":{first_ts!r}'
    if not (flags & F_LAST_NONE or (flags & F_LAST_NONE_SINGLE and count == 1)):
        head += f',"last_ts":{last_ts!r}'
    text = body(blob)
    return parse_observation(head.encode() + (b"," + text[1:] if len(text) > 2 else b"}"))
