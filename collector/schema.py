"""Observation records: the one place that defines what the collector emits.

Every record the sensor produces is a frozen pydantic model with a documented
field list, in the spirit of Zeek's log records.  All records share the
`Observation` envelope (packet time, sensor, capture source, frame number, VLAN
and the addresses of the frame that carried the evidence); each protocol adds a
typed subclass discriminated by `kind`.  New fields are added as optional only,
so that older JSON-lines files and older sensors stay readable
(`SCHEMA_VERSION` goes in every JSON-lines header and ingest batch).

Patient data never enters a record: HL7 keeps MSH-3..MSH-12 only, DICOM keeps
the association header only, staff identities are kept as a keyed hash or a
present/absent flag.  Anything that is not a field below is not stored.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

SCHEMA_VERSION = 1

Transport = Literal["tcp", "udp", "icmp", "icmpv6", "sctp", "other"]


class Record(BaseModel):
    """Base of every record: immutable, no unknown field accepted."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    # Pickled as its field values alone: replay and capture workers send every record they emit to
    # the merging process (collector.shard.PipeSink), which unpickles hundreds of thousands of them.
    # pydantic's own state also carries the set of fields given at construction, and none (never
    # extra or private ones here); unpickling that took 12.3 us a record on the identity bench mix,
    # this 5.9 us, and the pickled records are 30 % smaller.  Every field counts as given once
    # unpickled: the record is equal to the one sent, and medtap never asks which fields were given.
    def __getstate__(self) -> dict[str, Any]:
        return self.__dict__

    def __setstate__(self, state: dict[str, Any]) -> None:
        _setattr(self, "__dict__", state)
        _setattr(self, "__pydantic_fields_set__", set(state))
        _setattr(self, "__pydantic_extra__", None)
        _setattr(self, "__pydantic_private__", None)


_setattr = object.__setattr__


class Observation(Record):
    """The envelope shared by every observation (one evidence-carrying frame)."""

    kind: str = Field(description="Record type, the discriminator of the union.")
    ts: float = Field(description="Packet time (epoch seconds) of the evidence frame; never wall-clock.")
    sensor: str = Field(default="", description="Id of the sensor that saw the frame.")
    source: str = Field(default="", description="Capture file name or interface the frame came from.")
    frame_no: int = Field(default=0, description="1-based frame number in `source` (evidence pointer).")
    vlan: int | None = Field(default=None, description="Innermost 802.1Q VLAN id, None when untagged.")
    outer_vlan: int | None = Field(default=None,
                                   description="Outer (QinQ 0x88a8/0x9100) VLAN id, if stacked.")
    src_mac: str | None = Field(default=None, description="Source MAC of the frame, lower-case colon form.")
    dst_mac: str | None = Field(default=None, description="Destination MAC of the frame.")
    src_ip: str | None = Field(default=None, description="Source IP address (v4 or v6).")
    dst_ip: str | None = Field(default=None, description="Destination IP address.")
    src_port: int | None = Field(default=None, description="Source TCP/UDP port.")
    dst_port: int | None = Field(default=None, description="Destination TCP/UDP port.")
    transport: Transport | None = Field(default=None, description="L4 protocol of the frame.")
    tunnel: str | None = Field(
        default=None,
        description="Encapsulation the frame was found in (capwap, lwapp, aruba-gre, vxlan, dot11)."
    )
    count: int = Field(
        default=1, ge=1,
        description="Observations this record stands for: identical records (same fact, "
        "collector/facts.py) are merged into one whose envelope is the first one's (the evidence "
        "pointer) and whose count is their sum.",
    )
    last_ts: float | None = Field(
        default=None,
        description="Packet time of the last merged observation; None for a single one (then `ts`)."
    )


# --------------------------------------------------------------------------- aggregates


