"""Scenario files: load, validate and expand a human-written TOML scenario (docs/SCENARIOS.md).

A scenario file is TOML with ``format_version = 1``. It is parsed with ``tomllib``,
converted into the frozen msgspec records below, then checked field by field; any
problem raises ``ScenarioError`` whose message names the file, the field path and the
value, e.g. ``default.toml: objects[2].speed_kn = -3.0: must be a float >= 0.0``.

Procedural ``fleets`` (for large scenarios) and ``loiter`` behaviours are expanded here
into explicit waypoint routes, each from its own seeded generator, so that the truth
model only ever sees routes. Units: degrees, metres, seconds, knots (``_kn``), nautical
miles (``_nm``).
"""

from __future__ import annotations

import datetime as dt
import json
import re
import tomllib
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal, get_args

import msgspec
import numpy as np
import shapely

from sim_feeds.geo import GEOD, KNOT_MPS, NM_M, legs_at_sea, points_at_sea

FORMAT_VERSION = 1
SCENARIO_DIR = Path(__file__).parent / "scenarios"
DEFAULT_SCENARIO = "default"

ZoneKind = Literal[
    "territorial_sea", "eez", "transit_corridor", "landing_zone", "airstrip", "port", "anchorage", "exclusion"
]
ObjectKind = Literal[
    "merchant", "fishing", "pleasure_craft", "go_fast", "semi_submersible", "logistics_vessel",
    "light_aircraft", "commercial_aircraft", "tug", "pilot_boat", "ferry", "tour_boat", "patrol_vessel", "helicopter",
]
Role = Literal["benign", "suspect"]
Lat = Annotated[float, msgspec.Meta(ge=-90.0, le=90.0)]
Lon = Annotated[float, msgspec.Meta(ge=-180.0, le=180.0)]
NonNeg = Annotated[float, msgspec.Meta(ge=0.0)]
Pos = Annotated[float, msgspec.Meta(gt=0.0)]
Prob = Annotated[float, msgspec.Meta(ge=0.0, le=1.0)]
Azimuth = Annotated[float, msgspec.Meta(ge=0.0, le=360.0)]
Name = Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")]
Icao24 = Annotated[str, msgspec.Meta(pattern=r"^[0-9a-f]{6}$")]


SKOLNIK_FREQ_MHZ = 9410.0
"""Carrier of the simulated surface-search radars: X band (9.41 GHz), the coastal and marine radar band."""
DISPLACEMENT_T_PER_M3 = 1.025 * 0.6 / (6.0 * 18.0)
"""Full-load displacement per cubed length, t/m^3: sea water 1.025 t/m^3 x block coefficient 0.6, length/beam
6 and length/draught 18 (beam/draught 3), the proportions of small merchant ships, tugs and workboats."""


def hull_rcs_m2(length_m: float) -> float:
    """Median radar cross-section m^2 of a ship of ``length_m`` at X band: Skolnik's empirical ship formula
    sigma = 52 f^(1/2) D^(3/2) (f MHz, D displacement in kilotons; Radar Handbook, 3rd ed., ch. 14; Introduction
    to Radar Systems, 3rd ed., 2.7), with D = DISPLACEMENT_T_PER_M3 x length^3. At 10 m it gives 2.2 m^2, the
    IMO reference "small vessel of length 10 m with no radar reflector" of 2.5 m^2 at X band (MSC.192(79), Table 2)."""
    displacement_kt = DISPLACEMENT_T_PER_M3 * length_m**3 / 1000.0
    return 52.0 * SKOLNIK_FREQ_MHZ**0.5 * displacement_kt**1.5


@dataclass(frozen=True)
class ObjectClass:
    """Kinematic and signature defaults of one object kind (docs/SCENARIOS.md, "Object kinds")."""

    domain: Literal["surface", "air"]
    max_speed_kn: float  # legs faster than this are refused
    height_m: float  # highest point above the sea (radar horizon); aircraft use alt_m
    length_m: float  # length overall (satellite imagery detection; hull RCS); aircraft 0 (not imaged)
    fixed_rcs_m2: float | None = None  # a published RCS for hulls the ship formula does not fit (and aircraft)
    fixed_accel_mps2: float | None = None  # aircraft: from performance data (vessels: ``accel_mps2``)

    def accel_mps2(self, length_m: float | None = None) -> float:
        """Bounded longitudinal acceleration and deceleration, m/s^2, of one of this kind, ``length_m`` long (None:
        the kind's length): the fixed value (aircraft), else the mean deceleration of a crash stop from the kind's
        top speed within STOP_LENGTHS ship lengths (IMO MSC.137(76)), at most PLANING_ACCEL_MPS2."""
        if self.fixed_accel_mps2 is not None:
            return self.fixed_accel_mps2
        v = self.max_speed_kn * KNOT_MPS
        return min(PLANING_ACCEL_MPS2, v * v / (2.0 * STOP_LENGTHS * (length_m or self.length_m)))

    def rcs_m2(self, length_m: float | None = None) -> float:
        """Mean radar cross-section m^2 (Swerling I fluctuation around it) of one of this kind, ``length_m`` long
        (None: the kind's length): the fixed value, else the hull formula (``hull_rcs_m2``)."""
        return self.fixed_rcs_m2 if self.fixed_rcs_m2 is not None else hull_rcs_m2(length_m or self.length_m)


STOP_LENGTHS = 15.0
"""Track reach of a full-astern stop, in ship lengths, at most: IMO MSC.137(76), Standards for ship manoeuvrability,
5.3.1 (stopping ability). A vessel's bounded acceleration is the mean deceleration of such a stop from its kind's top
speed, v^2 / (2 x 15 L): a 180 m merchant at 25 kn 0.03 m/s^2 (10 kn gained in about 3 min), a 25 m fishing boat at
12 kn 0.05 m/s^2, a 60 m fast ferry at 36 kn 0.19 m/s^2, a 15 m pilot launch at 30 kn 0.53 m/s^2."""
PLANING_ACCEL_MPS2 = 1.0
"""Upper bound of a vessel's acceleration, m/s^2 (about 0.1 g; engineering choice): the 15-lengths rule, written for
ships of 100 m and more, would give a 12 m go-fast at 55 kn 2.2 m/s^2; a planing hull reaching 40 kn in 20 s
accelerates at 1 m/s^2."""

