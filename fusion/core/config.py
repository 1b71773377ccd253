"""Tracker settings: one frozen dataclass for the association and management logic, and
one per track pool (surface, air) for the motion model. Defaults are explained in
docs/TRACKER.md."""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields

from fusion.core.arrays import Domain


def _check_positive(obj: object, names: tuple[str, ...]) -> None:
    for name in names:
        value = getattr(obj, name)
        if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
            raise ValueError(f"{type(obj).__name__}.{name} must be a positive number, got {value!r}")


@dataclass(frozen=True, kw_only=True)
class PoolConfig:
    """Motion model and time limits of one track pool."""

    q_mps2: tuple[float, ...] = (0.02, 2.0)
    """CWNA power spectral density per IMM model, m^2/s^3 (one entry = plain Kalman filter)."""
    sojourn_s: tuple[float, ...] = (300.0, 30.0)
    """Mean time spent in each IMM model before switching, s."""
    mu0: tuple[float, ...] = (0.8, 0.2)
    """Model probabilities of a new track."""
    init_speed_sigma_mps: float = 12.0
    """Velocity standard deviation per axis of a track born from a position-only plot."""
    max_speed_mps: float = 40.0
    """Fastest credible target; bounds identity updates (spoof test) and gating spread."""
    reach_speed_mps: float = 25.7
    """Physical reach of an association (docs/TRACKER.md, "Reach"): a plot further from a
    track's last estimate than this speed (or the track's own speed plus one sigma, if
    faster) times the time since, plus the position errors, is never a candidate, however
    wide the covariance has grown while coasting. Surface 50 kn: the top speed of the
    fast go-fast boats of maritime drug trafficking (UNODC Global Study on Cocaine 2023 /
    US Coast Guard descriptions: 40-50+ kn); air 700 kn: airliners' ground speed in a
    strong jet stream (a B787 at 696 kn over Pennsylvania, February 2019)."""
    q_alt_mps2: float = 1.0
    """CWNA spectral density of the altitude filter, m^2/s^3 (air pool)."""
    init_vrate_sigma_mps: float = 10.0
    """Vertical-rate standard deviation of a new altitude track."""
    coast_after_s: float = 60.0
    """A confirmed track with no update for this long is reported as coasting."""
    max_coast_s: float = 900.0
    """A track with no update for this long is deleted."""
    tentative_max_age_s: float = 60.0
    """A tentative track with no update for this long is deleted."""
    max_pos_sigma_m: float = 5000.0
    """A track whose predicted position standard deviation exceeds this is deleted."""
    coop_fresh_s: float = 30.0
    """A radar look counts no miss on a track that an AIS / ADS-B report updated within this
    time (s): the transponder shows the target is there where the radar does not see it
    (radar shadow, a small hull, clutter), so the track keeps its id; once the reports stop
    (a transponder switched off, an aircraft landed or gone), radar misses count again.
    Surface 30 s: class A AIS reports every 2-10 s underway, class B every 30 s (ITU-R
    M.1371). Air 5 s: ADS-B positions come at 2 Hz, receivers pass them on within seconds,
    and at 30 s tracks of aircraft that had left lingered (docs/SCENARIO-EVAL.md)."""

    def __post_init__(self) -> None:
        r = len(self.q_mps2)
        for name in ("sojourn_s", "mu0"):
            if len(getattr(self, name)) != r:
                raise ValueError(f"PoolConfig.{name} must have {r} entries like q_mps2, got {getattr(self, name)!r}")
        if r == 0 or any(not (math.isfinite(q) and q > 0) for q in self.q_mps2):
            raise ValueError(f"PoolConfig.q_mps2 must be positive numbers, got {self.q_mps2!r}")
        if any(not (s > 0) for s in self.sojourn_s):
            raise ValueError(f"PoolConfig.sojourn_s must be positive, got {self.sojourn_s!r}")
        if any(not (p >= 0) for p in self.mu0) or not math.isclose(sum(self.mu0), 1.0):
            raise ValueError(f"PoolConfig.mu0 must be probabilities summing to 1, got {self.mu0!r}")
        _check_positive(self, tuple(f.name for f in fields(self) if f.type == "float"))


