"""medtap analyzer: observations -> inventory, findings, reconciliation. Imports collector.schema only; never
scapy."""
