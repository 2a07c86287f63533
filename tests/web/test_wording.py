"""Words for people, not for the system: "2 photos · sent just now", "Back to your photos", file
sizes in KB below 1 MB."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from django.urls import reverse

from colorize.templatetags.wording import time_ago, time_until

NOW = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)


def text(response) -> str:
    return " ".join(response.content.decode().split())


@pytest.mark.parametrize(
    ("seconds", "said"),
    [(0, "just now"), (59, "just now"), (-3, "just now"), (60, "1 minute ago"),
     (150, "2 minutes ago"), (3599, "59 minutes ago"), (3600, "1 hour ago"),
     (5 * 3600, "5 hours ago"), (30 * 3600, "yesterday"), (3 * 86400, "3 days ago"),
     (10 * 86400, "on 25 Nov 2026")],
)  # fmt: skip
def test_time_ago(seconds, said, settings):
    settings.TIME_ZONE = "UTC"
    assert time_ago(NOW - timedelta(seconds=seconds), now=NOW) == said


@pytest.mark.parametrize(
    ("seconds", "said"),
    [(-5, "any moment now"), (0, "any moment now"), (30, "in less than a minute"),
     (60, "in 1 minute"), (61, "in 2 minutes"), (599, "in 10 minutes"), (480, "in 8 minutes"),
     (3600, "in 1 hour"), (2 * 86400, "in 2 days")],
)  # fmt: skip
def test_time_until(seconds, said):
    assert time_until(NOW + timedelta(seconds=seconds), now=NOW) == said


def test_nothing_to_say_without_a_time():
    assert time_ago(None) == "" and time_until(None) == ""


@pytest.mark.django_db
def test_a_submission_says_photos_sent_just_now(client, colorize_photos):
    client.get(reverse("colorize:home"))
    client.session.save()
    batch = colorize_photos(session_key=client.session.session_key, count=2)
    page = text(client.get(reverse("colorize:batch", args=[batch.id])))
    assert "2 photos · sent <time" in page and ">just now</time>" in page
    assert "job" not in re.sub(r"<[^>]*>", " ", page).lower()  # no system words in its text
    assert not re.search(r"\b0 minutes", page)


@pytest.mark.django_db
def test_all_models_on_one_photo_says_one_photo_and_its_results(
    client, colorize_photos, hint_model
):
    client.get(reverse("colorize:home"))
    client.session.save()
    batch = colorize_photos(session_key=client.session.session_key, model="all")
    page = text(client.get(reverse("colorize:batch", args=[batch.id])))
    assert "1 photo · 2 results · sent <time" in page


@pytest.mark.django_db
def test_a_result_page_leads_back_to_your_photos(client, colorize_photos, hint_model):
    client.get(reverse("colorize:home"))
    client.session.save()
    batch = colorize_photos(session_key=client.session.session_key, model="all")
    job = batch.jobs.first()
    batch_link = f'<a href="{reverse("colorize:batch", args=[batch.id])}">Back to your photos</a>'
    for page in (
        text(client.get(reverse("colorize:job", args=[job.id]))),
        text(client.get(reverse("colorize:compare", args=[batch.id]))),
    ):
        assert batch_link in page and "This submission" not in page
    # The note on when anonymous photos go says it in words too.
    assert ">in 10 minutes</time>" in text(client.get(reverse("colorize:job", args=[job.id])))
