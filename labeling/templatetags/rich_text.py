"""Texts people and the model wrote, as pages show them: Markdown rendered to sanitized HTML
(labeling.markdown, the one renderer) beside the raw text, escaped. Which of the two shows is
the reader's choice (static/js/text_view.js sets it on <html>; without it, the rendered one).

    {% load rich_text %}
    {{ completion.text|rich_text }}
"""

from django import template
from django.utils.html import format_html
from django.utils.safestring import SafeString

from labeling.markdown import markdown_to_safe_html

register = template.Library()


@register.filter
def rich_text(text: str) -> SafeString:
    """The text rendered and raw, one of them shown (CSS: .rich-rendered / .rich-raw). HTML
    in the text is shown as written, never as markup (see labeling.markdown)."""
    return format_html(
        '<div class="rich-rendered">{}</div><div class="rich-raw">{}</div>',
        markdown_to_safe_html(text, raw_html=False),
        text or "",
    )