# RCS: hulls from their length (hull_rcs_m2); fixed values where the formula does not describe the target:
# go-fasts (low open GRP hulls: Skolnik, Introduction to Radar Systems, Table 2.2, "small pleasure boat" 2 m^2,
# "cabin cruiser" 10 m^2), semi-submersibles (awash, ~0.5 m freeboard, built to be hard to see) and aircraft
# (Table 2.2: small single-engine aircraft 1, four-passenger jet 2, large jet airliner 40, helicopter ~3-5 m^2).
OBJECT_CLASSES: dict[str, ObjectClass] = {
    "merchant": ObjectClass("surface", 25.0, 30.0, 180.0),
    "fishing": ObjectClass("surface", 12.0, 6.0, 25.0),
    "pleasure_craft": ObjectClass("surface", 40.0, 4.0, 12.0),
    "go_fast": ObjectClass("surface", 55.0, 1.5, 12.0, fixed_rcs_m2=3.0),
    "semi_submersible": ObjectClass("surface", 12.0, 0.5, 20.0, fixed_rcs_m2=0.3),
    "logistics_vessel": ObjectClass("surface", 14.0, 8.0, 50.0),
    # aircraft accelerations: a light single's take-off roll, lift-off at 55 kn after about 290 m (Cessna 172S
    # Pilot's Operating Handbook, take-off distance table, 960 ft ground roll at sea level, 15 C): 1.3 m/s^2; an
    # airliner's, lift-off at about 150 kn after about 1,700 m (Airbus A320, Aircraft Characteristics - Airport and
    # Maintenance Planning, take-off field length at MTOW): 1.7 m/s^2
    "light_aircraft": ObjectClass("air", 200.0, 0.0, 0.0, fixed_rcs_m2=2.0, fixed_accel_mps2=1.3),
    "commercial_aircraft": ObjectClass("air", 560.0, 0.0, 0.0, fixed_rcs_m2=40.0, fixed_accel_mps2=1.7),
    # harbour and coastal craft (docs/SCENARIOS.md, "Object kinds"; sizes: typical harbour tugs 25-35 m,
    # pilot launches 12-18 m, fast ferries 40-80 m, tour boats 15-25 m, offshore patrol vessels 30-50 m)
    "tug": ObjectClass("surface", 14.0, 10.0, 30.0),
    "pilot_boat": ObjectClass("surface", 30.0, 4.0, 15.0),
    "ferry": ObjectClass("surface", 36.0, 15.0, 60.0),
    "tour_boat": ObjectClass("surface", 25.0, 5.0, 20.0),
    "patrol_vessel": ObjectClass("surface", 30.0, 10.0, 40.0),
    # helicopter: level acceleration g tan(theta) at a 10 deg nose-down pitch attitude (physics): 1.7 m/s^2
    "helicopter": ObjectClass("air", 170.0, 0.0, 0.0, fixed_rcs_m2=5.0, fixed_accel_mps2=1.7),
}


class ScenarioError(ValueError):
    """A scenario file was refused: ``str()`` is ``"{source}: {field} = {value!r}: {reason}"``."""

    def __init__(self, source: str, field: str, value: object, reason: str) -> None:
        self.source, self.field, self.value, self.reason = source, field, value, reason
        shown = repr(value)
        if len(shown) > 80:
            shown = shown[:77] + "..."
        super().__init__(f"{source}: {field} = {shown}: {reason}")


