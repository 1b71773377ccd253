"""suspect_aircraft: an aircraft without ADS-B is suspect when it entered from seaward (first seen beyond the
territorial sea), carried across its radar track's fragments, or when it descends near an airstrip."""

from __future__ import annotations

import numpy as np

from fusion.core.arrays import TENTATIVE, TrackView
from fusion.rules.catalog.suspect_aircraft import AirOrigin, suspect_aircraft
from fusion.rules.config import default_rules
from fusion.rules.geo import ShoreDistance
from fusion.rules.scene import Scene
from fusion.rules.synthetic import FRAME, engine, view

T0 = 1_700_013_600.0
M_PER_DEG_LON = 111_320.0 * np.cos(np.radians(15.0))
COAST_E, _ = FRAME.to_local(np.array([15.0]), np.array([-75.0]))
# land west of lon -75 (distance 0), sea east of it (distance = metres east of the coast), 1 km cells
CELLS = np.arange(400)
SHORE = ShoreDistance(float(COAST_E[0]) - 200_000.0, -500_000.0, 1000.0,
                      np.tile(np.maximum(CELLS * 1000.0 + 500.0 - 200_000.0, 0.0), (1000, 1)))
PARAMS = default_rules().rules.suspect_aircraft
GEOMETRY = engine().geometry


def scene(t: float, ids: list[int], east_m: list[float], **kw: object) -> Scene:
    """Aircraft at 15 N, ``east_m`` metres east of the coast, flying east at 60 m/s (117 kn), 1500 m up."""
    lon = [-75.0 + e / M_PER_DEG_LON for e in east_m]
    vel = np.tile([60.0, 0.0], (len(ids), 1))
    v: TrackView = view("air", t, [15.0] * len(ids), lon, vel, ids=ids, alt_m=1500.0, **kw)
    return Scene.build(t, {"air": v}, FRAME, ["confirmed", "coasting"], GEOMETRY, SHORE, 3600.0)


def raised(s: Scene, origin: AirOrigin) -> list[int]:
    cand = suspect_aircraft(s, PARAMS, origin)
    return s.track_id[cand.row[cand.enter]].tolist()


def test_light_aircraft_from_the_land_side_is_not_suspect_offshore_even_on_a_new_track() -> None:
    """Departs at the coast, flies 36 km out to sea; its track is lost and re-initiated 300 s and 18 km later."""
    origin = AirOrigin()
    out = [raised(scene(T0 + k * 10.0, [7], [600.0 * k]), origin) for k in range(61)]
    assert out == [[]] * 61
    assert raised(scene(T0 + 900.0, [8], [54_000.0]), origin) == []  # continues track 7: first seen at the coast


def test_aircraft_first_seen_beyond_the_territorial_sea_is_suspect() -> None:
    origin = AirOrigin()
    assert raised(scene(T0, [8], [54_000.0]), origin) == [8]
    assert raised(scene(T0, [8], [15_000.0]), AirOrigin()) == []  # within 12 nm of the coast: not from seaward
    assert raised(scene(T0 + 10.0, [8], [54_600.0]), origin) == [8]  # the same track goes on


def test_a_new_track_beyond_reach_of_the_lost_one_is_its_own_object() -> None:
    origin = AirOrigin()
    raised(scene(T0, [7], [0.0]), origin)
    far = PARAMS.max_speed_kn * 1852.0 / 3600.0 * 300.0 + PARAMS.origin_slack_m + 1000.0
    assert raised(scene(T0 + 300.0, [8], [far]), origin) == [8]
    assert raised(scene(T0 + 300.0 + PARAMS.origin_keep_s + 10.0, [9], [30_000.0]), AirOrigin()) == [9]


def test_radar_only_duplicate_of_an_adsb_aircraft_is_not_suspect() -> None:
    """An airliner with ADS-B over the sea, and a second, radar-only track of it born 500 m away."""
    origin = AirOrigin()
    raised(scene(T0, [7], [60_000.0], icao24=0xABC123), origin)
    s = scene(T0 + 5.0, [7, 8], [60_300.0, 60_800.0], icao24=[0xABC123, -1])
    assert raised(s, origin) == []
    assert raised(scene(T0 + 5.0, [8], [60_800.0]), AirOrigin()) == [8]  # alone it would be


def test_origin_memory_forgets_lost_tracks_after_keep_s() -> None:
    origin = AirOrigin()
    raised(scene(T0, [7], [0.0]), origin)
    raised(scene(T0 + 10.0, [], []), origin)
    assert origin.cols["track_id"].tolist() == [7]
    raised(scene(T0 + PARAMS.origin_keep_s + 10.0, [], []), origin)
    assert origin.cols["track_id"].tolist() == []


def test_tentative_tracks_are_neither_origins_nor_predecessors() -> None:
    """Radar clutter: tentative air tracks at the coast do not lend their origin to an aircraft confirmed offshore."""
    origin = AirOrigin()
    raised(scene(T0, [5, 6], [0.0, 1000.0], status=TENTATIVE), origin)
    assert origin.cols["track_id"].tolist() == []
    assert raised(scene(T0 + 400.0, [8], [30_000.0]), origin) == [8]  # within their reach, but its own object


def test_a_coasting_track_hands_on_its_origin_from_its_last_measured_fix() -> None:
    """kingston-1001 light-2: a land-side aircraft's track coasts 60 s straight on while the aircraft turns back; the
    next track starts 3 km from the last plot, 6.6 km from the coasted position (beyond 250 kn x 10 s + 2 km of it)."""
    origin = AirOrigin()
    for k in range(61):  # from the coast out to 36 km, measured every tick
        raised(scene(T0 + k * 10.0, [7], [600.0 * k]), origin)
    for k in range(61, 67):  # coasting: no plot after T0 + 600 s
        assert raised(scene(T0 + k * 10.0, [7], [600.0 * k], last_t=T0 + 600.0), origin) == []
    assert raised(scene(T0 + 670.0, [8], [33_000.0]), origin) == []  # continues track 7: first seen at the coast
    assert raised(scene(T0 + 670.0, [8], [33_000.0]), AirOrigin()) == [8]  # alone it would be
