"""Every setting can be set from the environment, and the README documents each variable."""

from __future__ import annotations

from pathlib import Path

from pydantic_settings import BaseSettings

from core.settings import Settings

README = Path(__file__).parents[2] / "README.md"


def variables(model: type[BaseSettings]) -> set[str]:
    found: set[str] = set()
    prefix = model.model_config.get("env_prefix", "")
    for name, field in model.model_fields.items():
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseSettings):
            found |= variables(annotation)
        else:
            found.add(f"{prefix}{name}".upper())
    return found


def test_every_settings_variable_is_in_the_readme() -> None:
    text = README.read_text()
    names = {name for name in variables(Settings) if name.startswith("WEARSTREAM_")}
    assert len(names) > 20
    missing = sorted(name for name in names if f"`{name}`" not in text)
    assert missing == []