class HostSighting(Observation):
    """A (MAC, IP, VLAN) triple seen as a frame source; aggregated per flush period."""

    kind: Literal["host"] = "host"
    mac: str = Field(description="MAC address of the host (the frame's source MAC).")
    ip: str | None = Field(default=None, description="IP address it used as source, None for L2-only frames.")
    first_ts: float = Field(description="First frame time in the period.")
    last_ts: float = Field(description="Last frame time in the period.")
    frames: int = Field(default=0, description="Frames sent by this (MAC, IP, VLAN) in the period.")
    bytes: int = Field(default=0, description="Bytes sent (frame length on the wire) in the period.")
    ttl: int | None = Field(default=None, description="IP TTL / hop limit of its first IP frame (OS hint).")
    wifi: bool = Field(default=False,
                       description="True when the frame came out of an 802.11 or Wi-Fi tunnel.")


class Conversation(Observation):
    """Accounting of one conversation, keyed by VLAN, addresses, transport and server port.

    The client is the side that opened it (TCP SYN) or, failing that, the side
    using the higher (ephemeral) port.  Envelope addresses are those of the first frame.
    """

    kind: Literal["conversation"] = "conversation"
    client_mac: str | None = Field(default=None, description="MAC of the client side (as seen on the wire).")
    client_ip: str = Field(description="Client IP address.")
    server_mac: str | None = Field(default=None, description="MAC of the server side.")
    server_ip: str = Field(description="Server IP address.")
    server_port: int | None = Field(default=None, description="Server port (None for ICMP and other).")
    client_port: int | None = Field(default=None, description="Client port of the first frame.")
    packets_c2s: int = Field(default=0, description="Frames client to server.")
    packets_s2c: int = Field(default=0, description="Frames server to client.")
    bytes_c2s: int = Field(default=0, description="Bytes client to server (wire length).")
    bytes_s2c: int = Field(default=0, description="Bytes server to client.")
    first_ts: float = Field(description="First frame time.")
    last_ts: float = Field(description="Last frame time.")
    syn_seen: bool = Field(default=False,
                           description="The TCP handshake was seen, so the direction is certain.")
    app: str | None = Field(default=None,
                            description="Application protocol a detector identified by content.")
    community_id: str | None = Field(default=None, description="Community ID v1 of the flow.")


class CaptureStats(Observation):
    """Counters of one replay or capture run (Suricata `stats:` in spirit)."""

    kind: Literal["stats"] = "stats"
    packets: int = Field(default=0, description="Frames read.")
    bytes: int = Field(default=0, description="Bytes read (captured length).")
    malformed: int = Field(default=0, description="Malformed frames: frames with at least one weird (counted "
                           "once each) plus the capture reader's weirds (one per damaged record).")
    weirds: dict[str, int] = Field(default_factory=dict, description="Weird name -> count.")
    first_ts: float | None = Field(default=None, description="Time of the first frame.")
    last_ts: float | None = Field(default=None, description="Time of the last frame.")
    kernel_drops: int | None = Field(default=None,
                                     description="Frames the kernel dropped (live capture only).")
    queue_drops: int = Field(default=0, description="Frames dropped in medtap's own queue (live only).")
    truncated: bool = Field(default=False, description="A capture file ended in the middle of a record.")
    files: list[str] = Field(default_factory=list, description="Capture files read, in order.")
    linktypes: dict[str, int] = Field(default_factory=dict, description="Link type name -> frames.")
    table_overflow: dict[str, int] = Field(
        default_factory=dict, description="Table name -> entries refused because the table was at its cap."
    )
    aged_out: dict[str, int] = Field(
        default_factory=dict,
        description="Table name -> idle entries dropped (last seen more than the table idle "
        "time before the newest frame, collector/flows.py DEFAULT_TABLE_IDLE), so that memory stays "
        "flat on a capture that runs for weeks; a host or conversation heard again starts a new entry.")
    deep_repeats: int = Field(
        default=0,
        description="Identity frames not decoded again because one with the same identity (same detector, "
        "VLAN, MACs, IPs, service ports and identity bytes of the payload) was already decoded in the same "
        "flush period (collector/deep.py); each is counted in the count and last time of the facts that "
        "decode gave.",
    )
    tcp_streams_refused: int = Field(
        default=0,
        description="TCP connections (client SYNs) whose first payload bytes no detector saw because their "
        "conversation (same client, server, server port and VLAN) was already following its maximum of "
        "parallel connections (collector/flows.py MAX_PARALLEL_STREAMS), none of them stale; connections "
        "beyond a conversation's total budget (MAX_STREAMS_PER_CONVERSATION) are not counted here.",
    )
    workers: list[int] = Field(
        default_factory=list,
        description="Frames each worker process handled, in worker order, when the run used several "
        "(`--workers`; collector/shard.py shards by a symmetric hash of the endpoints); empty with one.",
    )


