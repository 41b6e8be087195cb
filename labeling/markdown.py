"""Markdown to safe HTML for text people wrote (project guidelines).

Markdown passes raw HTML through, so its output is never trusted as is: nh3 (ammonia) keeps
only the tags and attributes a document needs, and links get rel="noopener noreferrer".
"""

import markdown as markdown_lib
import nh3
from django.utils.safestring import SafeString, mark_safe

_TAGS = {
    "a", "abbr", "b", "blockquote", "br", "code", "dd", "del", "details", "dl", "dt", "em",
    "h1", "h2", "h3", "h4", "h5", "h6", "hr", "i", "kbd", "li", "ol", "p", "pre", "s",
    "strong", "sub", "summary", "sup", "table", "tbody", "td", "th", "thead", "tr", "ul",
}  # fmt: skip
_ATTRIBUTES = {"a": {"href", "title"}, "abbr": {"title"}, "th": {"align"}, "td": {"align"}}


def markdown_to_safe_html(text: str) -> SafeString:
    html = markdown_lib.markdown(text or "", extensions=["fenced_code", "tables", "sane_lists"])
    return mark_safe(  # sanitized by nh3 just below
        nh3.clean(
            html,
            tags=_TAGS,
            attributes=_ATTRIBUTES,
            url_schemes={"http", "https", "mailto"},
            link_rel="noopener noreferrer",
        )
    )
