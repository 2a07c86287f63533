"""What the busiest pages keep between requests (issue #22: cheaper pages) follows what it depends
on: weights installed or removed, another weights directory, a changed registry, a new card; the
model picker kept for staff is never shown to a visitor; quick links are `reverse`'s; lists read
the same number of rows whatever their length. (scripts/page-cost measures the costs.)"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import time
import uuid
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import NoReverseMatch, get_script_prefix, reverse, set_script_prefix

import ml
from colorize.links import address_maker, path_to
from colorize.selectors import catalogue, model_pages
from colorize.services import submission
from ml import registry
from ml.weights import known
from tests.conftest import encode, make_photo

pytestmark = pytest.mark.django_db

SIGGRAPH = 'value="zhang-siggraph17"'


def settle(directory: Path) -> None:
    """As if the directory's last change were an hour ago (what is kept is trusted only then)."""
    past = time.time() - 3600
    os.utime(directory, (past, past))


@pytest.fixture
def weights_dir(tmp_path: Path, random_weights_dir: Path) -> Path:
    """A weights directory of its own (ECCV16 installed), settled, as is the shipped one."""
    directory = tmp_path / "weights"
    directory.mkdir()
    for existing in random_weights_dir.iterdir():
        (directory / existing.name).symlink_to(existing)
    ml.configure(weights_dir=directory)
    settle(directory)
    settle(ml.config.SHIPPED_WEIGHTS_DIR)
    return directory


def test_the_catalogue_is_kept_while_nothing_changes(weights_dir):
    assert catalogue.current() is catalogue.current()
    assert catalogue.current().is_installed("zhang-eccv16")


def test_a_directory_changed_just_now_is_not_trusted_yet(weights_dir):
    (weights_dir / "notes.txt").write_text("a change within the timestamp's resolution")
    assert catalogue.current() is not catalogue.current()


def test_weights_installed_or_removed_show_on_the_upload_form(
    client, weights_dir, hint_weights_dir
):
    assert SIGGRAPH not in client.get("/").content.decode()
    kept = catalogue.current()
    filename = known("zhang-siggraph17").filename
    (weights_dir / filename).symlink_to(hint_weights_dir / filename)
    assert SIGGRAPH in client.get("/").content.decode()
    assert catalogue.current() is not kept
    settle(weights_dir)
    assert SIGGRAPH in client.get("/").content.decode()  # kept now, and still right
    (weights_dir / filename).unlink()
    assert SIGGRAPH not in client.get("/").content.decode()


def test_another_weights_directory_or_a_changed_spec_is_seen(
    weights_dir, hint_weights_dir, monkeypatch
):
    assert not catalogue.current().is_installed("zhang-siggraph17")
    settle(hint_weights_dir)
    ml.configure(weights_dir=hint_weights_dir)
    assert catalogue.current().is_installed("zhang-siggraph17")
    ml.configure(weights_dir=weights_dir)
    spec = registry.get_spec("zhang-eccv16")
    monkeypatch.setitem(registry._REGISTRY, spec.key, dataclasses.replace(spec, weights="bigcolor"))
    installed = {choice.spec.key for choice in model_pages.model_choices() if choice.installed}
    assert "zhang-eccv16" not in installed


def test_a_new_card_in_the_shipped_directory_is_seen(weights_dir):
    assert model_pages.experimental("zhang-eccv16") is None
    card = {
        "model": "zhang-eccv16", "weights_file": "colorization_release_v2-9b330a0b.pth",
        "validation": {"delta_e00": 14.0, "grey_delta_e00": 13.0, "colourfulness": 21.0,
                       "truth_colourfulness": 40.0},
    }  # fmt: skip
    (ml.config.SHIPPED_WEIGHTS_DIR / "zhang-eccv16.json").write_text(json.dumps(card))
    assert model_pages.experimental("zhang-eccv16") is not None