class Weird(Observation):
    """A malformed or unexpected input, counted and named, never an exception."""

    kind: Literal["weird"] = "weird"
    name: str = Field(description="Stable weird name, e.g. dicom_truncated_pdu, pcap_truncated_record.")
    detail: str = Field(default="", description="Short explanation; never payload bytes.")


# --------------------------------------------------------------------------- L2 / identity


class ArpObs(Observation):
    """ARP request or reply (RFC 826)."""

    kind: Literal["arp"] = "arp"
    op: Literal["request", "reply", "other"] = Field(description="ARP operation.")
    sender_mac: str = Field(description="Sender hardware address.")
    sender_ip: str = Field(description="Sender protocol address.")
    target_mac: str = Field(description="Target hardware address.")
    target_ip: str = Field(description="Target protocol address.")
    gratuitous: bool = Field(default=False, description="Sender IP equals target IP.")


class DhcpObs(Observation):
    """DHCPv4 message (RFC 2131/2132): identity options and server identity."""

    kind: Literal["dhcp"] = "dhcp"
    message_type: str = Field(description="discover, offer, request, decline, ack, nak, release, inform.")
    client_mac: str = Field(description="chaddr.")
    hostname: str | None = Field(default=None, description="Option 12.")
    vendor_class: str | None = Field(default=None, description="Option 60.")
    param_request_list: tuple[int, ...] = Field(default=(), description="Option 55, in order.")
    fingerprint: str | None = Field(default=None, description="Option 55 as comma-joined decimals.")
    client_id: str | None = Field(default=None, description="Option 61 as hex.")
    fqdn: str | None = Field(default=None, description="Option 81 domain name.")
    requested_ip: str | None = Field(default=None, description="Option 50.")
    assigned_ip: str | None = Field(default=None, description="yiaddr of an offer/ack.")
    server_id: str | None = Field(default=None, description="Option 54 (server identifier).")
    relay_ip: str | None = Field(default=None, description="giaddr.")
    options: tuple[int, ...] = Field(default=(), description="Option codes present, in order.")


class LldpObs(Observation):
    """LLDP (IEEE 802.1AB) from a switch or device: where a device is cabled."""

    kind: Literal["lldp"] = "lldp"
    chassis_id: str = Field(description="Chassis ID (MAC, name or address as text).")
    port_id: str = Field(description="Port ID.")
    port_description: str | None = Field(default=None, description="Port description TLV.")
    system_name: str | None = Field(default=None, description="System name TLV.")
    system_description: str | None = Field(default=None, description="System description TLV.")
    capabilities: tuple[str, ...] = Field(default=(),
                                          description="Enabled capabilities (bridge, router, wlan-ap...).")
    mgmt_ip: str | None = Field(default=None, description="Management address.")
    port_vlan: int | None = Field(default=None, description="802.1 port VLAN id.")
    med_device_class: str | None = Field(default=None, description="LLDP-MED device class.")
    med_manufacturer: str | None = Field(default=None, description="LLDP-MED inventory manufacturer.")
    med_model: str | None = Field(default=None, description="LLDP-MED inventory model.")
    med_software: str | None = Field(default=None, description="LLDP-MED software revision.")
    mud_url: str | None = Field(default=None, description="MUD URL (RFC 8520) if announced.")


