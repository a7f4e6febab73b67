"""The rules engine: load and validate rules files, match events, render actions.

Pure Python (no Flask, no database): the worker, the dashboard, the CLI and the
tests all use it directly. See each module's docstring for its decisions.
"""

from app.rules.errors import (
    RuleProblem,
    RulesError,
    TemplateError,
    TemplateLimitError,
    TemplateSecurityError,
    TemplateUndefinedError,
)
from app.rules.loader import load_rules, load_rules_file
from app.rules.matching import (
    ConditionFailure,
    Evaluation,
    evaluate,
    explain_all,
    matching_rules,
)
from app.rules.model import Rule, RuleSet, Throttle
from app.rules.store import RulesStatus, RulesStore
from app.rules.templating import RenderedAction, render_action, render_throttle_key

__all__ = [
    "ConditionFailure",
    "Evaluation",
    "RenderedAction",
    "Rule",
    "RuleProblem",
    "RuleSet",
    "RulesError",
    "RulesStatus",
    "RulesStore",
    "TemplateError",
    "TemplateLimitError",
    "TemplateSecurityError",
    "TemplateUndefinedError",
    "Throttle",
    "evaluate",
    "explain_all",
    "load_rules",
    "load_rules_file",
    "matching_rules",
    "render_action",
    "render_throttle_key",
]
