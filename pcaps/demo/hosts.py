"""The demo hospital's address plan (shared contract: VLAN 110 imaging, 120 monitoring, 130 lab,
200 office, 300 Wi-Fi, 50 servers, 60 maintenance; router .1 on every VLAN).

Each host is `(mac, ip, vlan)`.  MAC prefixes are real IEEE OUIs of the vendors named in the
comments (checked with netaddr's offline registry), so vendor lookup works as on a real site.
The address plan, hostnames and roles are what pcaps/demo/expected.yaml and the sheets refer to.
"""

from __future__ import annotations

Host = tuple[str, str, int]

# ----------------------------------------------------------------------------- servers (VLAN 50)
DHCP_SRV: Host = ("00:50:56:50:00:02", "10.50.0.2", 50)  # VMware
DNS_SRV: Host = ("00:50:56:50:00:03", "10.50.0.3", 50)  # DNS + NTP
RADIUS_SRV: Host = ("00:50:56:50:00:05", "10.50.0.5", 50)
PACS: Host = ("00:14:22:50:00:20", "10.50.0.20", 50)  # Dell: supplier's captive PACS server
HL7_ENGINE: Host = ("00:50:56:50:00:30", "10.50.0.30", 50)
AP: Host = ("00:3a:7d:50:00:40", "10.50.0.40", 50)  # Cisco access point (wired side)
WLC: Host = ("00:3a:7d:50:00:41", "10.50.0.41", 50)  # Cisco WLAN controller
FILE_SRV: Host = ("00:50:56:50:00:50", "10.50.0.50", 50)
LIS: Host = ("00:50:56:50:00:60", "10.50.0.60", 50)
POCT_MGR: Host = ("00:50:56:50:00:61", "10.50.0.61", 50)
BACKUP_SRV_IP = "10.50.0.70"  # declared in the PACS sheet, never contacted

# ----------------------------------------------------------------------------- maintenance (VLAN 60)
BASTION: Host = ("00:50:56:60:00:10", "10.60.0.10", 60)

# ----------------------------------------------------------------------------- imaging (VLAN 110)
CT: Host = ("00:0e:8c:10:00:21", "10.10.110.21", 110)  # Siemens AG
MR: Host = ("44:4b:5d:10:00:22", "10.10.110.22", 110)  # GE Healthcare
RAD_WS: Host = ("00:14:22:10:00:25", "10.10.110.25", 110)  # Dell review workstation
SUPPLIER_WS: Host = ("3c:52:82:10:00:30", "10.10.110.30", 110)  # HP supplier console of the CT

# ----------------------------------------------------------------------------- monitoring (VLAN 120)
MON_GW: Host = ("00:09:fb:20:00:10", "10.10.120.10", 120)  # Philips Patient Monitoring
ICU_HL7_GW: Host = ("00:14:22:20:00:11", "10.10.120.11", 120)  # Dell, local HL7 gateway
MINDRAY_CS: Host = ("00:0f:14:20:00:20", "10.10.120.20", 120)  # Mindray central station
SDC_DEV: Host = ("00:30:e6:20:00:31", "10.10.120.31", 120)  # Draeger
MONITOR: Host = ("00:09:fb:20:00:50", "10.10.120.50", 120)  # Philips IntelliVue
PUMP_GW: Host = ("00:12:21:20:00:70", "10.10.120.70", 120)  # B. Braun SpaceCom gateway
OFFICE_IN_ICU: Host = ("00:14:22:20:00:77", "10.10.120.77", 120)  # Dell office PC in the DM VLAN
DESK_SWITCH_MAC = "68:dd:b7:20:00:f0"  # TP-LINK desk switch under a nurse desk
BEHIND_DESK = [  # Lantronix serial servers and Philips devices behind the desk switch
    ("00:80:a3:20:01:01", "10.10.120.101", 120),
    ("00:80:a3:20:01:02", "10.10.120.102", 120),
    ("00:80:a3:20:01:03", "10.10.120.103", 120),
    ("00:09:fb:20:01:04", "10.10.120.104", 120),
    ("00:09:fb:20:01:05", "10.10.120.105", 120),
    ("00:09:fb:20:01:06", "10.10.120.106", 120),
    ("00:09:fb:20:01:07", "10.10.120.107", 120),
]
NEVER_SEEN_IP = "10.10.120.90"  # declared (Mindray backup central), never on the wire
NEVER_SEEN_MAC = "00:0f:14:20:00:90"

# ----------------------------------------------------------------------------- lab (VLAN 130)
ANALYZER: Host = ("00:0e:2f:30:00:51", "10.10.130.51", 130)  # Roche Diagnostics
SYSMEX: Host = ("00:06:6b:30:00:52", "10.10.130.52", 130)  # Sysmex
POCT_DEV: Host = ("00:80:92:30:00:61", "10.10.130.61", 130)  # Silex device server of a POCT dock

# ----------------------------------------------------------------------------- office (VLAN 200)
WIN7_PC: Host = ("3c:52:82:20:00:11", "10.20.0.11", 200)  # HP, Windows 7
OFFICE_PC: Host = ("d4:ae:52:20:00:44", "10.20.0.44", 200)  # Dell
PRINTER: Host = ("00:1c:c4:20:00:60", "10.20.0.60", 200)  # HP printer
ECG_CART: Host = ("00:09:fb:20:02:02", "10.20.0.150", 200)  # Philips ECG cart plugged into an office socket
ROGUE_DHCP: Host = ("00:25:9c:20:02:50", "10.20.0.250", 200)  # Cisco-Linksys home router
DUAL_MAC = "3c:52:82:20:00:99"  # HP laptop seen in VLAN 200 and VLAN 120
DUAL_OFFICE: Host = (DUAL_MAC, "10.20.0.99", 200)
DUAL_ICU: Host = (DUAL_MAC, "10.10.120.99", 120)

# ----------------------------------------------------------------------------- Wi-Fi (VLAN 300)
PUMP_07: Host = ("00:12:21:30:00:07", "10.30.0.17", 300)  # B. Braun, declared wired
PUMP_09: Host = ("00:12:21:30:00:09", "10.30.0.19", 300)  # B. Braun, inside CAPWAP
BSSID = "00:3a:7d:aa:bb:01"

# ----------------------------------------------------------------------------- Internet
TV_PEER: Host = ("", "203.0.113.50", 0)  # TeamViewer peer
WEB_SITE: Host = ("", "198.51.100.80", 0)  # office HTTPS
UPDATE_SRV: Host = ("", "198.51.100.20", 0)  # analyzer's vendor update server (plain HTTP)

# ----------------------------------------------------------------------------- switches
SW_IMG = "00:3a:7d:aa:01:10"  # Cisco, SW-IMG-01
SW_ICU = "00:3a:7d:aa:01:20"  # Cisco, SW-ICU-01
SW_LAB = "00:3a:7d:aa:01:30"  # Cisco, SW-LAB-01 (CDP)