class CdpObs(Observation):
    """Cisco Discovery Protocol announcement."""

    kind: Literal["cdp"] = "cdp"
    device_id: str = Field(description="Device ID.")
    port_id: str | None = Field(default=None, description="Port ID.")
    platform: str | None = Field(default=None, description="Platform.")
    software_version: str | None = Field(default=None, description="First line of the software version.")
    native_vlan: int | None = Field(default=None, description="Native VLAN.")
    duplex: str | None = Field(default=None, description="half or full.")
    capabilities: tuple[str, ...] = Field(default=(), description="Capabilities (router, switch, host...).")
    mgmt_ip: str | None = Field(default=None, description="First address TLV.")


class DnsAnswer(Record):
    """One resource record of a DNS answer."""

    name: str = Field(description="Owner name.")
    rtype: str = Field(description="Type mnemonic (A, AAAA, PTR, SRV, TXT...).")
    value: str = Field(description="Rdata as text (TXT truncated).")


class DnsObs(Observation):
    """DNS, mDNS/DNS-SD or LLMNR message: names a host asks for or announces."""

    kind: Literal["dns"] = "dns"
    protocol: Literal["dns", "mdns", "llmnr"] = Field(description="Which flavour.")
    response: bool = Field(description="QR bit.")
    queries: tuple[str, ...] = Field(default=(), description="Question names.")
    answers: tuple[DnsAnswer, ...] = Field(default=(), description="Answer and additional records.")


class NetbiosObs(Observation):
    """NetBIOS name service (RFC 1002) registration, query or response."""

    kind: Literal["netbios"] = "netbios"
    op: str = Field(description="query, registration, release, refresh, response, status (NBSTAT answer).")
    name: str = Field(description="NetBIOS name without suffix.")
    suffix: int = Field(description="Name type suffix (0x00 workstation, 0x20 server...).")
    group: bool = Field(default=False, description="Group name flag.")
    address: str | None = Field(default=None, description="Address registered or answered.")


class SsdpObs(Observation):
    """SSDP (UPnP) announcement or search."""

    kind: Literal["ssdp"] = "ssdp"
    method: str = Field(description="NOTIFY, M-SEARCH or HTTP response.")
    server: str | None = Field(default=None, description="SERVER header.")
    user_agent: str | None = Field(default=None, description="USER-AGENT header.")
    location: str | None = Field(default=None, description="LOCATION header.")
    st: str | None = Field(default=None, description="ST or NT header.")
    usn: str | None = Field(default=None, description="USN header.")


# --------------------------------------------------------------------------- application identity


class HttpObs(Observation):
    """HTTP/1.x request or response header (never the body)."""

    kind: Literal["http"] = "http"
    method: str | None = Field(default=None, description="Request method.")
    host: str | None = Field(default=None, description="Host header.")
    path: str | None = Field(default=None, description="Request path without query string, cut at 128 chars.")
    user_agent: str | None = Field(default=None, description="User-Agent header.")
    server: str | None = Field(default=None, description="Server header of a response.")
    status: int | None = Field(default=None, description="Response status code.")
    basic_auth: bool = Field(default=False,
                             description="An Authorization: Basic header was sent (value not kept).")


class TlsObs(Observation):
    """TLS ClientHello / ServerHello identity: SNI and fingerprints."""

    kind: Literal["tls"] = "tls"
    hello: Literal["client", "server"] = Field(description="Which hello.")
    version: str | None = Field(default=None, description="Negotiated or offered max version, e.g. TLS1.2.")
    sni: str | None = Field(default=None, description="server_name extension.")
    alpn: tuple[str, ...] = Field(default=(), description="ALPN protocols.")
    ja3: str | None = Field(default=None, description="JA3 (client) or JA3S (server) MD5.")
    ja4: str | None = Field(default=None, description="JA4 (client) fingerprint.")
    ja3_string: str | None = Field(default=None,
                                   description="JA3 (client) or JA3S (server) string before MD5.")
    versions: tuple[str, ...] = Field(default=(),
                                      description="supported_versions extension (offered or selected).")


