"""Markdown rendering of what people and the model wrote: lists and code come out as HTML,
and nothing a text holds can run script, load anything or restyle the page."""

import re
from html.parser import HTMLParser

import pytest
from django.template import Context, Template

from labeling.markdown import markdown_to_safe_html

HOSTILE = {
    "script": "<script>window.pwned = 1</script>",
    "img onerror": '<img src=x onerror="window.pwned = 2">',
    "markdown image": "![tracker](https://tracker.example/pixel.png)",
    "javascript link": "[click me](javascript:window.pwned=3)",
    "javascript link, mixed case": "[click](JaVaScRiPt:alert(1))",
    "data url link": "[data](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    "iframe": '<iframe src="https://evil.example/"></iframe>',
    "style attribute": '<p style="position:fixed;top:0">cover</p>',
    "style element": "<style>body { display: none }</style>",
    "svg onload": '<svg onload="window.pwned = 4"></svg>',
    "form": '<form action="https://evil.example/"><button>Go</button></form>',
    "object and embed": '<object data="https://evil.example/x"></object><embed src="x.swf">',
    "link and meta": '<link rel="stylesheet" href="https://evil.example/x.css">'
    '<meta http-equiv="refresh" content="0;url=https://evil.example/">',
    "event handler on an allowed tag": '<a href="https://ok.example/" onclick="alert(1)">a</a>',
    "details with ontoggle": "<details open ontoggle=alert(1)><summary>s</summary>x</details>",
}

# Tags that run, load or restyle something by themselves.
LOADING_TAGS = {
    "script", "img", "iframe", "style", "svg", "form", "object", "embed", "link", "meta",
    "input", "button", "video", "audio", "source", "base",
}  # fmt: skip


class Markup(HTMLParser):
    """The tags and attributes a browser would build from the HTML (not text that looks so)."""

    def __init__(self, html: str):
        super().__init__()
        self.elements: list[tuple[str, dict]] = []
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        self.elements.append((tag, dict(attrs)))


def dangers(html: str) -> list:
    found = []
    for tag, attrs in Markup(html).elements:
        if tag in LOADING_TAGS:
            found.append(tag)
        found += [f"{tag}[{name}]" for name in attrs if name.startswith("on") or name == "style"]
        href = (attrs.get("href") or "").strip().lower()
        if href and not href.startswith(("http://", "https://", "mailto:")):
            found.append(f"{tag}[href={href}]")
        if tag == "a" and attrs.get("rel") != "noopener noreferrer nofollow":
            found.append(f"a[rel={attrs.get('rel')}]")
    return found


@pytest.mark.parametrize("raw_html", [False, True], ids=["judged text", "guidelines"])
@pytest.mark.parametrize("name", HOSTILE)
def test_nothing_hostile_survives(name, raw_html):
    html = markdown_to_safe_html(f"Intro\n\n{HOSTILE[name]}\n\nOutro", raw_html=raw_html)
    assert dangers(html) == [], html
    assert "Intro" in html and "Outro" in html


def test_html_in_a_judged_text_is_shown_as_written():
    html = markdown_to_safe_html('<b>Paris</b> <img src=x onerror="a()">', raw_html=False)
    assert "&lt;b&gt;Paris&lt;/b&gt;" in html and "<b>" not in html
    assert "&lt;img src=x" in html and "<img" not in html


def test_lists_code_blocks_and_links():
    text = (
        "Steps:\n\n- one\n- **two**\n\n1. first\n2. second\n\n"
        "```python\nprint('<script>alert(1)</script>')\n```\n\n"
        "Inline `<iframe>` and [docs](https://docs.example/x)."
    )
    html = markdown_to_safe_html(text, raw_html=False)
    assert "<ul>\n<li>one</li>\n<li><strong>two</strong></li>\n</ul>" in html
    assert "<ol>\n<li>first</li>" in html
    # HTML inside a code block is the code's text, escaped, never markup.
    assert "<pre><code>print('&lt;script&gt;alert(1)&lt;/script&gt;')" in html
    assert "<code>&lt;iframe&gt;</code>" in html
    assert '<a href="https://docs.example/x" rel="noopener noreferrer nofollow">docs</a>' in html


def test_links_keep_only_web_and_mail_urls():
    html = markdown_to_safe_html(
        "[a](javascript:alert(1)) [b](vbscript:x) [c](mailto:a@b.example) [d](http://ok.example)"
    )
    assert html.count("href=") == 2
    assert 'href="mailto:a@b.example"' in html and 'href="http://ok.example"' in html


def test_the_template_filter_gives_rendered_and_raw_text():
    text = "- item <script>x()</script>\n- `code`"
    html = Template("{% load rich_text %}{{ text|rich_text }}").render(Context({"text": text}))
    rendered, raw = re.fullmatch(
        r'<div class="rich-rendered">(.*)</div><div class="rich-raw">(.*)</div>', html, re.S
    ).groups()
    assert "<li>item &lt;script&gt;x()&lt;/script&gt;</li>" in rendered
    assert "<code>code</code>" in rendered
    assert raw == "- item &lt;script&gt;x()&lt;/script&gt;\n- `code`"
    assert Template("{% load rich_text %}{{ text|rich_text }}").render(Context({"text": None}))
