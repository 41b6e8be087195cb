"""Geometry of the dashboard's server-rendered SVG charts: the template draws the shapes."""

from dataclasses import dataclass


@dataclass(frozen=True)
class Bar:
    label: str
    value: float
    x: float
    y: float
    width: float
    height: float


@dataclass(frozen=True)
class BarChart:
    width: int
    height: int
    bars: list[Bar]
    maximum: float


def bar_chart(points: list[tuple[str, float]], *, width: int = 480, height: int = 120) -> BarChart:
    """Bars side by side, scaled to the largest value (an all-zero chart draws no bars)."""
    maximum = max((value for _, value in points), default=0.0)
    slot = width / len(points) if points else width
    bars = []
    for position, (label, value) in enumerate(points):
        bar_height = height * value / maximum if maximum > 0 else 0.0
        bars.append(
            Bar(
                label, value, position * slot + 1, height - bar_height, max(slot - 2, 1), bar_height
            )
        )
    return BarChart(width, height, bars, maximum)


@dataclass(frozen=True)
class LinePoint:
    label: str
    value: float
    x: float
    y: float


def line_points(
    points: list[tuple[str, float | None]],
    *,
    width: int = 480,
    height: int = 120,
    low: float = -1.0,
    high: float = 1.0,
) -> list[LinePoint]:
    """Points of a line chart on a fixed value range (alpha: -1..1); None values are skipped."""
    step = width / max(len(points) - 1, 1)
    span = high - low
    return [
        LinePoint(label, value, position * step, height - height * (value - low) / span)
        for position, (label, value) in enumerate(points)
        if value is not None
    ]


def polyline(points: list[LinePoint]) -> str:
    return " ".join(f"{point.x:.1f},{point.y:.1f}" for point in points)