class SshObs(Observation):
    """SSH identification string (RFC 4253 section 4.2)."""

    kind: Literal["ssh"] = "ssh"
    role: Literal["client", "server"] = Field(description="Which side sent the banner.")
    banner: str = Field(description="Identification string, cut at 255 chars.")
    software: str | None = Field(default=None, description="softwareversion part.")


class SmbObs(Observation):
    """SMB negotiate (v1 or v2/3) and NTLM identity."""

    kind: Literal["smb"] = "smb"
    dialects_offered: tuple[str, ...] = Field(default=(), description="Dialects a client offers.")
    dialect_chosen: str | None = Field(default=None, description="Dialect the server chose.")
    smb1: bool = Field(default=False, description="SMBv1 was offered or negotiated.")
    ntlm_os_version: str | None = Field(default=None, description="NTLMSSP version as major.minor.build.")
    ntlm_host: str | None = Field(default=None, description="NetBIOS computer name from NTLM.")
    ntlm_domain: str | None = Field(default=None, description="NetBIOS domain name from NTLM.")
    versions: tuple[str, ...] = Field(
        default=(), description="SMB families whose messages were seen: smb1 (0xFF 'SMB' header), smb2 "
        "(0xFE 'SMB' header, dialect 2.x or not negotiated in the capture), smb3 (dialect 3.x or a 0xFD "
        "transform).")


class SnmpObs(Observation):
    """SNMP message: version and community use (the community itself is never kept)."""

    kind: Literal["snmp"] = "snmp"
    version: Literal["v1", "v2c", "v3"] = Field(description="SNMP version.")
    pdu: str | None = Field(default=None, description="PDU type (get, set, trap, response...).")
    community_default: bool = Field(default=False, description="The community is a well-known default.")
    set_oids: tuple[str, ...] = Field(
        default=(), description="SetRequest (v1/v2c, v3 without privacy): object identifiers it sets, never "
        "the values.")
    encrypted: bool | None = Field(
        default=None, description="v3: msgFlags privFlag (RFC 3412 section 6.4): the scopedPDU is encrypted "
        "(RFC 3414 section 8), so its PDU type is not visible.")
    reportable: bool | None = Field(
        default=None, description="v3: msgFlags reportableFlag (RFC 3412 section 6.4), always set on a "
        "Confirmed Class PDU (Get, GetNext, GetBulk, Set, Inform; RFC 3411 section 2.8) and never on a "
        "Response, Report or Trap: the message is a request.")


class NtpObs(Observation):
    """NTP message header (RFC 5905): who keeps time for whom."""

    kind: Literal["ntp"] = "ntp"
    version: int = Field(description="NTP version (1 to 4).")
    mode: Literal["symmetric-active", "symmetric-passive", "client", "server", "broadcast", "control",
                  "private"] = Field(description="Association mode; control is ntpq (mode 6), private ntpdc "
                                     "(mode 7).")
    stratum: int | None = Field(default=None, description="Stratum (modes 1 to 5); 0 is a kiss-o'-death.")
    reference_id: str | None = Field(default=None,
                                     description="Kiss code or clock source (stratum 0/1), else the IPv4 "
                                     "address of the upstream server (IPv6: its 4-byte hash in hex).")


class OsHint(Observation):
    """A passive operating-system hint with its source and confidence."""

    kind: Literal["os_hint"] = "os_hint"
    mac: str | None = Field(default=None, description="MAC of the host the hint is about.")
    ip: str | None = Field(default=None, description="IP of the host the hint is about.")
    method: str = Field(description="ttl, tcp-syn, dhcp, smb-ntlm, smb-browser, http-ua, ssh, ...")
    family: str = Field(description="OS family: Windows, Linux, macOS, iOS, Android, embedded, ...")
    version: str | None = Field(default=None, description="OS version, e.g. XP, 7, 10, 2.6.")
    confidence: float = Field(description="0..1.")


