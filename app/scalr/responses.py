"""Read Scalr's answers: HTTP status first, then the root element (protocol 3.4).

Parsed values are strings. An empty element (`<ServerID/>`, PHP false/null)
becomes None; a `...Set` element, or any element whose children are all
`<Item>`, becomes a list (an empty `...Set` is []); other nested elements become dicts.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring as defused_fromstring

from app.scalr.errors import (
    ScalrAPIError,
    ScalrRateLimited,
    ScalrTransportError,
    ScalrVersionError,
)

# Expat expands internal entities; a document type declaration is never part of a
# Scalr answer, so refusing it rules out entity-expansion attacks. The byte pattern is
# the quick, clear refusal; defusedxml (forbid_dtd) is the real one: a UTF-16 answer
# carries its DOCTYPE in bytes this pattern cannot see.
_FORBIDDEN_XML = re.compile(rb"<!\s*(DOCTYPE|ENTITY)", re.IGNORECASE)
_ERROR_ROOT = re.compile(rb"^\s*(<\?xml[^>]*\?>)?\s*<Error>", re.DOTALL)
_ERROR_TRANSACTION = re.compile(r"<TransactionID>(.*?)</TransactionID>", re.DOTALL)
# Greedy: the message itself may hold '<', '&' or even '</' (Scalr does not escape it).
_ERROR_MESSAGE = re.compile(r"<Message>(.*)</Message>", re.DOTALL)


@dataclass(frozen=True)
class ScalrResponse(Mapping[str, Any]):
    """A parsed <ActionResponse>: its children as a mapping, plus the TransactionID."""

    action: str
    transaction_id: str | None
    data: dict[str, Any] = field(default_factory=dict)

    def __getitem__(self, key: str) -> Any:
        return self.data[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.data)

    def __len__(self) -> int:
        return len(self.data)

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict of the action, TransactionID and result."""
        return {"action": self.action, "transaction_id": self.transaction_id, "result": self.data}


def element_value(element: ET.Element) -> Any:
    """Convert one element to None, a string, a list of Items or a dict."""
    children = list(element)
    if not children:
        text = element.text or ""
        if element.tag.endswith("Set") and not text.strip():
            return []
        return text if text != "" else None
    if element.tag.endswith("Set") or all(child.tag == "Item" for child in children):
        return [element_value(child) for child in children]
    return {child.tag: element_value(child) for child in children}


def parse_xml(body: bytes, action: str) -> ET.Element:
    """Parse an answer with no DTD, no entity and no external reference allowed."""
    try:
        return defused_fromstring(body, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DefusedXmlException:
        raise ScalrTransportError(
            "refused an answer with a DOCTYPE or ENTITY declaration", action=action
        ) from None
    except ET.ParseError as exc:
        raise ScalrTransportError(f"unparsable answer from Scalr: {exc}", action=action) from None
    except (ValueError, LookupError) as exc:
        # expat refuses some declared encodings (multi-byte, unknown) with these.
        raise ScalrTransportError(
            f"unparsable answer from Scalr: {type(exc).__name__}: {exc}", action=action
        ) from None


def _error_from_text(text: str, action: str) -> ScalrAPIError | None:
    message = _ERROR_MESSAGE.search(text)
    if message is None:
        return None
    transaction = _ERROR_TRANSACTION.search(text)
    return ScalrAPIError(
        message.group(1).strip(),
        transaction_id=transaction.group(1).strip() if transaction else None,
        action=action,
    )


def _parse_error(body: bytes, action: str) -> ScalrAPIError:
    """Read an <Error> answer, whose message Scalr writes without XML escaping.

    The raw text between the tags is the message, so it is read with a regular
    expression first; the XML parser is only the fallback.
    """
    error = _error_from_text(body.decode("utf-8", errors="replace"), action)
    if error is not None:
        return error
    root = parse_xml(body, action)
    return ScalrAPIError(
        (root.findtext("Message") or "").strip(),
        transaction_id=root.findtext("TransactionID"),
        action=action,
    )


def parse_response(
    status_code: int, body: bytes, *, action: str, version: str, retry_after_seconds: float
) -> ScalrResponse:
    """Turn one HTTP answer into a ScalrResponse or raise the matching ScalrError."""
    if status_code == 429:
        raise ScalrRateLimited(
            "Scalr refused the call: hourly API request limit reached (HTTP 429)",
            retry_after_seconds,
            action=action,
        )
    if status_code == 400 and not body.strip():
        raise ScalrVersionError(version, action=action)
    if status_code != 200:
        raise ScalrTransportError(
            f"Scalr answered HTTP {status_code}",
            action=action,
            status_code=status_code,
            retryable=status_code >= 500,
        )
    if _FORBIDDEN_XML.search(body):
        raise ScalrTransportError(
            "refused an answer with a DOCTYPE or ENTITY declaration", action=action
        )
    if _ERROR_ROOT.match(body):
        raise _parse_error(body, action)
    root = parse_xml(body, action)
    if not root.tag.endswith("Response"):
        raise ScalrTransportError(
            f"unexpected root element <{root.tag}> in Scalr's answer", action=action
        )
    data: dict[str, Any] = {}
    transaction_id: str | None = None
    for child in root:
        if child.tag == "TransactionID":
            transaction_id = (child.text or "").strip() or None
        else:
            data[child.tag] = element_value(child)
    return ScalrResponse(action=action, transaction_id=transaction_id, data=data)
