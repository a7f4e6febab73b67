"""Write answers in Scalr's exact XML shapes (protocol 3.4)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from xml.sax.saxutils import escape

XML_DECLARATION = '<?xml version="1.0"?>\n'


def _element(name: str, value: Any) -> str:
    # PHP: true -> "1"; false and null -> an empty element; arrays under ...Set -> <Item>s.
    if value is None or value is False:
        return f"<{name}/>"
    if value is True:
        return f"<{name}>1</{name}>"
    if isinstance(value, Mapping):
        inner = "".join(_element(k, v) for k, v in value.items())
        return f"<{name}>{inner}</{name}>" if inner else f"<{name}/>"
    if isinstance(value, list | tuple):
        inner = "".join(_element("Item", item) for item in value)
        return f"<{name}>{inner}</{name}>" if inner else f"<{name}/>"
    text = str(value)
    return f"<{name}>{escape(text)}</{name}>" if text != "" else f"<{name}/>"


def success_xml(action: str, transaction_id: str, data: Mapping[str, Any]) -> bytes:
    """Return `<?xml ...?>` and the whole <ActionResponse> on one line, as saveXML() does."""
    inner = f"<TransactionID>{transaction_id}</TransactionID>"
    inner += "".join(_element(name, value) for name, value in data.items())
    return f"{XML_DECLARATION}<{action}Response>{inner}</{action}Response>\n".encode()


def error_xml(transaction_id: str, message: str) -> bytes:
    """Return Scalr's hand-built <Error>: TAB-indented, the message NOT escaped."""
    return (
        f"{XML_DECLARATION}<Error>\n\t<TransactionID>{transaction_id}</TransactionID>\n"
        f"\t<Message>{message}</Message>\n</Error>\n"
    ).encode()
