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

Who receives a service's digest is the site policy's `referents:` (validated with the policy), a
service named in MEDTAP_REFERENTS taking the setting instead (analyzer.site.referents_in_force); the
thread always runs, since a policy with referents can be stored after the server started.  The mail
is French by default (MEDTAP_DIGEST_LANG=en for English), its texts those of the web UI's catalogue
(`digest.*` keys of api/web/locales) and the rules' own French fields.
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

from analyzer.referents import EVERY_SERVICE, is_empty
from analyzer.site import Referents, referents_in_force
from api.web.i18n import Bound, Translator

log = logging.getLogger("medtap.referents")

SECTIONS = ("new_findings", "reopened_findings", "new_devices", "version_changes", "new_peers",
            "new_services", "intervention_verdicts")
"""The digest's sections in order; each title is `digest.section.<name>` of the UI's catalogue."""
CHANGE_LISTS = ("peers_added", "peers_removed", "services_added", "services_removed", "protocols_added",
                "protocols_removed")


def change_lines(diff: dict[str, Any] | None, t: Bound) -> list[str]:
    """An intervention's comparison (analyzer.diff `as_dict`) as translated lines, worded as on the device
    page (the `intervention.change.*` texts of the catalogue)."""
    if not diff:
        return []
    out = [f"{t('intervention.change.' + key)}: {', '.join(diff[key])}"
           for key in CHANGE_LISTS if diff.get(key)]
    out += [f"{c['attribute']}: {', '.join(c['before']) or '-'} -> {', '.join(c['after']) or '-'}"
            for c in diff.get("identity_changed", [])]
    out += [f"{t('intervention.change.volume')} {v['peer']}: {v['before_bytes']} -> {v['after_bytes']}"
            for v in diff.get("volume_changed", [])]
    if diff.get("seen_before") is False:
        out.append(t("intervention.change.not_seen_before"))
    return out


def _findings_url(base: str, scope: str) -> str:
    """The UI's findings of a service, or all of them for the security referents."""
    return f"{base}/findings" if scope == EVERY_SERVICE else f"{base}/findings?service={scope}"


def digest_message(service: str, items: dict[str, list[dict[str, Any]]], *, public_url: str, sender: str,
                   to: list[str], lang: str = "fr", translator: Translator | None = None) -> EmailMessage:
    """The digest as a plain-text e-mail in `lang` (French by default), each item with its link to the web
    UI.  The texts are the web UI's catalogue (api/web/locales, `digest.*` keys) and, for findings, the
    rule's own French or English title and first response."""
    t = (translator or Translator.load()).for_lang(lang)
    french = lang == "fr"
    base = public_url.rstrip("/")
    counts = {key: len(items.get(key, [])) for key in SECTIONS}
    findings = counts["new_findings"] + counts["reopened_findings"]
    changes = sum(counts.values()) - findings
    name = t(f"service.{service}") if t.has(f"service.{service}") else service
    msg = EmailMessage()
    msg["Subject"] = t("digest.subject", service=name, findings=findings, changes=changes)
    msg["From"] = sender
    msg["To"] = ", ".join(to)
    lines = [t("digest.intro", service=name), ""]
    for key in SECTIONS:
        entries = items.get(key, [])
        if not entries:
            continue
        lines.append(t("digest.heading", title=t(f"digest.section.{key}"), n=len(entries)))
        for e in entries:
            if key.endswith("findings"):
                title = (e.get("title_fr") if french else None) or e["title"]
                lines.append(f"  - [{t('severity.' + e['severity'])}] {title} ({e['subject']})")
                playbook = (e.get("playbook_fr") if french else None) or e.get("playbook")
                if playbook:
                    lines.append(f"    {t('digest.first_response', text=playbook)}")
                lines.append(f"    {base}/findings/{e['id']}")
            elif key == "intervention_verdicts":
                at = e["at"][:16].replace("T", " ")
                lines.append("  - " + t("digest.intervention", name=e["name"], mac=e["mac"], at=at,
                                        kind=t(f"intervention.kind.{e['kind']}"),
                                        verdict=t(f"intervention.verdict.{e['verdict']}")))
                if e["verdict"] == "changed":
                    lines.extend(f"      {line}" for line in change_lines(e.get("diff"), t))
                lines.append(f"    {base}/devices/{e['mac']}#interventions")
            else:
                added = f": {', '.join(e['added'])}" if e.get("added") else ""
                lines.append(f"  - {e['name']} ({e['mac']}){added}")
                lines.append(f"    {base}/devices/{e['mac']}")
        lines.append("")
    lines.append(t("digest.all_findings", url=_findings_url(base, service)))
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
        self._translator: Translator | None = None  # loaded at the first mail (0.7 s: not at every app start)
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
            for service, who in sorted(self.referents(session).items()):
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

    def translator(self) -> Translator:
        if self._translator is None:
            self._translator = Translator.load()
        return self._translator

    def referents(self, session: Session) -> dict[str, Referents]:
        """Who receives each service's digest: the stored site policy's `referents`, a service named in
        MEDTAP_REFERENTS taking that setting instead (analyzer.site.referents_in_force)."""
        from store.facts import stored_policy

        return referents_in_force(stored_policy(session), self.settings.referents)

    def _deliver(self, service: str, who: Any, items: dict[str, list[dict[str, Any]]]) -> bool:
        s = self.settings
        if who.emails and s.smtp_host:
            msg = digest_message(service, items, public_url=s.public_url, sender=s.smtp_from, to=who.emails,
                                 lang=s.digest_lang, translator=self.translator())
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
            link = _findings_url(s.public_url.rstrip("/"), service)
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
