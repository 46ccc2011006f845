"""Declarative rule catalogue: load_rules() reads rules/<area>/<id>.yaml into compiled Rule objects."""

from analyzer.rules.loader import RuleError, load_rule_file, load_rules
from analyzer.rules.schema import Rule

__all__ = ["Rule", "RuleError", "load_rule_file", "load_rules"]
