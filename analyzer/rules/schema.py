"""The rule file model (one YAML file per rule in rules/<area>/<id>.yaml), validated with pydantic.

Fields follow Sigma's rule layout (id, title, status, level -> severity, description,
falsepositives, references; `uid` is the immutable identity, as Sigma's UUID `id`) plus medtap's
responsible service, rationale (which bad practice it evidences, ANSSI/AFIB vocabulary),
remediation template and fixture tests.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr

from analyzer.rules.match import Predicate

UUID_PATTERN = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"


class RuleModel(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Match(RuleModel):
    subject: str = Field(min_length=1, description="Subject provider name (device, conversation, ...).")
    where: dict[str, Any] | None = Field(default=None, description="Conditions, all must hold.")
    subject_key: str | None = Field(default=None,
                                    description="Template of the finding subject; default row _key.")


class RuleTests(RuleModel):
    positive: list[str] = Field(default_factory=list)
    negative: list[str] = Field(default_factory=list)


class Rule(RuleModel):
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    uid: str = Field(pattern=UUID_PATTERN,
                     description="Immutable identity (a UUID, as Sigma's rule id): chosen once, never "
                                 "changed. Findings and their reviews hang on it, so renaming `id` keeps "
                                 "the history.")
    title: str = Field(min_length=1)
    title_fr: str = ""
    status: Literal["experimental", "test", "stable", "deprecated"] = "experimental"
    severity: Literal["info", "low", "medium", "high", "critical"]
    service: Literal["biomedical", "it"]
    description: str = ""
    description_fr: str = Field(default="", description="French description (shown on French pages).")
    rationale: str = ""
    rationale_fr: str = Field(default="", description="French rationale.")
    remediation: str = ""
    remediation_fr: str = Field(default="", description="French remediation template (same placeholders).")
    references: list[str] = Field(default_factory=list)
    falsepositives: list[str] = Field(default_factory=list)
    playbook: str = Field(default="", description="First response in an incident: what to do now, before "
                          "the remediation (one or two sentences, shown on every finding of the rule).")
    playbook_fr: str = Field(default="", description="The same first response in French.")
    match: Match
    tests: RuleTests = Field(default_factory=RuleTests)
    _predicate: Predicate | None = PrivateAttr(default=None)
    _path: str = PrivateAttr(default="")

    @property
    def predicate(self) -> Predicate:
        assert self._predicate is not None, "rule not compiled (use analyzer.rules.load_rules)"
        return self._predicate

    @property
    def path(self) -> str:
        return self._path
