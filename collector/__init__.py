"""medtap collector: frames (live or pcap) -> documented observation records. Imports nothing from
analyzer/api."""
