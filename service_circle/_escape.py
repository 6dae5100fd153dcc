"""Escaping untrusted text for the context it lands in.

POI names, community names, category labels and every other string read from an input
(Amap exports, OSM, a bureau's spreadsheet) are untrusted. Each helper here makes a value
safe for one context only:

- :func:`html_text` — element content and quoted attribute values in HTML;
- :func:`json_for_script` — a JSON value placed inside a ``<script>`` element (no
  ``</script>``, ``<!--`` or line separators can survive it);
- :func:`content_security_policy` — the header that keeps a page to its own scripts.

Pages built by service-circle put data into scripts only through :func:`json_for_script`
and into the DOM only as text (``textContent``), never as HTML.
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import math
import re
from typing import Any
from urllib.parse import urlsplit

_SCRIPT_UNSAFE = {
    "<": "\\u003c",
    ">": "\\u003e",
    "&": "\\u0026",
    "\u2028": "\\u2028",
    "\u2029": "\\u2029",
    "{": "\\u007b",
    "}": "\\u007d",
    "$": "\\u0024",
    "`": "\\u0060",
}
_SCRIPT_UNSAFE_RE = re.compile("[<>&\u2028\u2029]")
#: A JSON string literal as json.dumps writes it.
_JSON_STRING_RE = re.compile(r'"(?:[^"\\]|\\.)*"')
#: Inside a string, also the delimiters of template engines (Jinja2 ``{{ {% {#``, JavaScript
#: template literals ``${`` and backticks), so that no engine a page passes through reads one.
_TEMPLATE_RE = re.compile("[{}$`]")


def html_text(value: Any) -> str:
    """``value`` as text for HTML element content or a quoted attribute value."""
    return html.escape("" if value is None else str(value), quote=True)


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(k): _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


def json_for_script(value: Any) -> str:
    r"""JSON text that is safe inside an HTML ``<script>`` element.

    ``<``, ``>`` and ``&`` become ``\u003c``-style escapes (so no ``</script>`` or
    ``<!--`` can end or change the script), and the line separators U+2028/U+2029 are
    escaped for older JavaScript parsers. Inside strings, ``{``, ``}``, ``$`` and backticks
    are escaped as well, so that no template engine (Jinja2, a JavaScript template literal)
    the page passes through can read a delimiter in the data. NaN and infinities become
    ``null``.

    Examples
    --------
    >>> json_for_script({"name": "</script><script>alert(1)</script>"})
    '{"name": "\\u003c/script\\u003e\\u003cscript\\u003ealert(1)\\u003c/script\\u003e"}'
    """
    text = json.dumps(_finite(value), ensure_ascii=False, allow_nan=False)
    text = _JSON_STRING_RE.sub(
        lambda s: _TEMPLATE_RE.sub(lambda m: _SCRIPT_UNSAFE[m.group()], s.group()), text
    )
    return _SCRIPT_UNSAFE_RE.sub(lambda m: _SCRIPT_UNSAFE[m.group()], text)


_SCRIPT_RE = re.compile(r"<script(?P<attrs>[^>]*)>(?P<body>.*?)</script>", re.DOTALL | re.I)
_SRC_RE = re.compile(r"""\bsrc\s*=\s*["']([^"']+)["']""", re.I)
_HREF_RE = re.compile(r"""<link[^>]+href\s*=\s*["'](https?://[^"']+)["']""", re.I)


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def content_security_policy(
    page: str, *, img_hosts: tuple[str, ...] = (), workers: tuple[str, ...] = ()
) -> str:
    """A Content-Security-Policy for a page built by service-circle.

    Scripts: the page's own inline scripts by hash and the origins of the scripts it
    links, nothing else (no inline event handlers, no ``javascript:`` URLs, no eval).
    Styles may be inline (Leaflet positions its panes with style attributes); images
    come from the page itself, ``data:`` URIs and ``img_hosts`` (base-map tiles).

    Parameters
    ----------
    page
        The HTML page.
    img_hosts
        Origins images may come from, e.g. ``("https://tile.openstreetmap.org",)``.
    workers
        Where web workers may come from (``("blob:",)`` for ReDoc's search).
    """
    hashes: list[str] = []
    origins: set[str] = set()
    for match in _SCRIPT_RE.finditer(page):
        src = _SRC_RE.search(match.group("attrs"))
        if src:
            if src.group(1).startswith(("http://", "https://")):
                origins.add(_origin(src.group(1)))
            continue
        digest = hashlib.sha256(match.group("body").encode("utf-8")).digest()
        hashes.append(f"'sha256-{base64.b64encode(digest).decode('ascii')}'")
    style_origins = sorted({_origin(u) for u in _HREF_RE.findall(page)})
    script_src = " ".join(["'self'", *sorted(set(hashes)), *sorted(origins)])
    return "; ".join(
        [
            "default-src 'none'",
            f"script-src {script_src}",
            "style-src " + " ".join(["'self'", "'unsafe-inline'", *style_origins]),
            "img-src " + " ".join(["'self'", "data:", *img_hosts]),
            "font-src 'self' data:",
            "connect-src 'self'",
            "worker-src " + " ".join(["'self'", *workers]),
            "base-uri 'none'",
            "form-action 'none'",
            "frame-ancestors 'self'",
        ]
    )
