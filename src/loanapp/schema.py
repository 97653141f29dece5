"""The input schema stored with every model: the features of a row, their types and seen values."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, ConfigDict

if TYPE_CHECKING:
    import pandas as pd

FeatureKind = Literal["integer", "number", "category"]
FeatureValue = int | float | str


class FeatureSpec(BaseModel):
    """One input feature: its kind, and what training saw of it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    kind: FeatureKind
    categories: tuple[str, ...] | None = None
    """Every category seen in training (category features only), sorted."""
    minimum: float | None = None
    """Smallest value seen in training (numeric features only)."""
    maximum: float | None = None
    """Largest value seen in training (numeric features only)."""


class InputSchema(BaseModel):
    """The ordered features a model takes, as observed in its training data."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    features: tuple[FeatureSpec, ...]

    @property
    def names(self) -> list[str]:
        """Feature names in the order the model expects them."""
        return [feature.name for feature in self.features]

    @classmethod
    def from_frame(cls, frame: pd.DataFrame) -> InputSchema:
        """Describe the columns of a training frame."""
        return cls(features=tuple(_describe_column(name, frame[name]) for name in frame.columns))

    def to_frame(self, rows: Sequence[Mapping[str, FeatureValue]]) -> pd.DataFrame:
        """Build the model's input frame from rows, columns in schema order with training dtypes."""
        import pandas as pd

        columns = {
            feature.name: pd.Series(
                [row[feature.name] for row in rows], dtype=_PANDAS_DTYPES[feature.kind]
            )
            for feature in self.features
        }
        return pd.DataFrame(columns)


_PANDAS_DTYPES: dict[FeatureKind, str] = {
    "integer": "int64",
    "number": "float64",
    "category": "object",
}


def _describe_column(name: str, column: pd.Series) -> FeatureSpec:
    import pandas as pd

    if pd.api.types.is_integer_dtype(column):
        return FeatureSpec(
            name=name, kind="integer", minimum=float(column.min()), maximum=float(column.max())
        )
    if pd.api.types.is_float_dtype(column):
        return FeatureSpec(
            name=name, kind="number", minimum=float(column.min()), maximum=float(column.max())
        )
    return FeatureSpec(
        name=name, kind="category", categories=tuple(sorted(str(v) for v in column.unique()))
    )
