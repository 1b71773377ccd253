"""The distance-to-shore grid stays bounded whatever the deployment's area."""

from __future__ import annotations

import numpy as np
import pytest

from fusion.core.frame import LocalFrame
from fusion.rules import geo


def test_an_ocean_basin_area_coarsens_the_cell_instead_of_growing_the_grid(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(geo, "MAX_SHORE_CELLS", 40_000)
    geo.shore_distance.cache_clear()
    try:
        frame = LocalFrame(-45.0, -5.0, 110.0, 155.0)  # Australia's coastal waters, ~5,000 km across
        grid = geo.shore_distance(frame, 2000.0)
        rows, cols = grid.dist_m.shape
        assert rows * cols <= 1.05 * 40_000 + rows + cols  # ceil + 1 per axis
        assert grid.cell_m > 2000.0
        assert np.isfinite(grid.dist_m).any() and (grid.dist_m == 0.0).any()  # land and sea both present
        small = LocalFrame(9.0, 10.0, -80.0, -79.0)  # a small area keeps the asked-for cell
        assert geo.shore_distance(small, 2000.0).cell_m == 2000.0
    finally:
        geo.shore_distance.cache_clear()
