"""Digests to each service's referents: new and reopened findings and device changes on their perimeter,
by e-mail (SMTP, the standard library's smtplib) and webhook, with links to the web UI.

A background thread of `medtap serve` looks every `digest_period` seconds; it sends only when an
analysis finished since its last look (it reads what an analysis committed, in a session of its own,
so an analysis never waits for it) and only what changed since the service's last digest
(store.reviews.referent_digest): changes are batched by the period.  A digest is marked sent once the
SMTP server accepted it (or, without e-mail, once the webhook event is spooled by api.notify.Notifier,
which retries on its own); an SMTP failure is logged and the same changes are sent at the next look.
The first look of a service only records its perimeter as the reference: referents are told of
changes, not of the whole inventory.
"""

from __future__ import annotations

import hashlib
import logging
import smtplib
import ssl
import threading
from email.message import EmailMessage
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session

from analyzer.referents import is_empty

log = logging.getLogger("medtap.referents")

SECTIONS = (("new_findings", "New findings"), ("reopened_findings", "Reopened findings"),
            ("new_devices", "New devices"), ("version_changes", "Version changes"),
            ("new_peers", "New peers"), ("new_services", "New services offered"))


def digest_message(service: str, items: dict[str, list[dict[str, Any]]], *, public_url: str, sender: str,
                   to: list[str]) -> EmailMessage:
    """The digest as a plain-text e-mail, each item with its link to the web UI."""
    base = public_url.rstrip("/")
    counts = {key: len(items.get(key, [])) for key, _ in SECTIONS}
    findings = counts["new_findings"] + counts["reopened_findings"]
    changes = sum(counts.values()) - findings
    msg = EmailMessage()
    msg["Subject"] = f"[medtap] {service}: {findings} new or reopened finding(s), {changes} device change(s)"
    msg["From"] = sender
    msg["To"] = ", ".join(to)
    lines = [f"Changes on the {service} perimeter since the last digest.", ""]
    for key, title in SECTIONS:
        entries = items.get(key, [])
        if not entries:
            continue
        lines.append(f"{title} ({len(entries)}):")
        for e in entries:
            if key.endswith("findings"):
                lines.append(f"  - [{e['severity']}] {e['title']} ({e['subject']})")
                if e.get("title_fr"):
                    lines.append(f"    {e['title_fr']}")
                if e.get("playbook"):
                    lines.append(f"    First response: {e['playbook']}")
                lines.append(f"    {base}/findings/{e['id']}")
            else:
                added = f": {', '.join(e['added'])}" if e.get("added") else ""
                lines.append(f"  - {e['name']} ({e['mac']}){added}")
                lines.append(f"    {base}/devices/{e['mac']}")
        lines.append("")
    lines.append(f"All findings: {base}/findings?service={service}")
    msg.set_content("\n".join(lines) + "\n")
    return msg


class ReferentDigests:
    """The background sender; `run_once()` is one look (the thread calls it every period)."""

    def __init__(self, engine: Engine, settings: Any) -> None:
        self.engine = engine
        self.settings = settings
        self.sent = 0
        self.failed = 0
        self.last_error: str | None = None
        self._last_analyzed: int | None = None
        self._notifiers: dict[str, Any] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _notifier(self, url: str) -> Any:
        from api.notify import Notifier

        if url not in self._notifiers:
            s = self.settings
            spool = s.webhook_spool / ("referents-" + hashlib.sha256(url.encode()).hexdigest()[:12])
            self._notifiers[url] = Notifier(url, spool_dir=spool, secret=s.webhook_secret,
                                            retries=s.webhook_retries, backoff=s.webhook_backoff,
                                            timeout=s.webhook_timeout)
        return self._notifiers[url]

    def start(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="medtap-referents", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None and self._thread.is_alive():
            self._thread.join(timeout)
        for notifier in self._notifiers.values():
            notifier.close()

    def _run(self) -> None:
        while not self._stop.wait(self.settings.digest_period):
            try:
                self.run_once()
            except Exception as exc:  # noqa: BLE001 - the thread must survive a lost database or SMTP server
                self.last_error = f"{type(exc).__name__}: {exc}"
                log.exception("referents' digest failed")

    def run_once(self, *, force: bool = False) -> dict[str, int]:
        """Send each service's digest if an analysis finished since the last look; returns how many items
        were sent per service."""
        from store.facts import analysis_status
        from store.reviews import referent_digest, save_referent_state

        out: dict[str, int] = {}
        with Session(self.engine) as session:
            analyzed = int(analysis_status(session)["analyzed_generation"])  # type: ignore[call-overload]
            if not force and analyzed == self._last_analyzed:
                return out
            for service, who in sorted(self.settings.referents.items()):
                if not who.emails and not who.webhook:
                    continue
                items, state = referent_digest(session, service)
                if items is None:
                    continue
                if is_empty(items):
                    save_referent_state(session, service, state)  # e.g. a device gone: nothing to tell
                    continue
                if self._deliver(service, who, items):
                    save_referent_state(session, service, state)
                    out[service] = sum(len(v) for v in items.values())
            self._last_analyzed = analyzed
        return out

    def _deliver(self, service: str, who: Any, items: dict[str, list[dict[str, Any]]]) -> bool:
        s = self.settings
        if who.emails and s.smtp_host:
            msg = digest_message(service, items, public_url=s.public_url, sender=s.smtp_from, to=who.emails)
            try:
                self._smtp_send(msg, who.emails)
            except (OSError, smtplib.SMTPException) as exc:
                self.failed += 1
                self.last_error = f"SMTP {s.smtp_host}:{s.smtp_port}: {exc}"
                log.error("referents' digest for %s not sent (kept for the next look): %s", service, exc)
                return False
        elif who.emails:
            log.warning("referents of %s have e-mail addresses but MEDTAP_SMTP_HOST is not set", service)
        if who.webhook:
            link = f"{s.public_url.rstrip('/')}/findings?service={service}"
            self._notifier(who.webhook).send({"type": "digest", "service": service, "items": items,
                                              "link": link})
        self.sent += 1
        return True

    def _smtp_send(self, msg: EmailMessage, to: list[str]) -> None:
        s = self.settings
        if s.smtp_tls == "tls":
            client: smtplib.SMTP = smtplib.SMTP_SSL(s.smtp_host, s.smtp_port, timeout=10,
                                                    context=ssl.create_default_context())
        else:
            client = smtplib.SMTP(s.smtp_host, s.smtp_port, timeout=10)
        with client:
            if s.smtp_tls == "starttls":
                client.starttls(context=ssl.create_default_context())
            if s.smtp_user:
                client.login(s.smtp_user, s.smtp_password)
            client.send_message(msg, from_addr=s.smtp_from, to_addrs=to)
