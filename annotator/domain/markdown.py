"""Guidelines are Markdown written by admins and shown to every annotator: render, then sanitise.

markdown-it-py runs with raw HTML disabled (HTML in the source is shown as
text), and nh3 then keeps only a fixed set of tags, attributes and URL schemes,
so even a bug in the renderer cannot put a script, an event handler or a
`javascript:` link into the page. No Flask here: the views pass the text in.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import nh3

if TYPE_CHECKING:
    from markdown_it import MarkdownIt

ALLOWED_TAGS = frozenset(
    {
        "a", "blockquote", "br", "code", "del", "em", "h1", "h2", "h3", "h4", "h5", "h6", "hr",
        "kbd", "li", "ol", "p", "pre", "s", "strong", "table", "tbody", "td", "th", "thead", "tr", "ul",
    }
)
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}, "ol": {"start"}, "th": {"align"}, "td": {"align"}}
URL_SCHEMES = frozenset({"http", "https", "mailto"})


def _renderer() -> MarkdownIt:
    """markdown-it-py is imported here, on the first guidelines to render: ~1 MB and 68 modules that a server
    whose projects have no guidelines never needs (imported in the gunicorn master, every worker would count it)."""
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False}).enable(["table", "strikethrough"])


def render(text: str | None) -> str:
    """Markdown → safe HTML fragment (an empty string for no guidelines)."""
    if not text or not text.strip():
        return ""
    return sanitise(_renderer().render(text))


def sanitise(html: str) -> str:
    """Keep only the allowed tags, attributes and URL schemes of an HTML fragment."""
    return nh3.clean(
        html,
        tags=set(ALLOWED_TAGS),
        attributes={tag: set(attrs) for tag, attrs in ALLOWED_ATTRIBUTES.items()},
        url_schemes=set(URL_SCHEMES),
        link_rel="noopener noreferrer nofollow",
        strip_comments=True,
    ).strip()
