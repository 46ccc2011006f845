"""API token lifecycle (issue 18): revoke and list from the CLI, expiry, last use, sensor binding, audit.

The app runs for real (TestClient on a SQLite file) and the CLI (typer's CliRunner)
works on the same database file, as an administrator would on the server.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select
from typer.testing import CliRunner

from api.cli import app as cli
from store.models import AuditRow, TokenRow

API = "/api/v1"
runner = CliRunner()


class World:
    def __init__(self, client: TestClient, db: str) -> None:
        self.client, self.db = client, db

    def medtap(self, *args: str, code: int = 0) -> str:
        result = runner.invoke(cli, [*args, "--db", self.db])
        assert result.exit_code == code, result.output
        return result.output

    def token(self, role: str, name: str, *extra: str) -> str:
        return self.medtap("token", "create", "--role", role, "--name", name, *extra).strip().splitlines()[-1]

    def get(self, token: str, url: str = f"{API}/devices") -> int:
        return self.client.get(url, headers={"Authorization": f"Bearer {token}"}).status_code

    def row(self, name: str) -> TokenRow:
        with Session(self.client.app.state.engine) as session:  # type: ignore[attr-defined]
            return session.exec(select(TokenRow).where(TokenRow.name == name)).one()


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    from api.main import create_app
    from api.settings import Settings

    db = f"sqlite:///{tmp_path / 'm.db'}"
    with TestClient(create_app(Settings(db_url=db, secret_key="k" * 32)), raise_server_exceptions=False) as client:
        yield World(client, db)


def test_cli_revoke_by_name_or_id_refuses_the_token_at_once(world: World) -> None:
    alice, bob = world.token("viewer", "alice"), world.token("it", "bob")
    assert world.get(alice) == 200 and world.get(bob) == 200
    assert "revoked" in world.medtap("token", "revoke", "alice")
    assert world.get(alice) == 401
    assert world.get(bob) == 200
    world.medtap("token", "revoke", str(world.row("bob").id))
    resp = world.client.get(f"{API}/devices", headers={"Authorization": f"Bearer {bob}"})
    assert resp.status_code == 401 and resp.json()["detail"] == "invalid or revoked token"
    assert "no active token named 'nobody'" in world.medtap("token", "revoke", "nobody", code=1)


def test_revoke_by_an_ambiguous_name_asks_for_the_id(world: World) -> None:
    first, second = world.token("viewer", "ward"), world.token("viewer", "ward")
    output = world.medtap("token", "revoke", "ward", code=1)
    assert "give the id" in output
    assert world.get(first) == 200 and world.get(second) == 200


def test_token_list_shows_every_field_but_the_secret(world: World) -> None:
    clear = world.token("viewer", "lister", "--expires-in", "90d")
    world.token("sensor", "sensor-x")
    world.medtap("token", "revoke", "sensor-x")
    rows = {r["name"]: r for r in json.loads(world.medtap("token", "list", "--json"))}
    assert set(rows["lister"]) == {"id", "name", "role", "sensor", "created", "expires", "last_used", "revoked"}
    assert rows["lister"]["last_used"] is None and rows["lister"]["revoked"] is False
    expires = dt.datetime.fromisoformat(rows["lister"]["expires"])
    assert dt.timedelta(days=89) < expires - dt.datetime.now(dt.UTC) <= dt.timedelta(days=90)
    assert rows["sensor-x"]["revoked"] is True and rows["sensor-x"]["sensor"] == "sensor-x"
    table = world.medtap("token", "list")
    assert "lister" in table and "last_used" in table and clear not in table


def test_last_use_is_recorded_at_most_once_a_minute(world: World) -> None:
    clear = world.token("viewer", "reader")
    assert world.row("reader").last_used is None
    assert world.get(clear) == 200
    first = world.row("reader").last_used
    assert first is not None and dt.datetime.now(dt.UTC) - first < dt.timedelta(seconds=30)
    assert world.get(clear) == 200
    assert world.row("reader").last_used == first  # no write per request


def test_expiry_by_date_or_duration(world: World) -> None:
    assert "in the future" in world.medtap("token", "create", "--role", "viewer", "--expires", "2020-01-01", code=1)
    assert "expected a number" in world.medtap("token", "create", "--role", "viewer", "--expires-in", "soon", code=1)
    assert "YYYY-MM-DD" in world.medtap("token", "create", "--role", "viewer", "--expires", "31/12/2099", code=1)
    dated = world.token("viewer", "dated", "--expires", "2099-12-31")
    assert world.row("dated").expires == dt.datetime(2099, 12, 31, tzinfo=dt.UTC)
    assert world.get(dated) == 200
    short = world.token("viewer", "short", "--expires-in", "1h")
    assert world.get(short) == 200
    with Session(world.client.app.state.engine) as session:  # type: ignore[attr-defined]
        row = session.exec(select(TokenRow).where(TokenRow.name == "short")).one()
        row.expires = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)  # the hour has passed
        session.add(row)
        session.commit()
    assert world.get(short) == 401


def test_sensor_token_ingests_only_as_its_own_sensor(world: World) -> None:
    a = world.token("sensor", "sensor-a")
    bound = world.token("sensor", "imaging box", "--sensor", "sensor-imaging")
    batch = {"seq": 1, "schema_version": 1,
             "observations": [{"kind": "weird", "ts": 1.0, "name": "x"}]}
    ok = world.client.post(f"{API}/ingest", json={**batch, "sensor": "sensor-a"}, headers={"Authorization": f"Bearer {a}"})
    assert ok.status_code == 201, ok.text
    spoof = world.client.post(f"{API}/ingest", json={**batch, "sensor": "sensor-b", "seq": 2},
                              headers={"Authorization": f"Bearer {a}"})
    assert spoof.status_code == 403
    assert spoof.json() == {"detail": "this token may ingest only as sensor 'sensor-a', not 'sensor-b'", "field": "sensor"}
    mine = world.client.post(f"{API}/ingest", json={**batch, "sensor": "sensor-imaging"},
                             headers={"Authorization": f"Bearer {bound}"})
    assert mine.status_code == 201
    admin = world.token("admin", "root")
    stats = world.client.get(f"{API}/stats", headers={"Authorization": f"Bearer {admin}"}).json()
    assert stats["observations"] == {"weird": 2}  # the spoofed batch stored nothing
    assert "only a sensor token" in world.medtap("token", "create", "--role", "viewer", "--sensor", "s", code=1)
    assert "sensor id" in world.medtap("token", "create", "--role", "sensor", "--name", "has space", code=1)


def test_every_token_change_is_audited(world: World) -> None:
    world.token("it", "carol", "--expires-in", "2w")
    world.medtap("token", "revoke", "carol")
    with Session(world.client.app.state.engine) as session:  # type: ignore[attr-defined]
        rows = session.exec(select(AuditRow).where(AuditRow.entity == "token")).all()
    assert [(r.who, r.action, r.entity_id) for r in rows] == [("cli", "create", "1"), ("cli", "revoke", "1")]
    created = json.loads(rows[0].new or "{}")
    assert created["name"] == "carol" and created["role"] == "it" and created["expires"]


def test_admin_lists_and_revokes_tokens_through_the_api(world: World) -> None:
    admin, viewer = world.token("admin", "root"), world.token("viewer", "ward")
    headers = {"Authorization": f"Bearer {admin}"}
    listed = world.client.get(f"{API}/tokens", headers=headers).json()
    assert [t["name"] for t in listed] == ["root", "ward"] and "hash" not in listed[0]
    assert world.client.get(f"{API}/tokens", headers={"Authorization": f"Bearer {viewer}"}).status_code == 403
    ward_id = world.row("ward").id
    revoked = world.client.post(f"{API}/tokens/{ward_id}/revoke", headers=headers)
    assert revoked.status_code == 200 and revoked.json()["revoked"] is True
    assert world.get(viewer) == 401
    assert world.client.post(f"{API}/tokens/999/revoke", headers=headers).status_code == 404
    with Session(world.client.app.state.engine) as session:  # type: ignore[attr-defined]
        audit = session.exec(select(AuditRow).where(AuditRow.action == "revoke")).one()
    assert audit.who == "admin:root" and audit.entity_id == str(ward_id)
