"""The API's documentation is linked from the site (footer, about page, tokens page), and its
page links back to the site."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db

DOCS = "/api/v1/docs"


def links(html: str) -> list[tuple[str, str]]:
    """(href, text) of every link, text without tags and squeezed."""
    return [
        (href, " ".join(re.sub(r"<[^>]+>", "", text).split()))
        for href, text in re.findall(r'<a [^>]*href="([^"]*)"[^>]*>(.*?)</a>', html, re.S)
    ]


def test_the_docs_url_is_the_one_linked():
    assert reverse("api:docs") == DOCS


@pytest.mark.parametrize("path", ["/", "/gallery/", "/models/", "/about/"])
def test_every_page_footer_links_the_api_docs(client, path):
    html = client.get(path).content.decode()
    footer = html[html.index('<footer class="site-footer">') :]
    assert (DOCS, "API docs") in links(footer)


def test_the_about_page_links_the_api_docs_in_its_text(client):
    html = client.get("/about/").content.decode()
    main = html[html.index("<main") : html.index("</main>")]
    assert (DOCS, "API documentation") in links(main)


def test_the_docs_page_links_back_to_the_site(client):
    response = client.get(DOCS)
    assert response.status_code == 200
    html = response.content.decode()
    assert ("/", "← Back to Coloria") in links(html)
    assert ("/accounts/tokens/", "Your API tokens") in links(html)
    # The header comes first, above the Swagger UI, which is still there and still local.
    assert html.index("Back to Coloria") < html.index('id="swagger-ui"')
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js" in html
    assert "/static/css/api-docs.css" in html
    # Its header adds no inline style or script (the page's own are drf-spectacular's).
    header = html[html.index("<header") : html.index("</header>")]
    assert "style=" not in header and "<script" not in header
