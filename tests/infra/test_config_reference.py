"""docs/config-reference.md is generated from the config models and committed; it must match them."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from infra.config.base import StrictModel
from infra.config.reference import REGENERATE, render_reference

REFERENCE = Path(__file__).resolve().parents[2] / "docs" / "config-reference.md"


def test_the_committed_reference_is_up_to_date():
    assert REFERENCE.read_text() == render_reference(), f"stale: regenerate with `{REGENERATE}`"


def test_every_field_of_every_config_model_is_documented():
    reference = render_reference()
    config_models = StrictModel.__subclasses__()  # every model platform.yaml is validated with
    assert len(config_models) >= 9
    for model in config_models:
        assert f"## {model.__name__}\n" in reference
        for name in model.model_fields:
            assert f"| `{name}` |" in reference, f"{model.__name__}.{name}"


class _Inner(BaseModel):
    """Inner settings."""

    model_config = ConfigDict(use_attribute_docstrings=True)

    size: Annotated[int, Field(ge=1, le=9)] = 3
    """How big."""
    mode: Literal["fast", "safe"] = "safe"
    """How careful."""


class _Outer(BaseModel):
    """Outer settings."""

    model_config = ConfigDict(use_attribute_docstrings=True)

    name: Annotated[str, Field(pattern=r"^[a-z]+$")]
    """The name."""
    inner: _Inner = _Inner(size=5)
    """Nested, with one default changed."""
    by_env: dict[Literal["dev", "prod"], _Inner] = {}
    """One per env."""
    levels: list[Annotated[int, Field(gt=0)]] = [1, 2]
    """Positive levels."""
    note: str | None = None
    """Optional note."""


def test_types_defaults_and_paths_are_rendered_from_the_model():
    reference = render_reference(_Outer)

    assert "| `name` | string; matches `^[a-z]+$` | **required** | The name. |" in reference
    assert "| `inner` | [_Inner](#_inner) | `{size: 5}` | Nested, with one default changed. |" in reference
    assert "| `levels` | list of integer (> 0) | `[1, 2]` | Positive levels. |" in reference
    assert "| `note` | string, optional | unset | Optional note. |" in reference
    assert "| `size` | integer; >= 1, <= 9 | `3` | How big. |" in reference
    assert "| `mode` | `fast` \\| `safe` | `safe` | How careful. |" in reference
    assert "map of `dev` \\| `prod` to [_Inner](#_inner)" in reference
    assert "At `inner`." in reference  # the first path that reaches a nested model


def test_per_kind_defaults_are_listed():
    reference = render_reference()
    assert "| `prevent_destroy` | - | - | `true` |" in reference
    assert "| `compute.spot` | `true` | `true` | `false` |" in reference
