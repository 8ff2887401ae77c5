"""Guidelines Markdown: rendered for reading, and nothing executable gets through."""
from __future__ import annotations

import re

from annotator.domain.markdown import render, sanitise


def test_renders_the_usual_markdown():
    html = render("# Title\n\nLabel **every** sentence, *carefully*.\n\n1. select\n2. press `q`\n\n- a\n- b\n")
    assert "<h1>Title</h1>" in html
    assert "<strong>every</strong>" in html and "<em>carefully</em>" in html
    assert re.search(r"<ol>\s*<li>select</li>\s*<li>press <code>q</code></li>\s*</ol>", html)
    assert "<ul>" in html and "<li>a</li>" in html


def test_tables_and_strikethrough_are_enabled():
    html = render("| key | label |\n|---|---|\n| 1 | CFS |\n\n~~old rule~~")
    assert "<table>" in html and "<td>CFS</td>" in html
    assert "<s>old rule</s>" in html or "<del>old rule</del>" in html


def test_empty_guidelines_render_to_nothing():
    assert render("") == ""
    assert render("   \n") == ""
    assert render(None) == ""


def test_raw_html_is_shown_as_text_not_run():
    html = render('Hello <script>alert(1)</script> <img src=x onerror="alert(2)">')
    assert "<script" not in html and "<img" not in html
    assert "&lt;script&gt;" in html  # visible as text, so the author sees what they wrote


def test_javascript_links_are_dropped_and_links_get_a_safe_rel():
    html = render("[bad](javascript:alert(1)) [data](data:text/html;base64,PHNjcmlwdD4=) [good](https://example.org/a)")
    assert not re.search(r'href="(javascript|data):', html)  # markdown-it refuses them: left as plain text
    assert 'href="https://example.org/a"' in html
    assert 'rel="noopener noreferrer nofollow"' in html


def test_the_sanitiser_keeps_only_the_allow_list():
    """The second line of defence, fed hostile HTML directly (the renderer never emits it)."""
    html = sanitise(
        '<p style="color:red" onclick="x()">p</p><script>alert(1)</script><img src=x onerror=y>'
        '<a href="javascript:alert(1)">js</a><a href="https://example.org" target="_blank">ok</a>'
        '<iframe src="https://example.org"></iframe><table><tr><td align="left">c</td></tr></table>'
    )
    assert "<p>p</p>" in html
    for bad in ("onclick", "style=", "<script", "alert(1)</script>", "<img", "onerror", "javascript:", "<iframe", "target="):
        assert bad not in html, bad
    assert '<a href="https://example.org" rel="noopener noreferrer nofollow">ok</a>' in html
    assert '<td align="left">c</td>' in html


def test_unicode_survives_unchanged():
    text = "Quotes “like this” and 👍🏽 🇺🇦 e\u0301"
    assert text in render(text)