class _Rec(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Strict, immutable scenario record."""


class Area(_Rec, kw_only=True):
    """Geodetic bounds of the scenario (degrees); the fusion frame covers them."""

    lat_min: Lat
    lat_max: Lat
    lon_min: Lon
    lon_max: Lon


class Waypoint(_Rec, kw_only=True):
    """One route point. ``speed_kn`` is the speed on the leg leaving this point (default: the
    owner's ``speed_kn``); ``dwell_s`` is time stopped here on arrival; ``activity`` relabels the
    owner from this point on."""

    lat: Lat
    lon: Lon
    alt_m: Annotated[float, msgspec.Meta(ge=0.0, le=15000.0)] = 0.0
    speed_kn: NonNeg | None = None
    dwell_s: NonNeg = 0.0
    activity: str | None = None


class Loiter(_Rec, kw_only=True):
    """A behaviour instead of a route: move about inside a circle for the whole scenario."""

    lat: Lat
    lon: Lon
    radius_nm: Pos
    pattern: Literal["trawl", "drift", "wander"] = "wander"
    speed_kn: NonNeg = 3.0
    max_dwell_s: NonNeg = 900.0  # wander/drift: stops of up to this long between legs


class Window(_Rec, kw_only=True):
    """A time window relative to the scenario start, seconds."""

    start_s: NonNeg
    end_s: NonNeg


class Spoof(_Rec, kw_only=True):
    """During the window the AIS unit reports positions shifted ``offset_nm`` along ``bearing_deg``."""

    start_s: NonNeg
    end_s: NonNeg
    offset_nm: Pos
    bearing_deg: Azimuth


class AisUnit(_Rec, kw_only=True):
    """An AIS transponder: class A (types 1 + 5) or class B CS (types 18 + 24)."""

    mmsi: Annotated[int, msgspec.Meta(ge=200_000_000, le=799_999_999)]
    transceiver: Literal["A", "B"] = "A"
    name: Annotated[str, msgspec.Meta(pattern=r"^[A-Z0-9 .\-]{1,20}$")] | None = None
    ship_type: Annotated[int, msgspec.Meta(ge=1, le=99)] | None = None
    off: list[Window] = []
    spoof: list[Spoof] = []


class AdsbUnit(_Rec, kw_only=True):
    """An ADS-B Out transponder: ICAO address (6 lowercase hex digits), callsign, NACp."""

    icao24: Icao24
    callsign: Annotated[str, msgspec.Meta(pattern=r"^[A-Z0-9]{1,8}$")] | None = None
    nac_p: Annotated[int, msgspec.Meta(ge=5, le=11)] = 9
    off: list[Window] = []


class ObjectSpec(_Rec, kw_only=True):
    """One simulated object (vessel or aircraft) with a route or a loiter behaviour."""

    id: Name
    kind: ObjectKind
    role: Role = "benign"
    activity: str = "transit"
    start_s: NonNeg = 0.0  # appears at the first waypoint at this time
    speed_kn: NonNeg | None = None
    route: list[Waypoint] = []
    loiter: Loiter | None = None
    hold_at_end: bool = False  # stay at the last waypoint until the end instead of leaving
    accel_mps2: Pos | None = None  # bounded speed change, m/s^2; default by kind (ObjectClass.accel_mps2)
    rcs_m2: Pos | None = None  # default by kind
    length_m: Annotated[float, msgspec.Meta(gt=0.0, le=500.0)] | None = None  # default by kind
    ais: AisUnit | None = None
    adsb: AdsbUnit | None = None


class FleetSpec(_Rec, kw_only=True):
    """Many similar objects generated from one seeded description (ids ``{prefix}-{i}``)."""

    prefix: Name
    count: Annotated[int, msgspec.Meta(ge=1, le=20000)]
    kind: ObjectKind
    role: Role = "benign"
    activity: str = "transit"
    box: Area  # waypoints (or loiter centres) are drawn at sea inside this box
    pattern: Literal["transit", "loiter"] = "transit"
    legs: Annotated[int, msgspec.Meta(ge=1, le=20)] = 2
    leg_nm: Pos = 60.0  # transit legs are 0.5-1 x this long
    speed_kn: tuple[NonNeg, NonNeg]
    alt_m: tuple[NonNeg, NonNeg] = (0.0, 0.0)
    loiter_radius_nm: Pos = 5.0
    ais_fraction: Prob = 0.0
    class_b_fraction: Prob = 0.0
    mmsi_base: Annotated[int, msgspec.Meta(ge=200_000_000, le=799_999_999)] = 300_000_000
    adsb_fraction: Prob = 0.0
    icao_base: Icao24 = "a00000"


class Coverage(_Rec, kw_only=True):
    """Where a sensor looks: a slant-range annulus and an azimuth sector (clockwise from az_min)."""

    range_min_m: NonNeg = 0.0
    range_max_m: Pos
    az_min_deg: Azimuth = 0.0
    az_max_deg: Azimuth = 360.0


class _Sensor(_Rec, kw_only=True, tag_field="kind"):
    """Fields every sensor has. ``latency_s``: from measurement to publication."""

    id: Name
    latency_s: NonNeg = 0.0


class RadarSpec(_Sensor, kw_only=True):
    """Rotating radar. Pd: Swerling I with SNR = snr_ref_db + 10 log10(rcs / ref_rcs_m2)
    - 40 log10(range / ref_range_m); Pd = pfa ** (1 / (1 + SNR)). Beyond the radar horizon
    (4/3 earth) Pd is 0. ``false_alarms_per_scan`` Poisson plots uniform over the coverage."""

    lat: Lat | None = None
    lon: Lon | None = None
    alt_m: Annotated[float, msgspec.Meta(ge=0.0, le=15000.0)] = 30.0
    route: list[Waypoint] = []  # moving platform (MPA)
    speed_kn: NonNeg | None = None
    repeat_route: bool = True
    coverage: Coverage
    rotation_s: Pos = 6.0
    modes: list[Literal["surface", "air"]] = msgspec.field(default_factory=lambda: ["surface"])
    sigma_range_m: NonNeg = 30.0
    sigma_az_deg: NonNeg = 0.3
    sigma_el_deg: NonNeg = 0.5
    # Resolution cell (docs/SCENARIOS.md "Radars"): targets closer than both are one plot. 37.5 m: c tau / 2 of a
    # 0.25 us medium-range pulse (X-band navigation radars use 0.05-1 us); 1 deg: the horizontal beamwidth of a
    # 2.4 m X-band antenna (70 lambda / D = 0.93 deg). IMO MSC.192(79) requires 40 m range and 2.5 deg bearing
    # discrimination. 0 turns merging off in that dimension.
    range_resolution_m: NonNeg = 37.5
    beamwidth_deg: Annotated[float, msgspec.Meta(ge=0.0, le=30.0)] = 1.0
    snr_ref_db: float = 13.0
    ref_range_m: Pos = 50_000.0
    ref_rcs_m2: Pos = 10.0
    pfa: Annotated[float, msgspec.Meta(gt=0.0, lt=1.0)] = 1e-6
    false_alarms_per_scan: NonNeg = 2.0
    on_station: list[Window] = []  # scans only inside these windows (an MPA's time on station); none: always


class CoastalRadar(RadarSpec, kw_only=True, tag="coastal_radar"):
    """Shore-based surface-search radar."""


class AerostatRadar(RadarSpec, kw_only=True, tag="aerostat_radar"):
    """Tethered-aerostat radar at altitude; usually both surface and air modes."""


class MpaRadar(RadarSpec, kw_only=True, tag="mpa_radar"):
    """Maritime patrol aircraft surface-search radar on a moving platform flying ``route``."""


class OthRadar(_Sensor, kw_only=True, tag="oth_radar"):
    """Over-the-horizon radar: coarse fixes every ``interval_s`` over a wide annulus."""

    lat: Lat
    lon: Lon
    coverage: Coverage
    interval_s: Pos = 300.0
    sigma_m: Pos = 15_000.0
    pd: Prob = 0.7
    min_rcs_m2: NonNeg = 20.0  # smaller targets are not detected
    false_alarms_per_scan: NonNeg = 1.0
    latency_s: NonNeg = 60.0


class AisTerrestrial(_Sensor, kw_only=True, tag="ais_terrestrial"):
    """Shore AIS receiver (VHF): range-limited, lost slots, batched per ``batch_s``."""

    lat: Lat
    lon: Lon
    range_m: Pos = 74_000.0
    range_class_b_m: Pos | None = None  # class B (2 W, vs 12.5 W class A) range; None: range_m
    fade_m: NonNeg = 0.0  # reception falls linearly to 0 over the last fade_m of the range; 0: a plain circle
    slot_loss: Prob = 0.05
    batch_s: Pos = 1.0
    latency_s: NonNeg = 0.5


class AisSatellite(_Sensor, kw_only=True, tag="ais_satellite"):
    """Satellite AIS: passes of ``pass_s`` every ``revisit_s``; each message delivered after a
    latency drawn uniformly from [latency_min_s, latency_max_s] (late and out of order)."""

    revisit_s: Pos = 5400.0
    pass_s: Pos = 600.0
    first_pass_s: NonNeg | None = None  # default: drawn from the seed
    p_detect: Prob = 0.5
    latency_min_s: NonNeg = 60.0
    latency_max_s: NonNeg = 900.0
    batch_s: Pos = 10.0


class AdsbReceiver(_Sensor, kw_only=True, tag="adsb_receiver"):
    """ADS-B ground receiver: line of sight (4/3 earth) up to ``range_m``, ~1 Hz positions."""

    lat: Lat
    lon: Lon
    alt_m: NonNeg = 20.0
    range_m: Pos = 400_000.0
    loss: Prob = 0.1
    format: Literal["sbs", "aircraft_json"] = "sbs"
    batch_s: Pos = 1.0
    latency_s: NonNeg = 0.2


class SatImagery(_Sensor, kw_only=True, tag="sat_imagery"):
    """Satellite imagery vessel detections (docs/SCENARIOS.md, "Satellite imagery"): passes over
    the ``swath`` polygon every ``revisit_s`` from ``first_pass_s``; each vessel inside is detected
    with Pd(length) = pd_max / (1 + exp(-(length - length_50_m) / length_scale_m)); position error
    N(0, pos_err_m) east and north; estimated length x (1 + N(0, length_err)) (none for VIIRS);
    one message per pass, published after a latency uniform in [latency_min_s, latency_max_s]."""

    sensor: Literal["sar", "viirs", "optical"] = "sar"
    swath: list[tuple[Lon, Lat]]  # [lon, lat] pairs, closed or not
    first_pass_s: NonNeg = 0.0
    revisit_s: Pos = 43_200.0
    pd_max: Prob = 0.95
    length_50_m: Pos = 20.0
    length_scale_m: Pos = 6.0
    pos_err_m: Annotated[float, msgspec.Meta(ge=1.0, le=50_000.0)] = 60.0
    length_err: NonNeg = 0.2
    false_alarms_per_pass: NonNeg = 0.0
    latency_min_s: NonNeg = 1800.0
    latency_max_s: Annotated[float, msgspec.Meta(ge=0.0, le=21_000.0)] = 10_800.0


SensorSpec = CoastalRadar | AerostatRadar | MpaRadar | OthRadar | AisTerrestrial | AisSatellite | AdsbReceiver | SatImagery


class ZoneSpec(_Rec, kw_only=True):
    """A zone: a GeoJSON file (relative to the scenario file), or one inline polygon."""

    file: str | None = None
    name: str | None = None
    kind: ZoneKind | None = None
    polygon: list[tuple[Lon, Lat]] = []  # [lon, lat] pairs, closed or not


class ScenarioFile(_Rec, kw_only=True):
    """The file as written (before expansion)."""

    format_version: int
    name: Name
    description: str = ""
    area: Area
    start: dt.datetime
    duration_s: Annotated[float, msgspec.Meta(gt=0.0, le=7 * 86400.0)]
    seed: Annotated[int, msgspec.Meta(ge=0)]
    truth_interval_s: Pos = 10.0
    sensors: list[SensorSpec] = []
    objects: list[ObjectSpec] = []
    fleets: list[FleetSpec] = []
    zones: list[ZoneSpec] = []


@dataclass(frozen=True)
class Scenario:
    """A loaded, validated and expanded scenario: fleets and loiters are explicit routes."""

    name: str
    description: str
    area: Area
    t0: float  # start, Unix s
    t_end: float  # t0 + duration_s
    seed: int
    truth_interval_s: float
    sensors: tuple[SensorSpec, ...]
    objects: tuple[ObjectSpec, ...]
    zones: tuple[dict[str, Any], ...]  # GeoJSON Features
    path: Path | None = None

    @property
    def duration_s(self) -> float:
        """Scenario length, s."""
        return self.t_end - self.t0

    def zones_geojson(self) -> dict[str, Any]:
        """All zones as one GeoJSON FeatureCollection (properties name and kind)."""
        return {"type": "FeatureCollection", "features": [dict(f) for f in self.zones]}


# ------------------------------------------------------------------------------ loading


def default_scenario_path() -> Path:
    """The small, fast scenario ``jisf demo`` runs."""
    return SCENARIO_DIR / f"{DEFAULT_SCENARIO}.toml"


def scenario_library() -> dict[str, Path]:
    """Every shipped scenario by name (file stem)."""
    return {p.stem: p for p in sorted(SCENARIO_DIR.glob("*.toml"))}


def resolve_scenario(name_or_path: Path | str | None = None) -> Path:
    """The scenario file a command was given: an existing path, else a shipped scenario's name
    (``default``, ``semisub_tumaco``, ...; a trailing ``.toml`` is allowed), else ScenarioError listing
    the shipped names. ``None`` is the default scenario. Every command resolves its argument here."""
    if name_or_path is None:
        return default_scenario_path()
    path = Path(name_or_path)
    if path.is_file():
        return path
    library = scenario_library()
    name = path.name.removesuffix(".toml") if path.parent == Path() else None
    if name in library:
        return library[name]
    raise ScenarioError("scenario", "(file)", str(name_or_path),
                        f"no such file, nor a shipped scenario (shipped: {', '.join(library)})")


def load_scenario(path: Path | str) -> Scenario:
    """Read, validate and expand a scenario file; raises ScenarioError naming the field."""
    path = Path(path)
    source = path.name
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as err:
        raise ScenarioError(source, "(file)", str(path), f"not valid TOML: {err}") from None
    except OSError as err:
        raise ScenarioError(source, "(file)", str(path), f"cannot be read: {err.strerror}") from None
    return scenario_from_dict(raw, source=source, base_dir=path.parent, path=path)


def scenario_from_dict(raw: dict[str, Any], *, source: str = "<scenario>", base_dir: Path = SCENARIO_DIR,
                       path: Path | None = None) -> Scenario:
    """Validate and expand an already parsed scenario document (the TOML as a dict)."""
    version = raw.get("format_version")
    if version != FORMAT_VERSION:
        raise ScenarioError(source, "format_version", version, f"must be {FORMAT_VERSION}")
    try:
        spec = msgspec.convert(raw, ScenarioFile)
    except msgspec.ValidationError as err:
        raise _from_validation(source, raw, err) from None
    return _expand(spec, source, base_dir, path)


_AT = re.compile(r" - at `\$(?P<path>[^`]*)`$")
_MISSING = re.compile(r"missing required field `(?P<name>[^`]+)`")
_UNKNOWN = re.compile(r"contains unknown field `(?P<name>[^`]+)`")
_EXPECTED = re.compile(r"^Expected `(?P<type>[^`]+)`(?P<rest>.*)$")


def _from_validation(source: str, raw: dict[str, Any], err: msgspec.ValidationError) -> ScenarioError:
    """msgspec's ``Expected `float` >= 0.0 - at `$.objects[2].speed_kn``` as a ScenarioError."""
    message = str(err)
    at = _AT.search(message)
    field = at.group("path").lstrip(".") if at else ""
    reason = _AT.sub("", message)
    missing = _MISSING.search(reason)
    if missing:
        field = f"{field}.{missing.group('name')}".lstrip(".")
        return ScenarioError(source, field, None, "is required")
    unknown = _UNKNOWN.search(reason)
    if unknown:
        field = f"{field}.{unknown.group('name')}".lstrip(".")
        return ScenarioError(source, field, _lookup(raw, field), "is not a known field (see docs/SCENARIOS.md)")
    expected = _EXPECTED.match(reason)
    if expected:
        reason = f"must be {expected.group('type')}{expected.group('rest')}"
    return ScenarioError(source, field or "(file)", _lookup(raw, field), reason)


def _lookup(document: object, field: str) -> object:
    """The value at ``objects[2].route[0].lat`` in the raw document, None if absent."""
    node = document
    for name, index in re.findall(r"([A-Za-z_]\w*)|\[(\d+)\]", field):
        if name and isinstance(node, dict):
            node = node.get(name)
        elif index and isinstance(node, list) and int(index) < len(node):
            node = node[int(index)]
        else:
            return None
    return node


# ------------------------------------------------------------------------------ checks


def object_rng(seed: int, key: str) -> np.random.Generator:
    """The generator of one object or sensor: depends on the scenario seed and its id only."""
    return np.random.default_rng([seed, zlib.crc32(key.encode("utf-8"))])


def _check_windows(source: str, field: str, windows: Sequence[Window | Spoof]) -> None:
    for i, w in enumerate(windows):
        if w.end_s <= w.start_s:
            raise ScenarioError(source, f"{field}[{i}].end_s", w.end_s, f"must be > start_s ({w.start_s:g})")


def _check_route(source: str, field: str, route: Sequence[Waypoint], default_kn: float | None,
                 max_kn: float, at_sea: bool) -> None:
    """Leg speeds positive and within the class limit; for vessels every leg at sea."""
    if len(route) < 2:
        raise ScenarioError(source, field, len(route), "must have at least 2 waypoints (or use loiter)")
    for i, wp in enumerate(route[:-1]):
        speed = wp.speed_kn if wp.speed_kn is not None else default_kn
        name = f"{field}[{i}].speed_kn" if wp.speed_kn is not None else f"{field}[{i}].speed_kn (default speed_kn)"
        if speed is None:
            raise ScenarioError(source, name, None, "is required: set it or the owner's speed_kn")
        if not 0.0 < speed <= max_kn:
            raise ScenarioError(source, name, speed, f"must be in (0, {max_kn:g}] for this kind")
    if at_sea:
        lat = np.array([w.lat for w in route])
        lon = np.array([w.lon for w in route])
        on_land = ~points_at_sea(lat, lon)
        if on_land.any():
            i = int(np.argmax(on_land))
            raise ScenarioError(source, f"{field}[{i}]", (route[i].lat, route[i].lon), "is on land")
        bad = ~legs_at_sea(lat[:-1], lon[:-1], lat[1:], lon[1:])
        if bad.any():
            i = int(np.argmax(bad))
            raise ScenarioError(source, f"{field}[{i}]", (route[i].lat, route[i].lon),
                                f"the leg to {field}[{i + 1}] crosses land")


def _check_object(source: str, field: str, obj: ObjectSpec) -> None:
    cls = OBJECT_CLASSES[obj.kind]
    if (obj.loiter is None) == (not obj.route):
        raise ScenarioError(source, f"{field}.route", len(obj.route), "give exactly one of route or loiter")
    if obj.speed_kn is not None and obj.speed_kn > cls.max_speed_kn:
        raise ScenarioError(source, f"{field}.speed_kn", obj.speed_kn, f"must be <= {cls.max_speed_kn:g} for {obj.kind}")
    if obj.route:
        _check_route(source, f"{field}.route", obj.route, obj.speed_kn, cls.max_speed_kn, cls.domain == "surface")
    if obj.loiter is not None:
        if obj.loiter.speed_kn <= 0 or obj.loiter.speed_kn > cls.max_speed_kn:
            raise ScenarioError(source, f"{field}.loiter.speed_kn", obj.loiter.speed_kn,
                                f"must be in (0, {cls.max_speed_kn:g}] for {obj.kind}")
        if cls.domain == "surface" and not points_at_sea(np.array([obj.loiter.lat]), np.array([obj.loiter.lon]))[0]:
            raise ScenarioError(source, f"{field}.loiter", (obj.loiter.lat, obj.loiter.lon), "centre is on land")
    if obj.ais is not None:
        if cls.domain != "surface":
            raise ScenarioError(source, f"{field}.ais", obj.ais.mmsi, f"AIS is for vessels, not {obj.kind}")
        _check_windows(source, f"{field}.ais.off", obj.ais.off)
        _check_windows(source, f"{field}.ais.spoof", obj.ais.spoof)
    if obj.adsb is not None:
        if cls.domain != "air":
            raise ScenarioError(source, f"{field}.adsb", obj.adsb.icao24, f"ADS-B is for aircraft, not {obj.kind}")
        _check_windows(source, f"{field}.adsb.off", obj.adsb.off)


def _check_sensor(source: str, field: str, sensor: SensorSpec) -> None:
    if isinstance(sensor, RadarSpec):
        if sensor.route:
            _check_route(source, f"{field}.route", sensor.route, sensor.speed_kn, 600.0, at_sea=False)
        elif sensor.lat is None or sensor.lon is None:
            raise ScenarioError(source, f"{field}.lat", sensor.lat, "a radar needs lat and lon, or a route")
        if not sensor.modes:
            raise ScenarioError(source, f"{field}.modes", sensor.modes, "must name at least one mode")
        _check_windows(source, f"{field}.on_station", sensor.on_station)
    if isinstance(sensor, AisTerrestrial):
        reach = min(sensor.range_m, sensor.range_class_b_m or sensor.range_m)
        if sensor.fade_m > reach:
            raise ScenarioError(source, f"{field}.fade_m", sensor.fade_m, f"must be <= the shortest range ({reach:g})")
    coverage = getattr(sensor, "coverage", None)
    if coverage is not None and coverage.range_min_m >= coverage.range_max_m:
        raise ScenarioError(source, f"{field}.coverage.range_min_m", coverage.range_min_m,
                            f"must be < range_max_m ({coverage.range_max_m:g})")
    if isinstance(sensor, AisSatellite):
        if sensor.latency_max_s < sensor.latency_min_s:
            raise ScenarioError(source, f"{field}.latency_max_s", sensor.latency_max_s,
                                f"must be >= latency_min_s ({sensor.latency_min_s:g})")
        if sensor.pass_s > sensor.revisit_s:
            raise ScenarioError(source, f"{field}.pass_s", sensor.pass_s, f"must be <= revisit_s ({sensor.revisit_s:g})")
    if isinstance(sensor, SatImagery):
        if sensor.latency_max_s < sensor.latency_min_s:
            raise ScenarioError(source, f"{field}.latency_max_s", sensor.latency_max_s,
                                f"must be >= latency_min_s ({sensor.latency_min_s:g})")
        ring = shapely.Polygon(sensor.swath) if len(sensor.swath) >= 3 else None
        if ring is None or not ring.is_valid or ring.area == 0:
            reason = shapely.is_valid_reason(ring) if ring is not None else "fewer than 3 points"
            raise ScenarioError(source, f"{field}.swath", sensor.swath, f"must be a valid polygon ({reason})")


def _unique(source: str, field: str, values: Iterable[object]) -> None:
    seen: set[object] = set()
    for i, v in enumerate(values):
        if v in seen:
            raise ScenarioError(source, f"{field}[{i}]", v, "is used twice")
        seen.add(v)


# ------------------------------------------------------------------------------ zones


def _zone_features(source: str, base_dir: Path, zones: Sequence[ZoneSpec]) -> list[dict[str, Any]]:
    """GeoJSON Features of all zones, each checked for a polygon, a name and a known kind."""
    kinds = set(get_args(ZoneKind))
    features: list[dict[str, Any]] = []
    for i, z in enumerate(zones):
        field = f"zones[{i}]"
        if z.file is not None:
            zone_path = base_dir / z.file
            try:
                doc = json.loads(zone_path.read_text(encoding="utf-8"))
            except (OSError, ValueError) as err:
                raise ScenarioError(source, f"{field}.file", z.file, f"cannot be read as GeoJSON: {err}") from None
            found = doc.get("features", []) if doc.get("type") == "FeatureCollection" else [doc]
            for j, feat in enumerate(found):
                props = feat.get("properties") or {}
                where = f"{field}.file[{j}]"
                if feat.get("type") != "Feature" or (feat.get("geometry") or {}).get("type") not in ("Polygon", "MultiPolygon"):
                    raise ScenarioError(source, where, feat.get("type"), "must be a Feature with a Polygon geometry")
                if not props.get("name"):
                    raise ScenarioError(source, f"{where}.properties.name", props.get("name"), "is required")
                if props.get("kind") not in kinds:
                    raise ScenarioError(source, f"{where}.properties.kind", props.get("kind"),
                                        f"must be one of {', '.join(sorted(kinds))}")
                features.append(feat)
        else:
            if not z.name or z.kind is None or len(z.polygon) < 3:
                raise ScenarioError(source, field, z.name, "an inline zone needs name, kind and a polygon of >= 3 points")
            ring = [list(p) for p in z.polygon]
            if ring[0] != ring[-1]:
                ring.append(ring[0])
            features.append({"type": "Feature", "properties": {"name": z.name, "kind": z.kind},
                             "geometry": {"type": "Polygon", "coordinates": [ring]}})
    _unique(source, "zones(name)", (f["properties"]["name"] for f in features))
    return features


# ------------------------------------------------------------------------------ expansion


def _random_at_sea(rng: np.random.Generator, box: Area, n: int, domain: str) -> tuple[np.ndarray, np.ndarray]:
    """(n,) lat, (n,) lon drawn uniformly in ``box`` (and at sea for surface objects)."""
    lat = np.empty(n)
    lon = np.empty(n)
    todo = np.arange(n)
    for _ in range(200):
        lat[todo] = rng.uniform(box.lat_min, box.lat_max, todo.size)
        lon[todo] = rng.uniform(box.lon_min, box.lon_max, todo.size)
        if domain == "air":
            return lat, lon
        todo = todo[~points_at_sea(lat[todo], lon[todo])]
        if todo.size == 0:
            return lat, lon
    raise ValueError(f"box {box} is (almost) all land: no sea points found")


def _disc_points(rng: np.random.Generator, lat: float, lon: float, radius_m: float, n: int) -> tuple[np.ndarray, np.ndarray]:
    """(n,) lat, lon uniform in a disc of ``radius_m`` around (lat, lon)."""
    r = radius_m * np.sqrt(rng.random(n))
    az = rng.uniform(0.0, 360.0, n)
    plon, plat, _ = GEOD.fwd(np.full(n, lon), np.full(n, lat), az, r)
    return np.asarray(plat), np.asarray(plon)


def loiter_route(loiter: Loiter, duration_s: float, rng: np.random.Generator, at_sea: bool) -> list[Waypoint]:
    """Expand a loiter behaviour into waypoints covering ``duration_s`` (every leg at sea if asked).

    trawl: back and forth along a line through the centre, shifted a little each pass;
    drift: short hops of 10-30 % of the radius with stops; wander: random points in the disc.
    """
    speed_mps = loiter.speed_kn * KNOT_MPS
    radius_m = loiter.radius_nm * NM_M
    n = 8 + int(duration_s * speed_mps / max(radius_m * 0.2, 1.0))
    n = min(n, 400)
    if loiter.pattern == "trawl":
        heading = rng.uniform(0.0, 180.0)
        ends = np.where(np.arange(n) % 2 == 0, 1.0, -1.0) * radius_m * 0.8
        shift = rng.normal(0.0, radius_m * 0.05, n)
        lon1, lat1, _ = GEOD.fwd(np.full(n, loiter.lon), np.full(n, loiter.lat), np.full(n, heading), ends)
        plon, plat, _ = GEOD.fwd(lon1, lat1, np.full(n, heading + 90.0), shift)
        plat, plon = np.asarray(plat), np.asarray(plon)
        dwell = np.zeros(n)
    elif loiter.pattern == "drift":
        steps = rng.uniform(0.1, 0.3, n) * radius_m
        az = rng.uniform(0.0, 360.0, n)
        plat, plon = np.empty(n), np.empty(n)
        plat[0], plon[0] = loiter.lat, loiter.lon
        for i in range(1, n):  # a random walk kept inside the disc (n <= 400, at load time)
            lo, la, _ = GEOD.fwd(plon[i - 1], plat[i - 1], az[i], steps[i])
            _, _, d = GEOD.inv(loiter.lon, loiter.lat, lo, la)
            if d > radius_m:
                lo, la, _ = GEOD.fwd(plon[i - 1], plat[i - 1], az[i] + 180.0, steps[i])
            plat[i], plon[i] = la, lo
        dwell = rng.uniform(0.0, loiter.max_dwell_s, n)
    else:
        plat, plon = _disc_points(rng, loiter.lat, loiter.lon, radius_m, n)
        dwell = rng.uniform(0.0, loiter.max_dwell_s, n) * (rng.random(n) < 0.5)
    if at_sea:
        keep = points_at_sea(plat, plon)
        plat, plon, dwell = plat[keep], plon[keep], dwell[keep]
        while plat.size >= 2:
            bad = ~legs_at_sea(plat[:-1], plon[:-1], plat[1:], plon[1:])
            if not bad.any():
                break
            drop = int(np.argmax(bad)) + 1
            plat, plon, dwell = np.delete(plat, drop), np.delete(plon, drop), np.delete(dwell, drop)
        if plat.size < 2:
            raise ValueError(f"loiter at ({loiter.lat}, {loiter.lon}) radius {loiter.radius_nm} nm is mostly land")
    return [Waypoint(lat=float(a), lon=float(o), speed_kn=loiter.speed_kn, dwell_s=float(w))
            for a, o, w in zip(plat, plon, dwell, strict=True)]


def _fleet_routes(fleet: FleetSpec, seed: int) -> list[list[Waypoint]]:
    """Seeded routes of a transit fleet: a start drawn in the box, then ``legs`` legs of
    0.5-1 x ``leg_nm`` in random directions, redrawn until inside the box (and at sea for vessels)."""
    domain = OBJECT_CLASSES[fleet.kind].domain
    rng = object_rng(seed, f"fleet:{fleet.prefix}")
    n, box = fleet.count, fleet.box
    lat, lon = np.empty((n, fleet.legs + 1)), np.empty((n, fleet.legs + 1))
    todo_routes = np.arange(n)
    for _ in range(20):  # a route that cannot be continued from its start is redrawn whole
        lat[todo_routes, 0], lon[todo_routes, 0] = _random_at_sea(rng, box, todo_routes.size, domain)
        stuck = np.zeros(n, dtype=bool)
        for j in range(1, fleet.legs + 1):
            todo = todo_routes[~stuck[todo_routes]]
            for _ in range(50):
                dist = rng.uniform(0.5, 1.0, todo.size) * fleet.leg_nm * NM_M
                plon, plat, _ = GEOD.fwd(lon[todo, j - 1], lat[todo, j - 1], rng.uniform(0.0, 360.0, todo.size), dist)
                lat[todo, j], lon[todo, j] = plat, plon
                ok = (plat >= box.lat_min) & (plat <= box.lat_max) & (plon >= box.lon_min) & (plon <= box.lon_max)
                if domain == "surface":
                    ok &= points_at_sea(lat[todo, j], lon[todo, j])
                    ok[ok] = legs_at_sea(lat[todo[ok], j - 1], lon[todo[ok], j - 1], lat[todo[ok], j], lon[todo[ok], j])
                todo = todo[~ok]
                if todo.size == 0:
                    break
            stuck[todo] = True
        todo_routes = np.flatnonzero(stuck)
        if todo_routes.size == 0:
            break
    else:
        raise ValueError(f"fleet {fleet.prefix}: could not draw legs inside its box{' at sea' if domain == 'surface' else ''}")
    speed = rng.uniform(fleet.speed_kn[0], fleet.speed_kn[1], n)
    alt = rng.uniform(fleet.alt_m[0], fleet.alt_m[1], n)
    return [[Waypoint(lat=float(lat[i, j]), lon=float(lon[i, j]), alt_m=float(alt[i]), speed_kn=float(speed[i]))
             for j in range(fleet.legs + 1)] for i in range(n)]


def expand_fleet(fleet: FleetSpec, seed: int, duration_s: float) -> list[ObjectSpec]:
    """The objects of one fleet, with seeded routes, AIS/ADS-B equipment and identities."""
    rng = object_rng(seed, f"fleet-equipment:{fleet.prefix}")
    n = fleet.count
    has_ais = rng.random(n) < fleet.ais_fraction
    class_b = rng.random(n) < fleet.class_b_fraction
    has_adsb = rng.random(n) < fleet.adsb_fraction
    domain = OBJECT_CLASSES[fleet.kind].domain
    if fleet.pattern == "transit":
        routes = _fleet_routes(fleet, seed)
    else:
        centres_lat, centres_lon = _random_at_sea(rng, fleet.box, n, domain)
        speeds = rng.uniform(fleet.speed_kn[0], fleet.speed_kn[1], n)
        routes = [loiter_route(Loiter(lat=float(centres_lat[i]), lon=float(centres_lon[i]),
                                      radius_nm=fleet.loiter_radius_nm, pattern="trawl" if i % 2 else "wander",
                                      speed_kn=max(float(speeds[i]), 0.5)),
                               duration_s, object_rng(seed, f"{fleet.prefix}-{i + 1}"), domain == "surface")
                  for i in range(n)]
    icao0 = int(fleet.icao_base, 16)
    objects = []
    for i in range(n):
        ais = AisUnit(mmsi=fleet.mmsi_base + i, transceiver="B" if class_b[i] else "A") if has_ais[i] else None
        adsb = AdsbUnit(icao24=f"{(icao0 + i) & 0xFFFFFF:06x}") if has_adsb[i] and domain == "air" else None
        objects.append(ObjectSpec(id=f"{fleet.prefix}-{i + 1}", kind=fleet.kind, role=fleet.role,
                                  activity=fleet.activity, route=routes[i], ais=ais if domain == "surface" else None,
                                  adsb=adsb))
    return objects


def _expand(spec: ScenarioFile, source: str, base_dir: Path, path: Path | None) -> Scenario:
    """Check cross-field rules, expand fleets and loiters, resolve zones."""
    a = spec.area
    if a.lat_min >= a.lat_max:
        raise ScenarioError(source, "area.lat_max", a.lat_max, f"must be > lat_min ({a.lat_min:g})")
    if a.lon_min >= a.lon_max:
        raise ScenarioError(source, "area.lon_max", a.lon_max, f"must be > lon_min ({a.lon_min:g})")
    if spec.start.tzinfo is None or spec.start.utcoffset() != dt.timedelta(0):
        raise ScenarioError(source, "start", spec.start.isoformat(), "must be UTC, e.g. 2024-03-14T06:30:00Z")
    for i, sensor in enumerate(spec.sensors):
        _check_sensor(source, f"sensors[{i}]", sensor)
    _unique(source, "sensors(id)", (s.id for s in spec.sensors))
    for i, obj in enumerate(spec.objects):
        _check_object(source, f"objects[{i}]", obj)
    for i, fleet in enumerate(spec.fleets):
        if fleet.speed_kn[0] > fleet.speed_kn[1]:
            raise ScenarioError(source, f"fleets[{i}].speed_kn", list(fleet.speed_kn), "must be [low, high]")
        top = OBJECT_CLASSES[fleet.kind].max_speed_kn
        if fleet.speed_kn[1] > top or fleet.speed_kn[1] <= 0:
            raise ScenarioError(source, f"fleets[{i}].speed_kn", list(fleet.speed_kn), f"must be in (0, {top:g}] for {fleet.kind}")
    objects: list[ObjectSpec] = []
    for i, obj in enumerate(spec.objects):
        if obj.loiter is not None:
            at_sea = OBJECT_CLASSES[obj.kind].domain == "surface"
            try:
                route = loiter_route(obj.loiter, spec.duration_s - obj.start_s, object_rng(spec.seed, obj.id), at_sea)
            except ValueError as err:
                raise ScenarioError(source, f"objects[{i}].loiter", (obj.loiter.lat, obj.loiter.lon), str(err)) from None
            obj = msgspec.structs.replace(obj, route=route, loiter=None)
        objects.append(obj)
    for i, fleet in enumerate(spec.fleets):
        try:
            objects.extend(expand_fleet(fleet, spec.seed, spec.duration_s))
        except ValueError as err:
            raise ScenarioError(source, f"fleets[{i}].box", fleet.box, str(err)) from None
    _unique(source, "objects(id)", (o.id for o in objects))
    _unique(source, "objects(ais.mmsi)", (o.ais.mmsi for o in objects if o.ais is not None))
    _unique(source, "objects(adsb.icao24)", (o.adsb.icao24 for o in objects if o.adsb is not None))
    t0 = spec.start.timestamp()
    return Scenario(name=spec.name, description=spec.description, area=spec.area, t0=t0, t_end=t0 + spec.duration_s,
                    seed=spec.seed, truth_interval_s=spec.truth_interval_s, sensors=tuple(spec.sensors),
                    objects=tuple(objects), zones=tuple(_zone_features(source, base_dir, spec.zones)), path=path)
