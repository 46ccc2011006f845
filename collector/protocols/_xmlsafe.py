"""Safe parsing of small XML messages (WS-Discovery SOAP, POCT1-A2) with the standard library.

defusedxml is not a dependency, so hostile constructs are refused before parsing: any DOCTYPE or
ENTITY declaration (billion laughs, external entities) and anything over a size limit.  Without a
DTD, xml.etree expands only the five predefined entities, so parsing stays linear.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

MAX_XML = 64 * 1024


class UnsafeXml(ValueError):
    """The document holds a DTD or entity declaration, or is too large: refused unparsed."""


def is_unsafe(data: bytes) -> bool:
    low = data.lower()
    return b"<!doctype" in low or b"<!entity" in low or len(data) > MAX_XML


def parse(data: bytes) -> ET.Element:
    """Root element of `data`; UnsafeXml for refused input, ValueError for malformed XML."""
    if is_unsafe(data):
        raise UnsafeXml("xml: DTD, entity declaration or oversize document refused")
    try:
        return ET.fromstring(data)
    except (ET.ParseError, LookupError, UnicodeError) as exc:
        raise ValueError(f"xml: malformed ({type(exc).__name__})") from None


def local(tag: object) -> str:
    """Tag name without its {namespace}."""
    return str(tag).rsplit("}", 1)[-1]
