"""The own-trained weights that ship in ml/shipped/: they load, colorize, fit the size budget and
carry honest cards; the default model is chosen from those cards."""

from __future__ import annotations

import json

import numpy as np
import pytest

import ml
from colorize.services import submission
from ml import cards, config, metrics
from ml.color import gray_to_lightness, rgb_to_lab, to_gray
from ml.weights import KNOWN_WEIGHTS
from tests.conftest import SHIPPED_WEIGHTS_DIR, make_photo

SHIPPED_CARDS = cards.shipped_cards(SHIPPED_WEIGHTS_DIR)
CARD_FIELDS = {
    "model", "family", "weights_file", "data", "recipe", "steps", "training_seconds",
    "hardware", "validation", "clears_the_bar", "licence", "attributions",
}  # fmt: skip


def test_a_torch_and_a_keras_model_ship_within_150_mb():
    families = {card.data["family"] for card in SHIPPED_CARDS}
    assert {"cnn", "zhang"} <= families
    total = sum(p.stat().st_size for p in SHIPPED_WEIGHTS_DIR.iterdir() if p.is_file())
    assert total <= 150 * 1024 * 1024


@pytest.mark.parametrize("card", SHIPPED_CARDS, ids=lambda c: c.model)
def test_shipped_weights_load_and_colorize_a_photo(card, monkeypatch):
    monkeypatch.setattr(config, "SHIPPED_WEIGHTS_DIR", SHIPPED_WEIGHTS_DIR)
    assert set(card.data) >= CARD_FIELDS
    spec = ml.get_spec(card.model)
    assert KNOWN_WEIGHTS[spec.weights].filename == card.weights_file
    assert not spec.official
    v = card.validation
    assert v["photos"] == 100 and v["grey_delta_e00"] > 0
    assert card.clears_the_bar == card.data["clears_the_bar"]

    photo = make_photo(96, 72)
    result = ml.colorize(photo, model=card.model, device="cpu")
    assert result.size == (96, 72)
    lightness_in = gray_to_lightness(to_gray(photo))
    lightness_out = rgb_to_lab(np.asarray(result, dtype=np.float32) / 255)[..., 0]
    assert np.abs(lightness_out - lightness_in).mean() < 1.0  # lightness kept
    assert metrics.colourfulness(result) > 1.0  # and colour added


def _card(directory, model, delta_e00, colourfulness):
    figures = {
        "delta_e00": delta_e00, "grey_delta_e00": 13.0, "colourfulness": colourfulness,
        "truth_colourfulness": 40.0, "photos": 100,
    }  # fmt: skip
    (directory / f"{model}.json").write_text(
        json.dumps({"model": model, "weights_file": f"{model}.pth", "validation": figures})
    )


def test_the_recommended_model_is_the_best_one_that_clears_the_bar(tmp_path):
    _card(tmp_path, "dull", 11.0, 5.0)  # better than grey but washed out: fails the bar
    _card(tmp_path, "garish", 14.0, 40.0)  # colourful but worse than grey: fails
    assert cards.recommended_model(tmp_path) is None
    _card(tmp_path, "good", 12.5, 25.0)
    _card(tmp_path, "better", 12.0, 21.0)
    assert cards.recommended_model(tmp_path) == "better"


@pytest.mark.django_db
def test_the_site_never_defaults_to_a_model_worse_than_grey(monkeypatch, settings):

    monkeypatch.setattr(config, "SHIPPED_WEIGHTS_DIR", SHIPPED_WEIGHTS_DIR)
    settings.COLORIA_DEFAULT_MODEL = ""
    installed = submission.available_model_keys()
    assert {card.model for card in SHIPPED_CARDS} <= set(installed)
    default = submission.default_model_key()
    recommended = cards.recommended_model()
    if recommended:
        assert default == recommended
    else:  # no shipped model clears the bar: only official weights (here: random) may be default
        assert default not in {card.model for card in SHIPPED_CARDS}
    settings.COLORIA_DEFAULT_MODEL = "zhang-eccv16"  # an explicit choice wins when installed
    assert submission.default_model_key() == "zhang-eccv16"


def test_a_cards_stages_say_how_each_training_run_began():
    scratch = cards.Card("m", "m.pth", {"steps": 10, "training_seconds": 60})
    assert scratch.stages == [{"steps": 10, "seconds": 60, "start": "from scratch"}]
    resumed = cards.Card("m", "m.pth", {"steps": 5, "started_from": {"weights": "a.pth"}})
    assert resumed.stages[0]["start"] == "starting from a.pth"
    fine_tuned = next(card for card in SHIPPED_CARDS if card.model == "zhang-eccv16-coloria")
    assert [stage["start"] for stage in fine_tuned.stages] == [
        "from scratch", "fine-tuning those weights"
    ]  # fmt: skip
    assert fine_tuned.data["recipe"]["train"]["loss"] == "delta_e00"