def test_the_kept_model_picker_never_shows_staff_commands_to_visitors(
    client, weights_dir, make_user
):
    staff = make_user("mod", is_staff=True)
    client.force_login(staff)
    assert "fetch_weights" in client.get("/").content.decode()  # install commands, for staff
    client.logout()
    assert "fetch_weights" not in client.get("/").content.decode()
    client.force_login(staff)
    assert "fetch_weights" in client.get("/").content.decode()


def test_the_kept_model_picker_follows_the_model_asked_for(client, weights_dir):
    all_selected = re.compile(r'<option value="all"[^>]*selected')
    assert all_selected.search(client.get("/?model=all").content.decode())
    assert not all_selected.search(client.get("/").content.decode())
    assert all_selected.search(client.get("/?model=all").content.decode())


def test_a_refused_form_shows_the_model_it_was_sent_with_and_is_not_kept(client, weights_dir):
    photo = SimpleUploadedFile("p.png", encode(make_photo()))
    response = client.post("/", {"images": [photo], "model": "no-such-model"})
    assert response.status_code == 400
    kept = catalogue.current().derived
    assert not any("no-such-model" in key for key in kept)


@pytest.mark.parametrize(
    ("name", "args"),
    [
        ("colorize:home", []),
        ("colorize:job", ["uuid"]),
        ("colorize:job-thumbnail", ["uuid", "original"]),
        ("colorize:job-thumbnail", ["uuid", "result"]),
        ("colorize:model-family", ["zhang"]),
        ("api:job-detail", ["uuid"]),
    ],
)
def test_quick_links_are_what_reverse_gives(name, args):
    previous = get_script_prefix()
    try:
        for prefix in ("/", "/coloria/"):
            set_script_prefix(prefix)
            for _ in range(3):  # the first reverses, the next ones fill in
                filled = [uuid.uuid4() if arg == "uuid" else arg for arg in args]
                assert path_to(name, *filled) == reverse(name, args=filled)
    finally:
        set_script_prefix(previous)


@pytest.mark.parametrize("name", ["api:job-detail", "api:job-result", "colorize:job"])
def test_address_makers_give_what_reverse_and_the_request_give(name, rf, settings):
    settings.ALLOWED_HOSTS = ["coloria.example"]
    request = rf.get("/api/v1/jobs", HTTP_HOST="coloria.example", secure=True)
    make = address_maker(name, request.build_absolute_uri)
    for _ in range(3):
        job_id = uuid.uuid4()
        assert make(job_id) == request.build_absolute_uri(reverse(name, args=[job_id]))
        assert make(job_id).startswith("https://coloria.example/")


def test_quick_links_refuse_what_reverse_refuses():
    with pytest.raises(NoReverseMatch):
        path_to("colorize:job", "not-a-uuid")


def _queries(client, url: str) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200
    return len(queries)


def _send(owner, count: int) -> None:
    files = [SimpleUploadedFile(f"q{i}.png", encode(make_photo(seed=i))) for i in range(count)]
    submission.job_submit(files=files, model_key="zhang-eccv16", owner=owner)


def test_the_api_list_the_history_and_recent_photos_read_no_row_on_its_own(
    client, api_client, make_user, colorize_photos
):
    ann = make_user("ann")
    api = api_client(ann)
    client.force_login(ann)
    colorize_photos(owner=ann)  # a succeeded job, with its result
    _queries(api, "/api/v1/jobs")  # the token's first use is written down once
    pages = ("/history/", "/")  # the home page lists the latest 4 (recent photos)
    one = _queries(api, "/api/v1/jobs"), *(_queries(client, page) for page in pages)
    colorize_photos(owner=ann, count=2)
    _send(ann, 3)  # and queued ones
    assert (_queries(api, "/api/v1/jobs"), *(_queries(client, page) for page in pages)) == one
    assert len(api.get("/api/v1/jobs").json()["results"]) == 6