SURFACE_DEFAULT = PoolConfig()
AIR_DEFAULT = PoolConfig(
    q_mps2=(0.5, 50.0),
    sojourn_s=(120.0, 20.0),
    init_speed_sigma_mps=120.0,
    max_speed_mps=350.0,
    reach_speed_mps=360.0,
    coast_after_s=20.0,
    max_coast_s=120.0,
    tentative_max_age_s=30.0,
    coop_fresh_s=5.0,
)


@dataclass(frozen=True, kw_only=True)
class TrackerConfig:
    """Association, management and out-of-sequence settings shared by both pools."""

    gate_prob: float = 0.999
    """Chi-square gate probability of confirmed and coasting tracks (per measurement dimension count)."""
    confirm_gate_prob: float = 0.99
    """Chi-square gate probability of tentative tracks: their gate (one plot, unknown
    velocity) is wide, and a clutter plot inside it confirms a false track."""
    confirm_m: int = 2
    """A tentative track is confirmed with confirm_m hits ..."""
    confirm_n: int = 3
    """... within its first confirm_n looks (M-of-N); otherwise it is deleted."""
    delete_misses: int = 3
    """A confirmed track is deleted after this many consecutive missed radar looks."""
    look_margin_m: float = 2000.0
    """A radar scan looks at tracks inside its plots' bounding box grown by this margin."""
    merge_prob: float = 0.5
    """Two confirmed tracks are merged when their difference is within this chi-square(4) mass."""
    identity_sigmas: float = 5.0
    """Slack, in combined standard deviations, of the identity feasibility (spoof) test."""
    oosm_lag_s: float = 30.0
    """Out-of-sequence batches up to this much older than the newest are re-run; older are dropped."""
    coop_skew_s: float = 0.1
    """A cooperative (AIS, ADS-B) batch whose oldest report is at most this much older than the
    newest processed time is fused in place, not re-run: each report updates its track at the
    report's own time, or at the track's when a newer measurement (another sensor's scan) has
    updated it since. Ingest lets a run of cooperative reports span other sensors' batches of
    the pool for this long (one tracker step, not one per radar scan between them). The error
    is at most speed x skew: 2.6 m for a 50 kn go-fast, under AIS's 10 m position accuracy
    (ITU-R M.1371-5, position accuracy flag 0: > 10 m); 25 m for a 250 m/s aircraft, under
    ADS-B's NACp 8 bound (EPU < 0.05 NM = 93 m, RTCA DO-260B). 0: strict time order."""
    checkpoint_interval_s: float = 10.0
    """State checkpoints for the fixed-lag re-run are kept this far apart (batch time) over the lag."""
    recent_checkpoint_interval_s: float = 0.5
    """Within the newest ``recent_checkpoint_window_s`` of batch time, checkpoints are kept this
    far apart instead: a batch a little late (a live feed's jitter beyond the re-order window)
    then re-runs at most this much data, not up to ``checkpoint_interval_s`` of it."""
    recent_checkpoint_window_s: float = 2.0
    """How far back (batch time) the recent, closer checkpoints are kept."""
    max_tracks: int = 1_000_000
    """No new track is started while a pool holds this many (bounded memory)."""
    max_births_per_source_s: float = 20.0
    """New tentative tracks one radar or OTH site may start per second of batch time, sustained
    (a token bucket of ``births_burst_s`` seconds per site): a rogue site's random plots cannot
    fill a pool with tracks that every rule then evaluates every tick. AIS and ADS-B sources have
    their own bound, ``max_coop_births_per_source_s``. Physics: a radar's births are the targets
    entering its coverage plus the plots of its false alarms. Entering: a flux of density x speed /
    pi per metre of rim; 2,000 targets in a 60 km disc at 15 m/s (a very busy strait) bring
    2,000 / (pi 60 km^2) x 15 m/s / pi x 2 pi 60 km = 0.3 a second; an airborne radar at 200 kn
    sweeping 160 km wide over such a density 2.9 a second. False alarms: a CFAR detector designed
    for Pfa 1e-6 to 1e-5 (Skolnik, Introduction to Radar Systems, 3rd ed., ch. 2 and 5) over a 60 km
    coastal radar's ~720,000 range-azimuth cells (30 m x 1 deg) gives 0.7-7 false plots a scan, a
    second at the fastest surveillance rotation (60 rpm); the simulated radars give 1-2 a scan
    (sim_feeds/scenario.py). 20/s is twice the worst sum of these, and the tune scenarios' radars
    start at most 3.2 tracks a second all sites together (new ids at the output ticks of
    kingston-1000/1001, cartagena-1000, buenaventura-1000). A site beyond it (a detector no longer
    thresholding: docs/SECURITY.md) has its other plots wait for the budget to refill, counted per
    site (``BirthBudget.refused``)."""
    births_burst_s: float = 100.0
    """Depth of each site's birth budget, seconds of ``max_births_per_source_s`` (2,000 tracks at
    the default rate, as the 10 s of 200/s before): a cold start sees every target of its first
    scans born at once (a busy coastal radar's picture is hundreds to ~2,000 targets)."""
    max_coop_births_per_source_s: float = 20.0
    """New tracks one AIS or ADS-B source (receiver, feed topic) may start per second of batch
    time, after a cold-start burst of ``coop_births_burst`` (a token bucket per source; rows of
    a coalesced batch charge their own source). Physics: a receiver hears a new target only
    when it enters its coverage. ADS-B: radio horizon 1.23 sqrt(h ft) NM = 246 NM at FL400;
    the mean chord of that circle (pi R / 2 = 386 NM) at 500 kn takes ~2,800 s, so even 1,500
    aircraft in view (the busiest receivers) bring ~0.5 new ones a second. AIS: a terrestrial
    receiver (~40 NM) hears at most 2 x 2,250 slots a minute = 75 reports/s (ITU-R M.1371-5
    SOTDMA frame), ships enter at <= 30 kn: well under 1 new ship a second. 20/s is 40x the
    ADS-B figure, room for re-births after fades; one source cannot flood a pool with
    identities (a spoofer's 2,000 ICAO addresses a second)."""
    coop_births_burst: float = 3_000.0
    """Depth of each cooperative source's birth budget, tracks: a cold start (or a receiver
    coming back) sees every target in view born at once; twice the busiest ADS-B receiver's
    ~1,500 aircraft in view (a satellite-AIS or aggregator source seeing more needs more)."""
    identity_history: int = 10_000
    """Identity changes remembered per pool (ring buffer)."""
    lost_track_history: int = 10_000
    """Confirmed tracks deleted on misses, age or covariance growth remembered per pool (ring buffer) for
    ``max_coast_s``: a new track that confirms where one of them would be (chi-square(4) test at
    ``gate_prob`` on the two estimates, fusion/core/manage.py ``stitch``) takes its id (docs/TRACKER.md,
    "Fragments, second pass"). 0: no stitching."""
    source_interval_s: dict[str, float] = field(default_factory=dict)
    """Expected report interval (s) of named sources, keyed ``"kind/source"`` as in the feed
    topic (``"ais/exactearth"``, ``"radar/aerostat1"``): a satellite AIS constellation's revisit,
    a radar's scan period, an archive's thinning. A report's expected interval is the larger
    of this and, for AIS, its ITU-R M.1371 rate (sensors/measurement.py); it drives the
    track's limits (fusion/core/intervals.py, docs/TRACKER.md "Expected report intervals")."""
    report_prob: float = 0.5
    """Probability that one expected report of a present target is received. A conservative
    prior, not fitted to any data: half of the reports lost (terrestrial AIS slot collisions
    at the edge of range, satellite AIS collisions over busy seas)."""
    coast_intervals: float = 3.0
    """A confirmed track is reported coasting after this many expected intervals without an update."""
    tentative_miss_prob: float = 0.05
    """A tentative track is deleted once missing every report for that long has probability
    below this for a present target ((1 - report_prob)^k: 5 intervals at 0.5)."""
    delete_miss_prob: float = 1e-3
    """A confirmed track is deleted likewise below this probability (10 intervals at 0.5)."""
    rerun_budget_s_per_s: float = 1.0
    """Per source (``"kind/sensor id"``), the batch time the tracker may re-run for that source's
    out-of-sequence batches, per second of batch time (a token bucket ``rerun_burst_s`` deep,
    fusion/core/oosm.py ``RerunBudget``); beyond it a batch is not re-run but counted for its
    source, its identified rows fused by retrodiction (fusion/core/late.py), its anonymous plots
    dropped as late. A re-run replays every source's data, so a source always behind the others
    (a flood, a lagging feed) would otherwise make the tracker redo its lag at each of its
    batches (issue 18). 1.0: one source can at most double the tracker's work (the issue's
    bound: good sources within 2x of their latency), while a 1 Hz radar whose every scan misses
    the re-order window by less than the recent checkpoint spacing (0.5 s) is still re-run
    exactly (at most ~1 s replayed per scan). ``inf``: no bound."""
    rerun_burst_s: float = 5.0
    """Depth of each source's re-run budget (s of batch time): one re-run of up to this much is
    always allowed after a quiet spell, i.e. a scan late by up to ~4.5 s beyond the re-order
    window (with the 0.5 s recent checkpoints) is re-run exactly; 5 s is one output interval."""
    late_max_age_s: float = 0.0
    """Measurements older than ``oosm_lag_s`` but at most this old (s, behind the newest
    processed time) update the track they belong to by retrodiction (fusion/core/retrodict.py,
    Bar-Shalom's out-of-sequence "Algorithm B") instead of being dropped; 0: off."""
    association: str = "gnn"
    """How confirmed and coasting tracks take plots: ``"gnn"`` (one best assignment, a miss
    column per track) or ``"jpda"`` (joint probabilistic data association, fusion/core/jpda.py:
    each track is updated with every plot in its gate, weighted by its association probability;
    a plot more likely a track's than not is not a birth). Tentative tracks take the plots left
    over by GNN either way (docs/TRACKER.md, "JPDA and track score")."""
    confirmation: str = "m_of_n"
    """How a tentative track is confirmed: ``"m_of_n"`` (``confirm_m`` hits in ``confirm_n``
    looks) or ``"score"``: its log likelihood ratio against clutter, summed over its looks
    (hit: ln(Pd N(nu; 0, S) / lambda), lambda the scan's clutter density; miss: ln(1 - Pd)),
    tested with Wald's thresholds from ``score_false_confirm`` and ``score_true_delete`` (the
    look limit ``confirm_n`` does not apply; ``tentative_max_age_s`` does)."""
    detection_prob: float = 0.9
    """Detection probability Pd assumed by JPDA and the track score: the design Pd of a
    surveillance radar at its specified range (0.9, with Pfa 1e-6, is the textbook design point:
    Skolnik, "Introduction to Radar Systems", 3rd ed. 2001, section 2.5)."""
    false_alarm_prob: float = 1e-6
    """Pfa per resolution cell of the radars (the design point of ``detection_prob``: Skolnik 2001,
    section 2.5): with a scan's radar constant and a track's RCS estimate it gives the look's Pd, Swerling I
    Pd = Pfa^(1 / (1 + SNR)) (Skolnik 2001, section 2.8), SNR by the radar equation (R^-4)
    (fusion/core/manage.py ``look_pd``, docs/TRACKER.md "Radar horizon and Pd of a look")."""
    miss_min_pd: float = 0.5
    """A radar look counts a missed look (hit history, miss run, coasting, track score) only where its Pd
    for the track is at least this: beyond the radar horizon Pd is 0; with the radar constant and a
    track's RCS estimate it follows the radar equation; else it is ``detection_prob``. 0.5: a radar's
    detection range is stated where the blip-scan ratio is 50 % (Blake, "Radar Range-Performance
    Analysis", 1980, ch. 1; the R50 of Skolnik 2001, section 2.5): beyond it a target is more likely
    missed than seen, and a miss says little about its presence."""
    low_profile_height_m: float = 0.5
    """Height above the sea (m) of the lowest surface target: a surface track counts a missed radar look
    only within the radar horizon (4/3 earth) of a target this high, or higher where the track's own
    radar detections show it is (``hmin``, fusion/core/manage.py ``look_pd``). 0.5 m: a self-propelled
    semi-submersible rides awash, its hull well under 1 m above the water (the simulator's
    semi_submersible class, sim_feeds/scenario.py: 0.5 m)."""
    score_false_confirm: float = 0.01
    """alpha of the score test: probability that a false (clutter) track is confirmed
    (conventional SPRT design values, Blackman & Popoli 1999, section 6.2; not tuned here)."""
    score_true_delete: float = 0.05
    """beta of the score test: probability that a true tentative track is deleted. Below
    1 - Pd (0.1), so that one missed look of a true target (that probability) does not by
    itself delete its track: the delete threshold ln(beta / (1 - alpha)) = -2.99 lies below
    one miss, ln(1 - Pd) = -2.30. (With 0.1 it lay 0.01 above: on seed 2 of the benchmark,
    not the reported seed 1, sparse GOSPA 1610 against 1591 with 0.05.)"""
    surface: PoolConfig = field(default_factory=lambda: SURFACE_DEFAULT)
    air: PoolConfig = field(default_factory=lambda: AIR_DEFAULT)

    def __post_init__(self) -> None:
        if self.association not in ("gnn", "jpda"):
            raise ValueError(f"TrackerConfig.association must be 'gnn' or 'jpda', got {self.association!r}")
        if self.confirmation not in ("m_of_n", "score"):
            raise ValueError(f"TrackerConfig.confirmation must be 'm_of_n' or 'score', got {self.confirmation!r}")
        for name in ("gate_prob", "confirm_gate_prob", "merge_prob", "report_prob", "tentative_miss_prob", "delete_miss_prob",
                     "detection_prob", "score_false_confirm", "score_true_delete", "false_alarm_prob"):
            if not 0.0 < getattr(self, name) < 1.0:
                raise ValueError(f"TrackerConfig.{name} must be in (0, 1), got {getattr(self, name)!r}")
        _check_positive(self, ("confirm_m", "confirm_n", "delete_misses", "identity_sigmas",
                               "checkpoint_interval_s", "recent_checkpoint_interval_s", "max_tracks", "identity_history",
                               "max_births_per_source_s", "births_burst_s", "max_coop_births_per_source_s", "coop_births_burst",
                               "coast_intervals", "low_profile_height_m"))
        for key, value in self.source_interval_s.items():
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
                raise ValueError(f"TrackerConfig.source_interval_s[{key!r}] must be a positive number of seconds, got {value!r}")
        if not (isinstance(self.lost_track_history, int) and self.lost_track_history >= 0):
            raise ValueError(f"TrackerConfig.lost_track_history must be an int >= 0, got {self.lost_track_history!r}")
        if not 0.0 <= self.miss_min_pd <= 1.0:
            raise ValueError(f"TrackerConfig.miss_min_pd must be in [0, 1], got {self.miss_min_pd!r}")
        if not (self.late_max_age_s >= 0 and math.isfinite(self.late_max_age_s)):
            raise ValueError(f"TrackerConfig.late_max_age_s must be >= 0, got {self.late_max_age_s!r}")
        for name in ("rerun_budget_s_per_s", "rerun_burst_s"):
            if not getattr(self, name) >= 0:  # (NaN fails too; inf: no bound)
                raise ValueError(f"TrackerConfig.{name} must be >= 0 (inf: no bound), got {getattr(self, name)!r}")
        if not 0 <= self.recent_checkpoint_window_s < math.inf:
            raise ValueError(f"TrackerConfig.recent_checkpoint_window_s must be >= 0, got {self.recent_checkpoint_window_s!r}")
        if self.confirm_m > self.confirm_n or self.confirm_n > 62:
            raise ValueError(f"TrackerConfig.confirm_m must be <= confirm_n <= 62, got {self.confirm_m}, {self.confirm_n}")
        if not (self.oosm_lag_s >= 0 and math.isfinite(self.oosm_lag_s)):
            raise ValueError(f"TrackerConfig.oosm_lag_s must be >= 0, got {self.oosm_lag_s!r}")
        if not 0 <= self.coop_skew_s <= self.oosm_lag_s:
            raise ValueError(f"TrackerConfig.coop_skew_s must be between 0 and oosm_lag_s ({self.oosm_lag_s:g} s), got {self.coop_skew_s!r}")
        if not self.look_margin_m >= 0:
            raise ValueError(f"TrackerConfig.look_margin_m must be >= 0, got {self.look_margin_m!r}")

    def pool(self, domain: Domain) -> PoolConfig:
        """The motion settings of one pool."""
        if domain == "surface":
            return self.surface
        if domain == "air":
            return self.air
        raise ValueError(f"domain must be 'surface' or 'air', got {domain!r}")
