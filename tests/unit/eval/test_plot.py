"""Pictures: produced, of the stated pixel size, and not trivial."""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib.colors as mcolors
import matplotlib.image as mpimg
import numpy as np
import pytest
from eval_scene import Scene, latlon

from fusion.plot import (
    LAND_COLOUR,
    identity_colour,
    main_plot,
    picture_figure,
    plot_metrics,
    plot_picture,
)

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
    # the GSHHG coastline put the Panama coast in the picture
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
    assert main_plot([str(tmp_path / "nowhere"), "-o", str(out)]) == 1  # a missing file: a runtime error
    assert "tracks.jsonl" in capsys.readouterr().err
    assert main_plot([str(run_dir), "-o", str(out), "--width", "10"]) == 2  # a bad option: a usage error


def test_legend_inside_the_map_labels_and_time_span(run_dir: Path) -> None:
    fig = picture_figure(run_dir, width_px=1000, height_px=700)
    fig.draw_without_rendering()  # lays the legend out
    (ax,) = fig.axes
    legend = ax.get_legend()
    assert legend is not None and not fig.legends  # on the axes, not floating beside them
    box, axes_box = legend.get_window_extent(), ax.get_window_extent()
    assert axes_box.x0 <= box.x0 and box.x1 <= axes_box.x1 and axes_box.y0 <= box.y0 and box.y1 <= axes_box.y1
    assert legend.get_frame().get_alpha() == pytest.approx(0.85)
    texts = {t.get_text() for t in ax.texts}
    # alerted tracks by MMSI (even track ids carry one) or track id, with their rule
    assert {"MMSI 200000000: loiter", "MMSI 200000004: dark_transit", "MMSI 200000008: rendezvous"} <= texts
    assert "2023-11-14T22:13:20Z - 2023-11-14T22:52:20Z" in ax.get_title()


def test_sensors_from_the_scenario(tmp_path: Path) -> None:
    scenario = Path(__file__).parents[3] / "sim_feeds" / "scenarios" / "minimal.toml"
    from fusion.offline import evaluate

    evaluate(scenario, tmp_path / "run")
    fig = picture_figure(tmp_path / "run", width_px=1000, height_px=700, scenario=scenario)
    (ax,) = fig.axes
    texts = {t.get_text() for t in ax.texts}
    assert {"guna-yala-radar", "ais-guna-yala"} <= texts  # the two sites
    assert any(t.endswith(": go_fast") for t in texts)  # the go-fast's alert is labelled
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "CoastalRadar site, coverage" in labels and "AisTerrestrial site, coverage" in labels
    lon0, lon1 = ax.get_xlim()
    lat0, lat1 = ax.get_ylim()
    assert lat0 <= 9.42 <= lat1 and lon0 <= -78.80 <= lon1  # the site is in the picture
    # the suspect's track is drawn above its truth band
    truth_band = max(c.get_zorder() for c in ax.collections if c.get_alpha() == pytest.approx(0.35))
    tracks = max(c.get_zorder() for c in ax.collections if c.get_linewidth()[0] == pytest.approx(1.6))
    assert tracks > truth_band