# --------------------------------------------------------------------------- medical


class DicomObs(Observation):
    """DICOM upper layer PDU (PS3.8 section 9): association identity only, never data sets."""

    kind: Literal["dicom"] = "dicom"
    pdu: str = Field(description="associate-rq, associate-ac, associate-rj, abort, release-rq, release-rp, "
                     "p-data.")
    calling_ae: str | None = Field(default=None, description="Calling AE title.")
    called_ae: str | None = Field(default=None, description="Called AE title.")
    application_context: str | None = Field(default=None, description="Application context UID.")
    abstract_syntaxes: tuple[str, ...] = Field(default=(), description="Proposed SOP class UIDs.")
    modality_hints: tuple[str, ...] = Field(default=(),
                                            description="CT, MR, US, CR/DX, NM, PT, XA, SC, worklist...")
    implementation_class_uid: str | None = Field(default=None, description="Implementation class UID.")
    implementation_version: str | None = Field(default=None, description="Implementation version name.")
    user_identity: bool = Field(default=False,
                                description="A user-identity sub-item was present (value not kept).")
    result: str | None = Field(default=None, description="Reject/abort result and reason as text.")
    dimse_commands: tuple[str, ...] = Field(
        default=(), description="p-data: DIMSE commands seen in the stream prefix (Command Field only, e.g. "
        "N-SET-RQ, C-STORE-RQ); data sets are never read.")
    tls: bool = Field(default=False, description="Seen as DICOM-TLS (port 2762 with a TLS handshake).")


class Hl7Obs(Observation):
    """HL7 v2 message header over MLLP: MSH-3..MSH-12 only; every other segment is PHI and dropped."""

    kind: Literal["hl7"] = "hl7"
    sending_application: str | None = Field(default=None, description="MSH-3.")
    sending_facility: str | None = Field(default=None, description="MSH-4.")
    receiving_application: str | None = Field(default=None, description="MSH-5.")
    receiving_facility: str | None = Field(default=None, description="MSH-6.")
    message_type: str | None = Field(default=None, description="MSH-9, e.g. ORU^R01.")
    processing_id: str | None = Field(default=None, description="MSH-11.")
    version: str | None = Field(default=None, description="MSH-12, e.g. 2.5.")
    mllp: bool = Field(default=True, description="Framed with MLLP 0x0b ... 0x1c 0x0d.")


class SdcObs(Observation):
    """IEEE 11073 SDC / DPWS WS-Discovery message (UDP 3702)."""

    kind: Literal["sdc"] = "sdc"
    action: str = Field(description="hello, bye, probe, probe-match, resolve, resolve-match.")
    endpoint_reference: str | None = Field(default=None, description="wsa:EndpointReference address.")
    types: tuple[str, ...] = Field(default=(), description="wsd:Types.")
    scopes: tuple[str, ...] = Field(default=(), description="wsd:Scopes; operator scopes are pseudonymised.")
    xaddrs: tuple[str, ...] = Field(default=(), description="wsd:XAddrs.")


class IntellivueObs(Observation):
    """Philips IntelliVue data export: connect indication (UDP 24005) or session (UDP 24105)."""

    kind: Literal["intellivue"] = "intellivue"
    message: str = Field(description="connect-indication or association/session message name.")
    monitor_mac: str | None = Field(default=None,
                                    description="Monitor MAC carried in the connect indication.")
    monitor_ip: str | None = Field(default=None, description="Monitor IP carried in the connect indication.")
    subnet_mask: str | None = Field(default=None,
                                    description="Subnet mask carried in the connect indication.")
    bed_label: str | None = Field(default=None, description="Bed label (a location, not a patient).")


