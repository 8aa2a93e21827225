"""The wallboard page: one self-contained HTML document (CSS and script inlined, no CDN).

The inline style and script carry ``NONCE_MARK`` in their ``nonce`` attribute; the route puts the
response's CSP nonce there (callcenter/web/headers.py).

The template, stylesheet and script are separate files beside this module so they can be edited as
what they are; they are read once and assembled here with the strings of the configured language.
"""

from __future__ import annotations

import html
import json
from importlib import resources
from string import Template

from callcenter.web.i18n import strings_for
from metrics.kpi import NATIONAL_STANDARD_24H, RATE_DIGITS


def _read(name: str) -> str:
    return resources.files(__package__).joinpath(name).read_text(encoding="utf-8")


def _script_json(value: object) -> str:
    # Inside <script>, "</" would end the element early; \u003c keeps the JSON equal and the HTML intact.
    return json.dumps(value, ensure_ascii=False).replace("<", "\\u003c")


NONCE_MARK = "__csp_nonce__"


def render_wallboard(*, language: str, centre_name: str, stream_url: str) -> str:
    strings = strings_for(language)
    values = {key: html.escape(text) for key, text in strings.items()}
    values["centre_name"] = html.escape(centre_name)
    # The rate display rule of metrics/kpi.py (rate_text, rate_level): the script applies these figures.
    rule = {"digits": RATE_DIGITS, "standard": NATIONAL_STANDARD_24H}
    values["config_json"] = _script_json({"strings": strings, "language": language, "stream_url": stream_url,
                                          "rate_rule": rule})
    values["css"] = _read("wallboard.css")
    values["js"] = _read("wallboard.js")
    values["nonce"] = NONCE_MARK
    # substitute (not safe_substitute): a placeholder without a string is a bug to see at start-up.
    return Template(_read("wallboard.html")).substitute(values)