def test_coloria_lites_default_strength_is_the_one_its_card_chose():
    (card,) = [card for card in SHIPPED_CARDS if card.model == "coloria-lite"]
    (strength,) = [p for p in ml.get_spec("coloria-lite").params if p.name == "strength"]
    assert strength.default == card.data["default_strength"]
    assert card.data["recipe"]["train"]["val_strength"] == strength.default  # figures at it


@pytest.mark.parametrize("sample", ["astronaut", "chelsea"])
def test_coloria_lites_setting_moves_colour_the_way_its_help_says(sample, monkeypatch):
    """The help says the mix (0) is more colourful than the likeliest colour (1) on real photos
    with the shipped weights: measured by mean chroma on scikit-image's own sample photos (a
    synthetic pattern is no real photo: there the likeliest colours are the vivid ones)."""
    from PIL import Image
    from skimage import data

    monkeypatch.setattr(config, "SHIPPED_WEIGHTS_DIR", SHIPPED_WEIGHTS_DIR)
    (strength,) = [p for p in ml.get_spec("coloria-lite").params if p.name == "strength"]
    assert "the mix is the more colourful on real photos" in strength.help
    photo = Image.fromarray(getattr(data, sample)()).convert("L")

    def chroma(value: float) -> float:
        out = np.asarray(ml.colorize(photo, "coloria-lite", strength=value, device="cpu"))
        ab = rgb_to_lab(out.astype(np.float32) / 255)[..., 1:]
        return float(np.hypot(ab[..., 0], ab[..., 1]).mean())

    assert chroma(0.0) > chroma(1.0) + 3


def _shipped_strength_models() -> list[str]:
    return [
        card.model for card in SHIPPED_CARDS
        if (param := ml.get_spec(card.model).strength) is not None and param.colourful_end
    ]  # fmt: skip


def test_every_shipped_model_with_a_strength_setting_says_which_end_is_colourful():
    assert {"coloria-lite", "zhang-eccv16-coloria"} <= set(_shipped_strength_models())


@pytest.mark.parametrize("model", _shipped_strength_models())
def test_a_strength_sliders_words_are_true_for_the_shipped_weights(model, monkeypatch):
    """The words at the ends of the site's slider say which end is the more colourful: measured
    (mean chroma) on scikit-image's sample photos with the weights Coloria ships."""
    from PIL import Image
    from skimage import data

    monkeypatch.setattr(config, "SHIPPED_WEIGHTS_DIR", SHIPPED_WEIGHTS_DIR)
    param = ml.get_spec(model).strength
    assert len(param.ends) == 2 and all(param.ends)

    def chroma(photo, value: float) -> float:
        out = np.asarray(ml.colorize(photo, model, **{param.name: value}, device="cpu"))
        ab = rgb_to_lab(out.astype(np.float32) / 255)[..., 1:]
        return float(np.hypot(ab[..., 0], ab[..., 1]).mean())

    for sample in ("astronaut", "chelsea", "coffee"):
        photo = Image.fromarray(getattr(data, sample)()).convert("L")
        low, high = chroma(photo, param.min), chroma(photo, param.max)
        colourful, dull = (low, high) if param.colourful_end == "min" else (high, low)
        assert colourful > dull + 0.5, (sample, low, high)


@pytest.mark.django_db
def test_a_fresh_install_preselects_its_best_shipped_model_and_says_it_is_experimental(
    monkeypatch, settings, tmp_path, client
):
    """Only the shipped weights installed, none of which clears the bar: the one closest to the
    true colours is still preselected (no visit starts with an error), marked experimental."""
    monkeypatch.setattr(config, "SHIPPED_WEIGHTS_DIR", SHIPPED_WEIGHTS_DIR)
    ml.configure(weights_dir=tmp_path / "no-official-weights")
    settings.COLORIA_DEFAULT_MODEL = ""
    failing = [card for card in SHIPPED_CARDS if not card.clears_the_bar]
    best = cards.recommended_model() or min(failing, key=lambda c: c.validation["delta_e00"]).model
    assert submission.default_model_key() == best
    page = " ".join(client.get("/").content.decode().split())
    selected = page.split(f'<option value="{best}"', 1)[1].split(">", 1)[0]
    assert "selected" in selected
    note = page.split(f'experimental-note" data-model="{best}"', 1)
    if cards.recommended_model():
        assert len(note) == 1  # the default clears the bar: no such note for it
        return
    card = cards.card_for(best)
    assert "not yet closer to the true colours" in note[1].split("</p>", 1)[0]
    assert f"against grey’s {card.validation['grey_delta_e00']:.1f}" in note[1]
    assert " hidden>" not in note[1].split("</p>", 1)[0][:40]  # shown for the preselected model