class PoctObs(Observation):
    """POCT1-A2 device identity (HEL/DST messages; OBS messages are PHI and dropped)."""

    kind: Literal["poct"] = "poct"
    message_type: str = Field(description="HEL.R01, DST.R01, ...")
    device_id: str | None = Field(default=None, description="DEV.device_id.")
    vendor_id: str | None = Field(default=None, description="DEV.vendor_id.")
    model_id: str | None = Field(default=None, description="DEV.model_id.")
    serial: str | None = Field(default=None, description="DEV.serial_id.")


class AstmObs(Observation):
    """ASTM E1381/LIS2-A2 header record: identifies the analyzer (P, O, R records are PHI)."""

    kind: Literal["astm"] = "astm"
    sender: str | None = Field(default=None, description="H-5 sender name or id (analyzer).")
    manufacturer: str | None = Field(default=None, description="H-5 component: manufacturer.")
    instrument: str | None = Field(default=None, description="H-5 component: instrument.")
    software_version: str | None = Field(default=None, description="H-5 component: software version.")
    processing_id: str | None = Field(default=None, description="H-12.")
    version: str | None = Field(default=None, description="H-13 ASTM version.")


# --------------------------------------------------------------------------- remote access / Wi-Fi


class RemoteAccessObs(Observation):
    """A remote-access or tunnel session identified by content, port or SNI."""

    kind: Literal["remote_access"] = "remote_access"
    method: str = Field(description="teamviewer, anydesk, vnc, rdp, telnet, ssh, ftp, screenconnect, "
                        "ipsec, ...")
    signature: str = Field(description="Id of the signature or detector that matched.")
    evidence: Literal["content", "port",
                      "sni"] = Field(description="What matched: bytes, port only, or TLS SNI.")
    confidence: float = Field(description="0..1.")
    client_ip: str | None = Field(default=None, description="Initiating side.")
    server_ip: str | None = Field(default=None, description="Accepting side.")
    server_port: int | None = Field(default=None, description="Server port.")
    detail: str | None = Field(default=None, description="Banner, version or SNI (no credentials).")
    user_present: bool = Field(default=False,
                               description="A user name was present (RDP cookie, FTP USER...).")
    user_hash: str | None = Field(default=None, description="Keyed hash of that user name, never the name.")


class WifiObs(Observation):
    """Evidence that a client is on Wi-Fi, with its strength."""

    kind: Literal["wifi"] = "wifi"
    evidence: str = Field(
        description="capwap, lwapp, aruba-gre, radius, lldp-ap, dot11, radio-oui, dhcp-fingerprint."
    )
    client_mac: str | None = Field(default=None, description="Wireless client MAC.")
    client_ip: str | None = Field(default=None, description="Client IP when known.")
    ap_mac: str | None = Field(default=None, description="Access point (radio or BSSID) MAC.")
    ssid: str | None = Field(default=None, description="SSID.")
    confidence: float = Field(description="0..1 (1.0 for deterministic evidence).")


AnyObservation = Annotated[
    HostSighting | Conversation | CaptureStats | Weird | ArpObs | DhcpObs | LldpObs | CdpObs | DnsObs
    | NetbiosObs | SsdpObs | HttpObs | TlsObs | SshObs | SmbObs | SnmpObs | NtpObs | OsHint | DicomObs
    | Hl7Obs | SdcObs | IntellivueObs | PoctObs | AstmObs | RemoteAccessObs | WifiObs,
    Field(discriminator="kind"),
]

_ADAPTER: TypeAdapter[Any] = TypeAdapter(AnyObservation)


def parse_observation(data: dict[str, Any] | str | bytes) -> Observation:
    """Validate one JSON object (or JSON text) into its typed record."""
    if isinstance(data, (str, bytes)):
        return _ADAPTER.validate_json(data)
    return _ADAPTER.validate_python(data)


def kinds() -> dict[str, type[Observation]]:
    """Map of kind -> record class (for docs and the schema export)."""
    out: dict[str, type[Observation]] = {}
    for cls in AnyObservation.__origin__.__args__:  # type: ignore[attr-defined]
        out[cls.model_fields["kind"].default] = cls
    return out
