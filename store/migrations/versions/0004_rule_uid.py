"""rule uid: findings hang on the rule's immutable uid, so a renamed rule keeps its reviews

Revision ID: 0004_rule_uid
Revises: 0003_security

A finding's id was derived from the rule id and the subject; it is now derived from the rule's uid
(rules/*.yaml `uid:`) and the subject.  Existing findings get their new id here, with the audit
entries that point at them, so statuses, comments and risk acceptances are kept.  The table below
is the catalogue as it stood when the uids were introduced (a migration never reads the live
catalogue, which changes); findings of a site's own rules not in it keep their old id and are
re-created under the new one by the next analysis (their review history stays in the audit log).
"""

from __future__ import annotations

import hashlib
import json

import sqlalchemy as sa
from alembic import op

revision = "0004_rule_uid"
down_revision = "0003_security"
branch_labels = None
depends_on = None

RULE_UIDS = {
    "cleartext-admin": "9cc1d346-e812-47e4-8ccd-b0a3d5f22a6a",
    "cleartext-medical": "aef28adc-ddb6-4211-8300-2293e047295e",
    "connection-mismatch": "0d325212-f4fc-4343-a229-642053c7cff6",
    "cross-zone-flow": "2d9f37c1-1da7-4cc6-a971-7c4e326f9334",
    "declared-not-seen": "796adc28-f2fd-438b-8f15-eb0ac837b4d5",
    "declared-server-silent": "db4ea04f-3fba-4122-a352-9604f5e937d6",
    "dm-internet": "5b8e57a7-3172-41e0-915b-f27529c5d5f4",
    "dm-on-wifi": "1e824411-157e-46db-ac10-869bbe943f1b",
    "flat-network": "b30c5681-8589-4aab-ab72-8734f82aba04",
    "legacy-smb1": "defe2b1d-9ab8-4333-966d-be6741b156ef",
    "mac-multi-vlan": "63837bf7-d05a-4aca-8cb7-9ef69226d45b",
    "new-conversation": "209e0f1d-9790-4a5f-b33c-d7e099a82d10",
    "new-device": "906cdc68-d324-4f3b-98ed-10a89d578c70",
    "obsolete-os": "dbf06af9-3a0b-4349-87ef-128503827c3e",
    "os-mismatch": "6ac4998c-88e0-4482-9569-7495ebc33f55",
    "remote-access-unapproved": "efecbf09-c8e4-4df2-8cb8-d15dcc428376",
    "remote-maintenance-mismatch": "caa0e946-9e5d-478c-a7f7-be1ddbfae744",
    "review-overdue": "f30a59a1-aa04-471b-807b-fd98a605bed4",
    "rogue-dhcp": "7fce73d3-f684-428d-bb13-9a6818428c63",
    "table-overflow": "73164698-0de5-49ec-8412-1c11d9abaf29",
    "undeclared-device": "284829a0-58f9-42d3-8130-d661a86153bd",
    "undeclared-peer": "e4e62532-0493-48b4-b076-8dbacc4e0a46",
    "unmanaged-switch": "7ec7d4d4-d044-4c0a-b571-29c0eef11ddf",
    "vlan-mismatch": "f3a42837-2f57-4689-9744-535fab3e7403",
}


MOVE_FINDING = sa.text("UPDATE finding SET id = :new, rule_uid = :uid, data = :data WHERE id = :old")
MOVE_AUDIT = sa.text("UPDATE audit SET entity_id = :new WHERE entity = 'finding' AND entity_id = :old")


def _finding_id(key: str, subject: str) -> str:
    return "MT-" + hashlib.sha1(f"{key}|{subject}".encode()).hexdigest()[:12]


def upgrade() -> None:
    with op.batch_alter_table("finding", schema=None) as batch_op:
        batch_op.add_column(sa.Column("rule_uid", sa.String(length=36), nullable=False, server_default=""))
        batch_op.create_index(batch_op.f("ix_finding_rule_uid"), ["rule_uid"], unique=False)
    bind = op.get_bind()
    rows = bind.execute(sa.text("SELECT id, rule, data FROM finding")).all()
    for old_id, rule, data in rows:
        uid = RULE_UIDS.get(rule)
        if uid is None:
            continue
        try:
            finding = json.loads(data)
        except ValueError:
            continue
        new_id = _finding_id(uid, str(finding.get("subject", "")))
        finding["id"], finding["rule_uid"] = new_id, uid
        bind.execute(MOVE_FINDING, {"new": new_id, "uid": uid, "data": json.dumps(finding), "old": old_id})
        bind.execute(MOVE_AUDIT, {"new": new_id, "old": old_id})


def downgrade() -> None:
    bind = op.get_bind()
    rows = bind.execute(sa.text("SELECT id, rule, data FROM finding")).all()
    for new_id, rule, data in rows:
        try:
            finding = json.loads(data)
        except ValueError:
            continue
        old_id = _finding_id(rule, str(finding.get("subject", "")))
        finding["id"] = old_id
        finding.pop("rule_uid", None)
        bind.execute(MOVE_FINDING, {"new": old_id, "uid": "", "data": json.dumps(finding), "old": new_id})
        bind.execute(MOVE_AUDIT, {"new": old_id, "old": new_id})
    with op.batch_alter_table("finding", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_finding_rule_uid"))
        batch_op.drop_column("rule_uid")
