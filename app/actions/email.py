"""The `email:` action: a plain-text message through the configured SMTP server.

Decisions: `email:` takes one address or a list; the subject and body have
defaults that say which rule matched which event; a subject is one line of
at most 998 characters (RFC 5322); every recipient refused ends the job,
SMTP or network trouble retries.
"""

from __future__ import annotations

import re
import smtplib
from collections.abc import Mapping
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any, ClassVar

from app.actions import JobView, Kind, Outcome, Runtime, register
from app.config import Config
from app.rules.checker import Checker
from app.rules.schema_actions import check_templates
from app.rules.templating import RenderedAction, render_value
from app.rules.yamlsource import child, item

_EMAIL = re.compile(r"[^@\s]+@[^@\s]+")
DEFAULT_SUBJECT = (
    "[Lifeguard] {{ event.name }}{% if event.server_id is defined %} on {{ event.server_id }}"
    "{% endif %} ({{ rule.name | default('rule') }})"
)
DEFAULT_BODY = """\
Rule {{ rule.name | default('?') }} matched {{ event.name }} (event {{ event.id | default('?') }}).
{% if event.message is defined %}
{{ event.message }}
{% endif %}
server:    {{ event.server_id | default('-') }}
farm:      {{ event.farm_id | default('-') }}
farm role: {{ event.farm_role_id | default('-') }} ({{ event.role_name | default('-') }})
IPs:       {{ event.public_ip | default('-') }} / {{ event.internal_ip | default('-') }}
"""


@dataclass(frozen=True)
class EmailAction:
    """Send an e-mail to one or more addresses."""

    kind: ClassVar[str] = "email"
    to: tuple[str, ...]
    subject: str
    body: str
    max_attempts: int = 5
    mutating: ClassVar[bool] = False


def run_email(job: JobView, config: Config) -> Outcome:
    """Send an e-mail through the configured SMTP server."""
    message = EmailMessage()
    message["From"] = config.smtp_from
    message["To"] = ", ".join(job.params.get("to") or [])
    message["Subject"] = str(job.params.get("subject", ""))[:998].replace("\n", " ")
    message.set_content(str(job.params.get("body", "")))
    try:
        with smtplib.SMTP(config.smtp_host, config.smtp_port, timeout=10) as smtp:
            refused = smtp.send_message(message)
    except smtplib.SMTPRecipientsRefused as exc:
        return Outcome("dead", error=f"every recipient refused: {sorted(exc.recipients)}")
    except (smtplib.SMTPException, OSError) as exc:
        return Outcome("retry", error=f"{type(exc).__name__} sending e-mail")
    return Outcome("succeeded", result={"refused": sorted(refused)})


class EmailKind(Kind):
    """`email: ops@example.com` (or a list) with `subject:` and `body:`."""

    name = "email"
    keys = ("email", "subject", "body")

    def parse(
        self, check: Checker, mapping: dict[str, Any], path: str, attempts: int
    ) -> EmailAction | None:
        """Return the e-mail at `path`, or None after recording what is wrong with it."""
        to = check.string_list(mapping["email"], child(path, "email"), allow_single=True)
        if not to and isinstance(mapping["email"], list):
            check.error(child(path, "email"), "at least one address is needed")
        for index, address in enumerate(to):
            if not _EMAIL.fullmatch(address):
                check.error(
                    item(child(path, "email"), index), f"not an e-mail address: {address!r}"
                )
        subject = check.get(mapping, "subject", path, str, DEFAULT_SUBJECT)
        body = check.get(mapping, "body", path, str, DEFAULT_BODY)
        check_templates(check, subject, child(path, "subject"))
        check_templates(check, body, child(path, "body"))
        return EmailAction(tuple(to), subject, body, attempts) if to else None

    def render(self, action: EmailAction, context: Mapping[str, Any]) -> RenderedAction:
        """Render the subject and body; the addresses are not templates."""
        params = {
            "to": list(action.to),
            "subject": render_value(action.subject, context, "subject"),
            "body": render_value(action.body, context, "body"),
        }
        return RenderedAction(
            kind=self.name, action=self.name, params=params, max_attempts=action.max_attempts
        )

    def perform(self, job: JobView, runtime: Runtime) -> Outcome:
        """Send the message through the configured SMTP server."""
        return run_email(job, runtime.config)

    def label(self, action: EmailAction) -> str:
        """Return `email a@b, c@d`."""
        return f"email {', '.join(action.to)}"


register(EmailKind())
