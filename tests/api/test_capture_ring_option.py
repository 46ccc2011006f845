"""`medtap capture --ring-mib N` (or MEDTAP_CAPTURE_RING_MIB) sets the kernel ring its workers share:
the value reaches collector.live.capture as bytes, unset leaves collector.ring's default, and a negative
value is refused before any socket is opened."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from api.cli import app

runner = CliRunner()


@pytest.fixture()
def asked(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """What collector.live.capture is called with (the capture itself is tested on a veth pair)."""
    import collector.live

    calls: list[dict[str, Any]] = []

    def capture(interface: str, sink: Any, **kwargs: Any) -> None:
        calls.append(dict(kwargs, interface=interface))
        raise OSError("no such device (test)")

    monkeypatch.setattr(collector.live, "capture", capture)
    monkeypatch.delenv("MEDTAP_CAPTURE_RING_MIB", raising=False)
    return calls


def _capture(tmp_path: Path, *extra: str, env: dict[str, str] | None = None) -> Any:
    return runner.invoke(app, ["capture", "-i", "eth-test", "--db", f"sqlite:///{tmp_path}/c.db", *extra],
                         env=env)


def test_ring_mib_reaches_the_capture_as_bytes(asked: list[dict[str, Any]], tmp_path: Path) -> None:
    result = _capture(tmp_path, "--ring-mib", "96")
    assert "cannot capture on eth-test" in result.output  # the OSError above, reported as usual
    assert asked[-1]["ring_bytes"] == 96 << 20
    _capture(tmp_path, "--ring-mib", "0")
    assert asked[-1]["ring_bytes"] == 0  # no ring: one recvmsg per frame


def test_the_environment_sets_it_and_unset_keeps_the_default(
        asked: list[dict[str, Any]], tmp_path: Path) -> None:
    _capture(tmp_path, env={"MEDTAP_CAPTURE_RING_MIB": "128"})
    assert asked[-1]["ring_bytes"] == 128 << 20
    _capture(tmp_path)
    assert asked[-1]["ring_bytes"] is None  # collector.ring.ring_bytes_default() then decides


def test_a_negative_ring_is_refused_before_capturing(asked: list[dict[str, Any]], tmp_path: Path) -> None:
    result = _capture(tmp_path, "--ring-mib", "-1")
    assert result.exit_code == 2 and "ring-mib" in result.output
    assert asked == []
