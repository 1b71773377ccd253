"""Pictures: produced, of the stated pixel size, and not trivial."""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib.colors as mcolors
import matplotlib.image as mpimg
import numpy as np
import pytest
from conftest import Scene, latlon

from fusion.plot import LAND_COLOUR, identity_colour, land_mask, main_plot, plot_metrics, plot_picture

T0 = 1_700_000_000.0


@pytest.fixture
def run_dir(scene: Scene) -> Path:
    """A run reaching from the Caribbean south to the Panama coast, with a zone and alerts."""
    for k in range(40):
        t = T0 + 60.0 * k
        for n in range(12):
            east, north = -150_000.0 + 25_000.0 * n, -7_000.0 * k
            scene.add_truth(t, n, east, north, role="suspect" if n % 4 == 0 else "benign")
            track_id = n if k < 20 or n % 3 else 100 + n  # some objects change track id halfway
            scene.add_track(t, track_id, east + 200.0, north - 150.0, mmsi=None if n % 2 else 200_000_000 + n)
    scene.add_alert(T0 + 600.0, "a1", "loiter", 0)
    scene.add_alert(T0 + 900.0, "a2", "dark_transit", 4)
    scene.add_alert(T0 + 1200.0, "a3", "rendezvous", 8)
    path = scene.write()
    corners = [latlon(e, n) for e, n in ((-100e3, -50e3), (50e3, -50e3), (50e3, -150e3), (-100e3, -150e3))]
    ring = [[lon, lat] for lat, lon in corners]
    zones = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"name": "interdiction box"},
         "geometry": {"type": "Polygon", "coordinates": [[*ring, ring[0]]]}}]}
    (path / "zones.geojson").write_text(json.dumps(zones))
    return path


def distinct_colours(image: np.ndarray) -> int:
    rgb = (image[..., :3] * 255).astype(np.uint8).reshape(-1, 3)
    return int(np.unique(rgb, axis=0).shape[0])


def test_picture_size_and_content(run_dir: Path, tmp_path: Path) -> None:
    out = plot_picture(run_dir, tmp_path / "picture.png", width_px=1000, height_px=700)
    image = mpimg.imread(out)
    assert image.shape[:2] == (700, 1000)
    assert distinct_colours(image) > 200
    # the shipped land mask put the Panama coast in the picture
    land = np.array(mcolors.to_rgb(LAND_COLOUR))
    assert np.sum(np.all(np.abs(image[..., :3] - land) < 2 / 255, axis=-1)) > 1000


def test_metrics_picture_size_and_content(run_dir: Path, tmp_path: Path) -> None:
    out = plot_metrics(run_dir, tmp_path / "metrics.png", width_px=900, height_px=600)
    image = mpimg.imread(out)
    assert image.shape[:2] == (600, 900)
    assert distinct_colours(image) > 50
    assert (run_dir / "metrics_series.jsonl").exists()  # computed on demand


def test_identity_colours_are_stable_and_spread() -> None:
    assert identity_colour("MMSI 200000001") == identity_colour("MMSI 200000001")
    colours = {tuple(round(c, 2) for c in identity_colour(f"track {i}")) for i in range(200)}
    assert len(colours) > 150


def test_main_plot(run_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "m.png"
    assert main_plot([str(run_dir), "-o", str(out), "--metrics", "--width", "640", "--height", "480"]) == 0
    assert mpimg.imread(out).shape[:2] == (480, 640)
    assert main_plot([str(tmp_path / "nowhere"), "-o", str(out)]) == 2
    assert "tracks.jsonl" in capsys.readouterr().err
    assert main_plot([str(run_dir), "-o", str(out), "--width", "10"]) == 2


def test_land_mask_known_places() -> None:
    # Caracas and Panama City on land; the central Caribbean and the Pacific off Panama at sea
    lats = np.array([10.49, 8.98, 15.0])
    lons = np.array([-66.88, -79.52, -75.0, -85.0])
    got = land_mask(lats, lons)
    assert got.shape == (3, 4)
    assert got[0, 0] and got[1, 1]
    assert not got[2, 2] and not got[1, 3]
