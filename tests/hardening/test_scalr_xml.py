"""The Scalr answer parser under hostile XML: a typed ScalrError, never another exception,
and never an expanded entity.

Payload shapes from the public record of XML attacks: the "billion laughs" bomb, the
quadratic blowup, external entities (XXE, OWASP's XML External Entity Prevention Cheat
Sheet) and parameter entities; each also in UTF-16, whose bytes hide `<!DOCTYPE` from a
byte-level check.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.scalr.errors import ScalrAPIError, ScalrError, ScalrTransportError
from app.scalr.responses import ScalrResponse, parse_response
from tests.hardening.settings import bounded

VALID = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n'
    b"<FarmGetDetailsResponse><TransactionID>a1b2</TransactionID><FarmRoleSet>"
    b"<Item><ID>12</ID><Name>web-nginx</Name><ServerSet><Item><ServerID>5bbd</ServerID>"
    b"<ExternalIP>54.1.2.3</ExternalIP></Item></ServerSet></Item>"
    b"</FarmRoleSet></FarmGetDetailsResponse>"
)
ERROR = b"<?xml version='1.0'?><Error><TransactionID>t-9</TransactionID><Message>x & <y></Message></Error>"

LAUGHS = (
    '<?xml version="1.0"{decl}?><!DOCTYPE lolz [<!ENTITY lol "lol">'
    '<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">'
    '<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>'
    "<{root}><Result>&lol3;</Result></{root}>"
)
QUADRATIC = (
    '<?xml version="1.0"{decl}?><!DOCTYPE q [<!ENTITY a "' + "a" * 2000 + '">]>'
    "<{root}><Result>" + "&a;" * 200 + "</Result></{root}>"
)
EXTERNAL = (
    '<?xml version="1.0"{decl}?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>'
    "<{root}><Result>&e;</Result></{root}>"
)
PARAMETER = (
    '<?xml version="1.0"{decl}?><!DOCTYPE p [<!ENTITY % d SYSTEM "http://127.0.0.1:9/x.dtd">'
    "%d;]><{root}><Result>x</Result></{root}>"
)
BOMBS = {"laughs": LAUGHS, "quadratic": QUADRATIC, "external": EXTERNAL, "parameter": PARAMETER}
ENCODINGS = {
    "utf-8": ("", "utf-8"),
    "utf-8-declared": (' encoding="UTF-8"', "utf-8"),
    "utf-16-bom": (' encoding="UTF-16"', "utf-16"),
    "utf-16-bom-undeclared": ("", "utf-16"),
    "utf-16-le": (' encoding="UTF-16LE"', "utf-16-le"),
    "latin-1": (' encoding="ISO-8859-1"', "latin-1"),
}


def parse(body: bytes, status: int = 200) -> ScalrResponse:
    return parse_response(
        status, body, action="FarmGetDetails", version="2.3.0", retry_after_seconds=60
    )


def outcome(body: bytes, status: int = 200) -> ScalrResponse | ScalrError:
    """Return the parsed answer or the ScalrError; any other exception fails the test."""
    try:
        return parse(body, status)
    except ScalrError as exc:
        return exc


@pytest.mark.parametrize("root", ["FarmGetDetailsResponse", "Error"])
@pytest.mark.parametrize("encoding", ENCODINGS, ids=list(ENCODINGS))
@pytest.mark.parametrize("bomb", BOMBS, ids=list(BOMBS))
def test_entity_declarations_are_refused_in_every_encoding(bomb, encoding, root):
    decl, codec = ENCODINGS[encoding]
    body = BOMBS[bomb].format(decl=decl, root=root).encode(codec)
    result = outcome(body)
    # Refused outright: not parsed with the entity expanded, nor read as a Scalr <Error>.
    assert isinstance(result, ScalrTransportError), result
    assert "lol" not in result.message and "root:" not in result.message


def test_stdlib_parser_would_expand_the_bomb():
    """Why the parser is defused: the stdlib expands internal entities (the test's premise)."""
    body = LAUGHS.format(decl="", root="R").encode()
    assert len(ET.fromstring(body).findtext("Result") or "") == 300  # noqa: S314


@pytest.mark.parametrize(
    "body",
    [
        b'<?xml version="1.0" encoding="Shift_JIS"?><FarmGetDetailsResponse/>',
        b'<?xml version="1.0" encoding="x-no-such-codec"?><FarmGetDetailsResponse/>',
        b'<?xml version="1.0" encoding="UTF-32"?><FarmGetDetailsResponse/>',
        "<FarmGetDetailsResponse/>".encode("utf-32"),
        b"<FarmGetDetailsResponse>&undefined;</FarmGetDetailsResponse>",
        b"<FarmGetDetailsResponse>&#0;</FarmGetDetailsResponse>",
        b"\x00" * 64,
        b"\xef\xbb\xbf",
        b"<" * 10_000,
        b"<a>" * 50_000,
    ],
)
def test_odd_encodings_and_broken_documents_are_typed_errors(body):
    assert isinstance(outcome(body), ScalrTransportError)


def test_a_huge_answer_parses_or_fails_typed():
    items = b"".join(b"<Item><ServerID>s-%d</ServerID></Item>" % i for i in range(100_000))
    body = b"<ServersListResponse><ServerSet>" + items + b"</ServerSet></ServersListResponse>"
    result = outcome(body)
    assert isinstance(result, ScalrResponse)
    assert len(result["ServerSet"]) == 100_000


@bounded(300)
@given(st.binary(max_size=2000), st.sampled_from([200, 200, 200, 400, 429, 500, 302]))
def test_random_bytes_give_a_typed_error(body, status):
    outcome(body, status)


@bounded(200)
@given(st.sampled_from([VALID, ERROR]), st.data())
def test_truncated_answers_give_a_typed_error(doc, data):
    cut = data.draw(st.integers(0, len(doc) - 1))
    result = outcome(doc[:cut])
    # A cut inside the Error's <Message> may still read as an <Error>; nothing else parses.
    assert isinstance(result, ScalrTransportError | ScalrAPIError)


TAGS = st.from_regex(r"[A-Za-z_][A-Za-z0-9_.-]{0,12}", fullmatch=True)
TEXT = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=40)


@st.composite
def elements(draw, depth=0):
    """Draw a random element tree (ElementTree escapes the text, so it is well-formed)."""
    element = ET.Element(draw(TAGS))
    element.text = draw(TEXT)
    if depth < 3:
        for _ in range(draw(st.integers(0, 3))):
            element.append(draw(elements(depth + 1)))
    return element


@bounded(100)
@given(elements(), st.sampled_from(["utf-8", "utf-16", "us-ascii", "iso-8859-1"]))
def test_random_trees_with_any_root_give_a_response_or_a_typed_error(root, encoding):
    try:
        body = ET.tostring(root, encoding=encoding, xml_declaration=True)
    except (UnicodeEncodeError, ValueError):
        return  # text with characters XML 1.0 cannot carry: not a document to test with
    result = outcome(body)
    if not root.tag.endswith("Response") and root.tag != "Error":
        assert isinstance(result, ScalrTransportError)


@bounded(100)
@given(st.sampled_from(list(BOMBS.values())), st.sampled_from(list(ENCODINGS.values())), TAGS)
def test_no_entity_is_ever_expanded(template, encoding, root):
    decl, codec = encoding
    result = outcome(template.format(decl=decl, root=root).encode(codec))
    assert not isinstance(result, ScalrResponse)
    assert isinstance(result, ScalrTransportError)
