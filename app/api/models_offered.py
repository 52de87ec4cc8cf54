"""Which answer models API callers may pick. A request naming a file path or ``module:factory``
would let any client make the server read files or import code, so callers choose from a list:
the configured model, the packaged ones, ``extractive``, and the models trained into the data dir."""

from __future__ import annotations

from app.api.errors import ApiError
from app.settings import Settings
from generator.models import BUILTIN_MODELS


def trained_models(settings: Settings) -> list[str]:
    """Models ``citewise train`` wrote under the data dir (``models/*/model``), as ``gpt:`` specs."""
    root = settings.data_dir / "models"
    if not root.is_dir():
        return []
    return [f"gpt:{folder}" for folder in sorted(root.glob("*/model")) if (folder / "config.json").is_file()]


def offered_models(settings: Settings) -> list[str]:
    names = [
        settings.generator,
        *BUILTIN_MODELS,
        "extractive",
        *trained_models(settings),
        *settings.api_extra_models,
    ]
    return list(dict.fromkeys(names))


def check_model(settings: Settings, model: str | None) -> None:
    if model is not None and model not in offered_models(settings):
        raise ApiError(
            400,
            f"model {model!r} is not offered by this server; choose one of: "
            + ", ".join(offered_models(settings)),
        )
