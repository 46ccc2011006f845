"""Server settings (pydantic-settings): every value can come from an env var prefixed MEDTAP_.

Example: MEDTAP_DB_URL=postgresql+psycopg://medtap@db/medtap MEDTAP_SECRET_KEY=... medtap serve
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from analyzer.referents import ReferentScope
from analyzer.site import Referents


class Settings(BaseSettings):
    """Configuration of the API server and the web UI."""

    model_config = SettingsConfigDict(env_prefix="MEDTAP_", extra="ignore")

    db_url: str = Field(default="sqlite:///medtap.db",
                        description="SQLAlchemy URL (sqlite:/// or postgresql+psycopg://).")
    host: str = Field(default="127.0.0.1", description="Bind address.")
    port: int = Field(default=8000, description="TCP port.")
    webhook_url: str | None = Field(default=None,
                                    description="Biomedical referent webhook (JSON POST on changes).")
    webhook_timeout: float = Field(default=5.0, description="Seconds per webhook attempt.")
    webhook_retries: int = Field(default=4,
                                 description="Attempts before a notification is dropped (and logged).")
    webhook_backoff: float = Field(default=1.0,
                                   description="First retry delay in seconds, doubled each time.")
    webhook_secret: str = Field(default="",
                                description="Standard Webhooks signing secret (whsec_<base64> or any text).")
    webhook_spool: Path = Field(default=Path(".medtap-webhook-spool"),
                                description="Folder where undelivered webhook events wait "
                                "(survives restarts).")
    max_body_bytes: int = Field(default=16 * 1024 * 1024,
                                description="Largest request body accepted (413 above).")
    secret_key: str = Field(default="",
                            description="Key for UI sessions and pseudonymisation; random per process "
                            "when empty.")
    ui_timezone: str = Field(default="Europe/Paris",
                             description="Time zone the web UI shows times in until the reader's browser "
                             "tells its own (IANA name).")
    session_idle_timeout: int = Field(default=30 * 60, ge=1,
                                      description="Seconds without a request that end a UI session.")
    session_max_age: int = Field(default=12 * 3600, ge=1,
                                 description="Seconds after sign-in that end a UI session.")
    rules_dir: Path | None = Field(default=None,
                                   description="Rules folder (default: analyzer.paths.RULES_DIR).")
    site_file: Path | None = Field(default=None, description="Site policy YAML used by re-analysis.")
    auto_analyze: bool = Field(default=True,
                               description="Analyze in the background whenever sensors' batches, "
                               "sheets or the site policy change (no manual analyze needed).")
    analyze_interval: float = Field(default=1.0, gt=0,
                                    description="Seconds between two looks of the background "
                                    "analysis (a sheet change wakes it at once).")
    sensor_silent_after: float = Field(default=300.0, gt=0,
                                       description="Seconds without a batch after which a "
                                       "sensor is reported silent (a dead SPAN port must not look like a "
                                       "quiet network).")
    # reports: referents' digests
    referents: dict[ReferentScope, Referents] = Field(
        default_factory=dict, description="Per service (biomedical, it, security: every service): e-mail "
        'addresses and webhook of its referents, as JSON: {"biomedical": {"emails": '
        '["biomed@hospital.example"], "webhook": null}}. '
        "The site policy's `referents:` are used for the services not named here; a service named here "
        "replaces the policy's entry for it.")
    digest_lang: Literal["fr", "en"] = Field(default="fr", description="Language of the referents' digest "
                                             "e-mails (French by default, the hospital's language).")
    digest_period: float = Field(default=3600.0, gt=0,
                                 description="Seconds between two digests to the referents (changes are "
                                 "batched; only sent after an analysis, never during one).")
    public_url: str = Field(default="http://127.0.0.1:8000",
                            description="Address of this server's web UI, for the links in digests.")
    smtp_host: str | None = Field(default=None, description="SMTP server of the digests (none: no e-mail).")
    smtp_port: int = Field(default=25, description="SMTP port (587 with STARTTLS, 465 with TLS).")
    smtp_tls: Literal["none", "starttls", "tls"] = Field(default="none",
                                                         description="SMTP transport security.")
    smtp_user: str | None = Field(default=None, description="SMTP login, if the server needs one.")
    smtp_password: str = Field(default="", description="SMTP password.")
    smtp_from: str = Field(default="medtap@localhost", description="Sender address of the digests.")
