"""Markdown to safe HTML for text people and the model wrote (guidelines, prompts, completions,
demonstrations).

Markdown passes raw HTML through, so its output is never trusted as is: nh3 (ammonia) keeps
only the tags and attributes a document needs (no img, iframe, form, style or on* attributes:
nothing that runs or loads by itself), links keep http(s)/mailto URLs only and get
rel="noopener noreferrer nofollow". Texts an annotator judges (`raw_html=False`: prompts,
completions, demonstrations) go further: HTML in them is shown as the characters written, so
a model's markup can neither hide nor restyle any of its text.
"""

import threading
from functools import lru_cache

import markdown as markdown_lib
import nh3
from django.utils.safestring import SafeString, mark_safe

_TAGS = {
    "a", "abbr", "b", "blockquote", "br", "code", "dd", "del", "details", "dl", "dt", "em",
    "h1", "h2", "h3", "h4", "h5", "h6", "hr", "i", "kbd", "li", "ol", "p", "pre", "s",
    "strong", "sub", "summary", "sup", "table", "tbody", "td", "th", "thead", "tr", "ul",
}  # fmt: skip
_ATTRIBUTES = {"a": {"href", "title"}, "abbr": {"title"}, "th": {"align"}, "td": {"align"}}
_EXTENSIONS = ["fenced_code", "tables", "sane_lists"]

# Building a Markdown converter loads its extensions (the larger part of a short text's
# cost); one per thread is reused, as a converter keeps state while it converts.
_converters = threading.local()


def markdown_to_safe_html(text: str, *, raw_html: bool = True) -> SafeString:
    """`raw_html`: HTML written in the text may stay (sanitized); else it is escaped."""
    return _safe_html(text or "", raw_html)


@lru_cache(maxsize=1024)
def _safe_html(text: str, raw_html: bool) -> SafeString:
    """Cached by the text itself: a task's completions are shown to several annotators and
    again on every reload, so the hot path renders each text once per process."""
    html = _converter(raw_html).reset().convert(text)
    return mark_safe(  # sanitized by nh3 just below
        nh3.clean(
            html,
            tags=_TAGS,
            attributes=_ATTRIBUTES,
            url_schemes={"http", "https", "mailto"},
            link_rel="noopener noreferrer nofollow",
        )
    )


def _converter(raw_html: bool) -> markdown_lib.Markdown:
    name = "with_html" if raw_html else "escaping_html"
    converter = getattr(_converters, name, None)
    if converter is None:
        converter = markdown_lib.Markdown(extensions=_EXTENSIONS)
        if not raw_html:  # HTML blocks and inline tags become text (escaped on output)
            converter.preprocessors.deregister("html_block")
            converter.inlinePatterns.deregister("html")
        setattr(_converters, name, converter)
    return converter
