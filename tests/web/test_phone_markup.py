"""The markup the phone layout relies on (the browser tests in test_browser_phone.py check how
it behaves): the menu button, the camera input, the touch-only wording, the stacked tables."""

from __future__ import annotations

import re

import pytest

pytestmark = pytest.mark.django_db


def tag(html: str, pattern: str) -> str:
    """The one opening tag matching `pattern` (a regex inside the tag)."""
    found = re.findall(rf"<[a-z]+[^>]*{pattern}[^>]*>", html)
    assert len(found) == 1, (pattern, found)
    return found[0]


def test_every_page_has_a_menu_button_for_its_navigation(client):
    html = client.get("/").content.decode()
    button = tag(html, r'class="menu-button"')
    assert button.startswith("<button") and 'type="button"' in button
    assert 'aria-expanded="false"' in button and 'aria-controls="site-nav"' in button
    assert 'id="site-nav"' in tag(html, r'aria-label="Main"')


def test_the_upload_form_offers_the_camera_beside_the_gallery(client):
    html = client.get("/").content.decode()
    main_input = tag(html, r'id="images"')
    assert "capture" not in main_input and "multiple" in main_input
    camera = tag(html, r'id="camera"')
    assert 'capture="environment"' in camera and 'accept="image/*"' in camera
    assert "name=" not in camera  # its photos go through the main input
    assert 'for="camera"' in tag(html, r'id="camera-button"')
    assert '<span class="touch-only">Choose photos or take one</span>' in html
    assert '<span class="no-touch">Drop photos here</span>' in html


def test_the_slider_hint_on_arrow_keys_is_for_keyboards_and_mice(
    client, make_user, colorize_photos
):
    ann = make_user("ann")
    job = colorize_photos(owner=ann).jobs.get()
    client.force_login(ann)
    html = client.get(f"/jobs/{job.id}/").content.decode()
    assert (
        'Drag the divider<span class="no-touch">, or focus it and use the arrow keys</span>.'
        in html
    )


def test_the_token_table_labels_its_cells_for_phones(client, make_user):
    client.force_login(make_user("ann"))
    client.post("/accounts/tokens/", {"name": "laptop"})
    html = client.get("/accounts/tokens/").content.decode()
    assert 'class="data-table stack-table"' in html
    for label in ("Name", "Key starts", "Created", "Last used"):
        assert f'<td data-label="{label}">' in html
    # Revoking still asks first (in the page, see site.js).
    assert "data-confirm=" in tag(html, r'class="inline-form"')
