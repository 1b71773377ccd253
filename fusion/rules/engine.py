"""RuleEngine: evaluates every enabled rule on both track pools per output tick. Pure.

Per tick: stack both pools into a Scene (one row per track, sorted by id), let each rule of the
config's catalog (``fusion.rules.catalog``: one module per rule) compute its Candidates
(vectorised), advance the rule's AlertBook (raise / update / clear with hysteresis), and turn the
few transitions into AlertEvents worded by the rule.

Priority = weight x (0.5 + 0.5 x strength) x (1 + exp(-T / urgency_horizon_s)), where T is
the smaller of the time to reach the shore at the current speed and the time to arrive
at a landing zone (surface) or airstrip (air). Range: 0.5 to 2 times the rule weight.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import msgspec
import numpy as np

from fusion.actions import OperatorAction
from fusion.core.arrays import NO_ICAO, NO_MMSI, FloatArray, IntArray, TrackView
from fusion.core.frame import LocalFrame
from fusion.outages import Outages
from fusion.rules.behaviours import FirstFix
from fusion.rules.catalog.base import Rule, TickInputs, fmt
from fusion.rules.catalog.landing_approach import LandingApproach
from fusion.rules.config import KNOT_MPS, RulesConfig, RulesConfigBase, default_rules, load_rules
from fusion.rules.geo import NoShore, ShoreDistance, shore_distance
from fusion.rules.lifecycle import (
    MAX_TRACK_ID,
    SEVERITIES,
    AlertBook,
    AlertEvent,
    Candidates,
    LifecycleSettings,
    OpRecord,
    Transition,
    empty_columns,
    isin_sorted,
    subject_keys,
)
from fusion.rules.lineage import Lineage
from fusion.rules.reporting import ReportingArrays
from fusion.rules.scene import Scene, ZoneGeometry
from fusion.rules.zones import ZoneSet, load_zones
from sensors.errors import DecodeError

MAX_OPS_PER_ALERT = 50  # operator actions kept on one alert (the oldest dropped beyond)
ADOPT_GRACE_S = 300.0  # how long an alert taken over from a journal waits for its vessel / aircraft to get a track again

__all__ = ["AlertEvent", "RuleEngine", "RulesConfig", "ZoneSet", "default_rules", "load_rules", "load_zones"]


class RuleEngine:
    """Zones + rules + frame -> alerts per tick, with state that survives snapshot/restore."""

    def __init__(self, zones: ZoneSet, rules: RulesConfig, frame: LocalFrame) -> None:
        self.zones = zones
        self.frame = frame
        self.geometry = ZoneGeometry(zones, frame)
        self._seq = 0
        self.epoch = ""  # instance epoch in alert ids (the live service sets one; offline runs keep ids short)
        self._queued: list[AlertEvent] = []
        self.first_fix = FirstFix()  # shared by dark_vessel and noncoop_transit, inherited through the lineage
        self.lineage = Lineage()
        self.catalog: dict[str, Rule[Any]] = {}  # the rules, by name, in catalog order (each keeps its own state)
        self.books: dict[str, AlertBook] = {}
        self.last: dict[str, AlertEvent] = {}  # latest event of each open alert, by alert id
        self.ops: dict[str, list[OpRecord]] = {}  # operator actions on open alerts, by alert id
        # open alerts taken over (``adopt``) whose track is gone, by rule: book rows waiting for a track
        # with the same MMSI / ICAO address, and the time they started waiting (NaN until the first tick)
        self._held: dict[str, tuple[dict[str, np.ndarray], FloatArray]] = {}
        self._install(rules)

    def _install(self, rules: RulesConfig) -> None:
        self.rules = rules
        e = rules.engine
        self.settings = LifecycleSettings(e.update_min_interval_s, e.strength_change)
        self.first_fix.keep_s = e.handover_s
        self.shore: ShoreDistance | NoShore = shore_distance(self.frame, e.coast_cell_m) if e.coast == "gshhg" else NoShore()
        catalog: dict[str, Rule[Any]] = {}
        for cls in type(rules).catalog:  # a rule kept across a reload keeps its state
            rule = self.catalog.get(cls.name)
            catalog[cls.name] = rule if isinstance(rule, cls) else cls()
            catalog[cls.name].configure(rules.rules.params(cls.name), self.geometry)
        self.catalog = catalog
        self._landing = next((r for r in catalog.values() if isinstance(r, LandingApproach)), None)  # urgency's arrivals
        # Zones named by alerts of rules not tied to a zone: the zone holding the track, these kinds first.
        self.prefer = {name: p for name, rule in catalog.items() if (p := rule.prefer()) is not None}
        # The zone queries (margin 0: membership) of the enabled rules, indexed now and merged per margin, so that
        # rules sharing a margin share one query per tick (a query not declared here still works, merged on first use).
        cov = e.ais_coverage
        g = self.geometry
        for on, margin, mask in [(not cov.everywhere, 0.0, g.select(cov.kinds, cov.zones)),
                                 *(q for rule in catalog.values() for q in rule.queries())]:
            if on:
                g.warm(margin, mask)
        for name, rule in catalog.items():
            book = self.books.get(name)
            self.books[name] = AlertBook(name, rule.params.min_off_s, self.settings, book.cols if book is not None else None)
        self.books = {name: self.books[name] for name in catalog}

    def reload(self, rules: RulesConfig) -> None:
        """Switch to a new, already validated RulesConfig; open alerts keep their ids and state.

        Alerts of rules the new config disables are cleared at the next tick.
        """
        if not isinstance(rules, RulesConfigBase):
            raise TypeError(f"reload needs a validated RulesConfig (use load_rules), got {type(rules).__name__}")
        self._install(rules)

    def _next_seq(self, n: int) -> IntArray:
        out = np.arange(self._seq, self._seq + n, dtype=np.int64)
        self._seq += n
        return out

    def evaluate(self, t: float, views: Mapping[str, TrackView], outages: Outages | None = None,
                 reporting: ReportingArrays | None = None) -> list[AlertEvent]:
        """All alert events of this tick, in rule order then subject order. ``outages``: silences of the link and
        the feeds (``fusion.outages``), which the gap rules do not count against a vessel; ``reporting``: the AIS
        vessels' last report type, SOG and observed reception (``fusion.rules.reporting``; None: none known)."""
        tick = TickInputs(self.rules.engine, self.first_fix, self.lineage, outages if outages is not None else Outages(),
                          reporting if reporting is not None else ReportingArrays())
        for d, v in views.items():
            if len(v) and (v.track_id.min() < 0 or v.track_id.max() > MAX_TRACK_ID):
                raise ValueError(f"views[{d!r}].track_id must be in [0, {MAX_TRACK_ID}], got range "
                                 f"[{v.track_id.min()}, {v.track_id.max()}]")
        e = self.rules.engine
        horizon = max([e.urgency_horizon_s, *(rule.lookahead_s() for rule in self.catalog.values())])
        scene = Scene.build(t, views, self.frame, e.statuses, self.geometry, self.shore, horizon)
        handed = self.lineage.observe(scene, e.handover_s, e.handover_m)
        if len(handed):  # a lost track's alerts and first fix move to the new track continuing its object (fusion.rules.lineage)
            self._remap_books(handed)
            self.first_fix.inherit(handed, t)
        out, self._queued = self._queued, []
        out = [_retime(a, t) for a in out]
        self._rehome(t, scene)
        # a lost track's alerts wait handover_s for a successor (sorted ids of both: the live ones and the lost ones)
        alive_ids = np.sort(np.concatenate([scene.track_id, self.lineage.lost_ids()]))
        for name, book in self.books.items():
            rule = self.catalog[name]
            if rule.params.enabled:
                cand = rule.evaluate(scene, tick)
            else:
                cand = Candidates.build(np.zeros(0, np.int64), np.zeros(0, bool), np.zeros(0, bool), np.zeros(0),
                                        min_on_s=0.0, severity="low", weight=0.0)
            if not len(cand) and not len(book):
                continue  # nothing pending, open or to start
            evidence_t = np.fmin(scene.last_t[cand.row], t)  # newest measurement of each subject's track
            trans, keep = book.step(t, cand, scene.track_id[cand.row], evidence_t, alive_ids, self._next_seq)
            out.extend(self._emit(t, name, book, trans, cand, scene))
            book.compact(keep)
        return out

    def _urgency(self, scene: Scene, rows: IntArray) -> tuple[np.ndarray, np.ndarray]:
        """(R,) urgency exp(-T / horizon) and T, the time to reach the shore or a landing zone / airstrip."""
        tta = self._landing.time_to_landing(scene, rows) if self._landing is not None else np.full(len(rows), np.inf)
        to_shore = np.where(scene.is_air[rows], np.inf, scene.shore_m[rows] / np.maximum(scene.speed_mps[rows], 0.5))
        horizon = np.minimum(tta, to_shore)
        return np.exp(-horizon / self.rules.engine.urgency_horizon_s), horizon

    def _emit(self, t: float, rule: str, book: AlertBook, tr: Transition, cand: Candidates, scene: Scene) -> list[AlertEvent]:
        c = book.cols
        alive_rows = isin_sorted(c["track_id"], scene.track_id)
        rows = scene.rows_of(c["track_id"][alive_rows])
        c["lat"][alive_rows], c["lon"][alive_rows] = scene.lat[rows], scene.lon[rows]
        c["mmsi"][alive_rows], c["icao24"][alive_rows] = scene.mmsi[rows], scene.icao24[rows]
        events: list[AlertEvent] = []
        emitting = np.concatenate([tr.raised, tr.updated])
        where = self._zones_at(scene, rule, c["track_id"][np.concatenate([emitting, tr.cleared]).astype(np.int64)])
        if len(emitting):
            ci = tr.cand_of_row[emitting]
            u, horizon = self._urgency(scene, cand.row[ci])
            c["priority"][emitting] = cand.weight[ci] * (0.5 + 0.5 * cand.strength[ci]) * (1.0 + u)
            states = ["raised"] * len(tr.raised) + ["updated"] * len(tr.updated)
            for n, (i, state) in enumerate(zip(emitting, states, strict=True)):
                j = int(tr.cand_of_row[i])
                ev = {k: float(v[j]) for k, v in cand.evidence.items()}
                ev["condition_s"] = t - float(c["pending_since"][i])
                ev["strength"] = float(cand.strength[j])
                ev["time_to_coast_or_landing_s"] = float(horizon[n])
                ev["last_update_t"] = float(scene.last_t[cand.row[j]])  # the newest measurement behind the alert
                zone = self._zone_name(int(c["zone"][i]))
                if state == "updated" and self._dismissed(rule, book, int(i)):
                    continue  # a dismissed alert is silent until it clears
                events.append(self._event(t, rule, book, int(i), state, self.catalog[rule].reason(ev, zone), _clean(ev), where[n]))
        for n, (i, because) in enumerate(zip(tr.cleared, tr.cleared_because, strict=True)):
            events.append(self._cleared(t, rule, book, int(i), because, scene, where[len(emitting) + n]))
        return events

    def _current(self, last: AlertEvent) -> AlertEvent:
        """``last`` with what its book row holds now: track (merges move alerts), position, identity keys,
        severity and priority (as of the latest tick)."""
        book = self.books.get(last.rule)
        i = None if book is None else self.row_of(book, last.alert_id)
        if book is None or i is None:
            return last
        c = book.cols
        mmsi, icao, related = int(c["mmsi"][i]), int(c["icao24"][i]), int(c["related"][i])
        lat, lon = float(c["lat"][i]), float(c["lon"][i])
        return msgspec.structs.replace(
            last, track_id=int(c["track_id"][i]), severity=SEVERITIES[int(c["severity"][i])],
            lat=round(lat, 6) if math.isfinite(lat) else last.lat, lon=round(lon, 6) if math.isfinite(lon) else last.lon,
            mmsi=None if mmsi == NO_MMSI else mmsi, icao24=None if icao == NO_ICAO else f"{icao:06x}",
            related_track_ids=[] if related < 0 else [related], priority=round(float(c["priority"][i]), 4))

    def _zones_at(self, scene: Scene, rule: str, track_ids: IntArray) -> list[str | None]:
        """(K,) name of the active zone holding each track now (the rule's preferred kinds first, then the
        first zone in file order); None outside every zone or for a track no longer live."""
        out: list[str | None] = [None] * len(track_ids)
        alive = isin_sorted(track_ids, scene.track_id)
        if not alive.any() or not len(self.zones.zones):
            return out
        idx = np.flatnonzero(alive)
        rows = scene.rows_of(track_ids[idx])
        p, z = scene.geometry.near(scene.lon[rows], scene.lat[rows], 0.0, scene.zone_active)
        prefer = self.prefer.get(rule)
        score = z + (0 if prefer is None else np.where(prefer[z], 0, len(self.zones.zones)))
        order = np.lexsort((score, p))
        p, z = p[order], z[order]
        first = np.ones(len(p), dtype=bool)
        first[1:] = p[1:] != p[:-1]
        for k, zi in zip(p[first].tolist(), z[first].tolist(), strict=True):
            out[int(idx[k])] = self.zones.zones[zi].name
        return out

    def alert_id(self, rule: str, book: AlertBook, i: int) -> str:
        """Id of book row ``i``'s alert: rule, the track that raised it, the instance epoch (when set) and the
        sequence number (docs/OPERATIONS.md, "Continuity")."""
        return self._id_of(rule, book.cols, i)

    def row_of(self, book: AlertBook, alert_id: str) -> int | None:
        """Book row of the open alert ``alert_id`` (None when not open)."""
        for i in np.flatnonzero(book.cols["active"]).tolist():  # open alerts are few
            if self.alert_id(book.rule, book, i) == alert_id:
                return int(i)
        return None

    def _dismissed(self, rule: str, book: AlertBook, i: int) -> bool:
        ops = self.ops.get(self.alert_id(rule, book, i))
        return ops is not None and any(op.action == "dismiss" for op in ops)

    def apply_actions(self, t: float, actions: Sequence[OperatorAction]) -> tuple[list[AlertEvent], list[DecodeError]]:
        """Record operator actions on their open alerts.

        Each recorded action republishes its alert at tick time ``t`` as state "updated" with the
        alert's ``ops`` so far (later events of the alert carry them too). After a "dismiss" the
        alert publishes no more updates; it still clears (with its ops) when its condition ends or
        its track goes, and only a new onset of the condition after that raises a new alert (new id).
        Actions on an alert that is not open, or repeating one already recorded, are rejected."""
        events: list[AlertEvent] = []
        rejects: list[DecodeError] = []
        for act in actions:
            last = self.last.get(act.alert_id)
            if last is None:
                rejects.append(DecodeError("ops", "alert_id", act.alert_id, "no open alert has this id"))
                continue
            rec = OpRecord(act.action, act.by, act.why, float(act.t))
            ops = self.ops.setdefault(act.alert_id, [])
            if rec in ops:
                rejects.append(DecodeError("ops", "payload", act.alert_id, "repeats an action already recorded"))
                continue
            ops.append(rec)
            del ops[:-MAX_OPS_PER_ALERT]
            ev = msgspec.structs.replace(self._current(last), t=float(t), state="updated", ops=list(ops))
            self.last[act.alert_id] = ev
            events.append(ev)
        return events, rejects

    def _zone_name(self, z: int) -> str | None:
        return None if z < 0 else self.zones.zones[z].name

    def _cleared(self, t: float, rule: str, book: AlertBook, i: int, because: str, scene: Scene, where: str | None) -> AlertEvent:
        c = book.cols
        ev: dict[str, float] = {"duration_s": t - float(c["raised_t"][i])}
        tid = int(c["track_id"][i])
        pos = np.searchsorted(scene.track_id, tid)
        if pos < len(scene) and scene.track_id[pos] == tid:
            ev["speed_kn"] = float(scene.speed_mps[pos] / KNOT_MPS)
            ev["course_deg"] = float(scene.course_deg[pos])
        zone = self._zone_name(int(c["zone"][i]))
        text = self.catalog[rule].cleared_reason(ev, zone, because) or f"{rule} ended ({because}) after {fmt(ev['duration_s'] / 60.0, ' min', 1)}"
        return self._event(t, rule, book, i, "cleared", text, _clean({**ev, "cleared_because": because}), where)

    def _event(self, t: float, rule: str, book: AlertBook, i: int, state: str, reason: str, evidence: dict[str, Any],
               where: str | None = None) -> AlertEvent:
        """The event of book row ``i``; its zone is the rule's zone, else ``where`` (the zone holding the track).
        Kept as the alert's latest event while it is open; a cleared alert's record and actions are dropped."""
        c = book.cols
        related = int(c["related"][i])
        mmsi, icao = int(c["mmsi"][i]), int(c["icao24"][i])
        alert_id = self.alert_id(rule, book, i)
        zone = self._zone_name(int(c["zone"][i]))
        ev = AlertEvent(
            t=float(t), alert_id=alert_id, rule=rule,
            severity=SEVERITIES[int(c["severity"][i])], state=state, track_id=int(c["track_id"][i]),
            lat=round(float(c["lat"][i]), 6), lon=round(float(c["lon"][i]), 6), zone=where if zone is None else zone,
            mmsi=None if mmsi == NO_MMSI else mmsi, icao24=None if icao == NO_ICAO else f"{icao:06x}", reason=reason,
            related_track_ids=[] if related < 0 else [related], priority=round(float(c["priority"][i]), 4), evidence=evidence,
            ops=list(self.ops.get(alert_id, ())))
        if state == "cleared":
            self.last.pop(alert_id, None)
            self.ops.pop(alert_id, None)
        else:
            self.last[alert_id] = ev
        return ev

    def book_row(self, rule: str, alert_id: str) -> dict[str, Any] | None:
        """The book row of open alert ``alert_id`` as JSON-able scalars (None when not open), for ``adopt``."""
        book = self.books.get(rule)
        i = None if book is None else self.row_of(book, alert_id)
        if book is None or i is None:
            return None
        return {k: v[i].item() for k, v in book.cols.items()}

    def adopt(self, event: AlertEvent, row: Mapping[str, Any]) -> None:
        """Take over open alert ``event`` with its book row (``book_row``), e.g. from the service's alert
        journal after a crash: it replaces a row of the same subject or the same alert, and is updated and
        cleared from now on like any other. Its sequence number is never handed out again. When its track
        is gone at the next tick, it waits (``ADOPT_GRACE_S``) for a track with its MMSI / ICAO address and
        moves there, or clears ("track deleted")."""
        book = self.books.get(event.rule)
        if book is None:
            return
        self.forget(event.alert_id, event.rule)
        add = empty_columns(1)
        for k, col in add.items():
            col[0] = row[k]
        c = book.cols
        keep = c["key"] != add["key"][0]
        book.cols = {k: np.concatenate([c[k][keep], add[k]]) for k in c}
        book.compact(np.ones(len(book), dtype=bool))
        self.last[event.alert_id] = event
        if event.ops:
            self.ops[event.alert_id] = list(event.ops)
        self._seq = max(self._seq, int(add["seq"][0]) + 1)
        held, since = self._held.get(event.rule, (empty_columns(), np.zeros(0)))
        self._held[event.rule] = (held, since)  # rows are moved here at the next tick if their track is gone

    def forget(self, alert_id: str, rule: str) -> None:
        """Drop open alert ``alert_id`` (cleared elsewhere, e.g. in the journal after the checkpoint)."""
        book = self.books.get(rule)
        i = None if book is None else self.row_of(book, alert_id)
        if book is not None and i is not None:
            keep = np.ones(len(book), dtype=bool)
            keep[i] = False
            book.compact(keep)
        held = self._held.get(rule)
        if held is not None:
            cols, since = held
            gone = np.array([self._id_of(rule, cols, j) == alert_id for j in range(len(since))], dtype=bool)
            self._held[rule] = ({k: v[~gone] for k, v in cols.items()}, since[~gone])
        self.last.pop(alert_id, None)
        self.ops.pop(alert_id, None)

    def _id_of(self, rule: str, cols: dict[str, np.ndarray], i: int) -> str:
        seq = f"{self.epoch}.{int(cols['seq'][i])}" if self.epoch else str(int(cols["seq"][i]))
        return f"{rule}-{int(cols['owner'][i])}-{seq}"

    def _rehome(self, t: float, scene: Scene) -> None:
        """Adopted open alerts whose track is gone: held out of their book until a live track has their MMSI /
        ICAO address (then they move to it) or ``ADOPT_GRACE_S`` passed (then they go back and clear)."""
        for rule in list(self._held):
            book = self.books[rule]
            held, since = self._held[rule]
            c = book.cols
            lost = c["active"] & ~isin_sorted(c["track_id"], scene.track_id) & (c["related"] < 0) & (
                (c["mmsi"] != NO_MMSI) | (c["icao24"] != NO_ICAO))
            if lost.any():
                held = {k: np.concatenate([held[k], v[lost]]) for k, v in c.items()}
                since = np.concatenate([since, np.full(int(lost.sum()), t)])
                book.compact(~lost)
            back = np.zeros(len(since), dtype=bool)
            for j in range(len(since)):
                mmsi, icao = int(held["mmsi"][j]), int(held["icao24"][j])
                match = np.flatnonzero((scene.mmsi == mmsi) if mmsi != NO_MMSI else (scene.icao24 == icao))
                if len(match):
                    tid = int(scene.track_id[match[0]])
                    held["track_id"][j] = tid
                    held["key"][j] = subject_keys(np.array([tid]), held["aux"][j:j + 1])[0]
                back[j] = bool(len(match)) or t - since[j] >= ADOPT_GRACE_S
            if back.any():
                c = book.cols
                keep = ~isin_sorted(c["key"], np.sort(held["key"][back]))
                book.cols = {k: np.concatenate([c[k][keep], held[k][back]]) for k in c}
                book.compact(np.ones(len(book), dtype=bool))
            held, since = {k: v[~back] for k, v in held.items()}, since[~back]
            if len(since):
                self._held[rule] = (held, since)
            else:
                del self._held[rule]

    def on_merge(self, merged: IntArray) -> None:
        """(K, 2) int64 rows of (absorbed id, surviving id): alerts follow the surviving track."""
        m = np.asarray(merged, dtype=np.int64)
        if m.ndim != 2 or m.shape[1] != 2:
            raise ValueError(f"merged must be (K, 2) absorbed/surviving ids, got {m.shape}")
        if not len(m):
            return
        self._remap_books(m)
        for spec in self.catalog.values():
            spec.on_merge(m)
        # The surviving track keeps its own first fix.
        kept = ~np.isin(self.first_fix.cols["track_id"], m[:, 0])
        self.first_fix.cols = {k: v[kept] for k, v in self.first_fix.cols.items()}
        self.lineage.merge(m)

    def _remap_books(self, m: IntArray) -> None:
        """(K, 2) rows of (old id, new id): every book's rows follow; duplicates' clears are queued for the next tick."""
        for name, book in self.books.items():
            clear, reasons, keep = book.remap(m[:, 0], m[:, 1])
            c = book.cols
            for i, because in zip(clear, reasons, strict=True):
                text = f"{name} ended ({because})"
                ev = _clean({"duration_s": float(c["raised_t"][i]), "cleared_because": because})
                self._queued.append(self._event(math.nan, name, book, int(i), "cleared", text, ev))
            book.compact(keep)

    def snapshot(self) -> dict[str, Any]:
        """Rule state as plain arrays and numbers (for the service checkpoint)."""
        snap: dict[str, Any] = {"seq": self._seq, "epoch": self.epoch}
        for name, book in self.books.items():
            snap.update({f"book.{name}.{k}": v.copy() for k, v in book.cols.items()})
        for prefix, mem in (("first_fix", self.first_fix), ("lineage", self.lineage)):
            snap.update({f"{prefix}.{k}": v.copy() for k, v in mem.cols.items()})
        for spec in self.catalog.values():
            snap.update({f"{spec.state_key}.{k}": v for k, v in spec.snapshot().items()})
        # cleared events of merges not yet published (they go out at the next tick): plain JSON-able dicts
        snap.update({f"first_fix_lost.{k}": v.copy() for k, v in self.first_fix.lost.items()})
        snap["queued"] = [{**msgspec.to_builtins(a), "t": None} for a in self._queued]
        # open alerts' latest events and operator actions (JSON-able)
        snap["last"] = [msgspec.to_builtins(a) for a in self.last.values()]
        snap["ops"] = {aid: msgspec.to_builtins(ops) for aid, ops in self.ops.items()}
        for rule, (held, since) in self._held.items():  # adopted alerts waiting for their track
            snap.update({f"held.{rule}.{k}": v.copy() for k, v in held.items()})
            snap[f"held.{rule}.since"] = since.copy()
        return snap

    @classmethod
    def restore(cls, zones: ZoneSet, rules: RulesConfig, frame: LocalFrame, snap: Mapping[str, Any]) -> RuleEngine:
        """An engine continuing from ``snapshot()`` output."""
        eng = cls(zones, rules, frame)
        eng._seq = int(snap["seq"])
        eng.epoch = str(snap.get("epoch", ""))
        eng._queued = [msgspec.convert({**q, "t": math.nan}, AlertEvent) for q in snap.get("queued", ())]
        # (snapshots from before operator actions have neither: nothing to republish, no actions)
        eng.last = {a.alert_id: a for a in msgspec.convert(list(snap.get("last", ())), list[AlertEvent])}
        eng.ops = {aid: msgspec.convert(ops, list[OpRecord]) for aid, ops in snap.get("ops", {}).items()}
        for name, book in eng.books.items():
            if f"held.{name}.since" in snap:
                eng._held[name] = ({k: np.asarray(snap[f"held.{name}.{k}"]).copy() for k in book.cols},
                                   np.asarray(snap[f"held.{name}.since"]).copy())
            if f"book.{name}.key" not in snap:  # a rule added after the snapshot was written: nothing pending or open
                continue
            book.cols = {k: np.asarray(snap[f"book.{name}.{k}"]).copy() for k in book.cols}
        for spec in eng.catalog.values():
            prefix = f"{spec.state_key}."
            spec.restore({k[len(prefix):]: v for k, v in snap.items() if k.startswith(prefix)})
        fix = {k: np.asarray(snap[f"first_fix.{k}"]).copy() for k in ("track_id", "t", "east", "north")}
        # snapshots from before the time-in-coverage columns: seen at the first fix, no time in coverage yet
        fix["seen_t"] = np.asarray(snap.get("first_fix.seen_t", fix["t"])).copy()
        fix["covered_s"] = np.asarray(snap.get("first_fix.covered_s", np.zeros(len(fix["t"])))).copy()
        eng.first_fix.cols = fix
        if "first_fix_lost.track_id" in snap:
            eng.first_fix.lost = {k: np.asarray(snap[f"first_fix_lost.{k}"]).copy() for k in eng.first_fix.lost}
        if "lineage.track_id" in snap:  # snapshots from before the object lineage: tracks seen anew at the next tick
            eng.lineage.cols = {k: np.asarray(snap[f"lineage.{k}"]).copy() for k in eng.lineage.cols}
        return eng


def _retime(a: AlertEvent, t: float) -> AlertEvent:
    """Queued merge-time events take the time of the tick that publishes them."""
    ev = dict(a.evidence)
    ev["duration_s"] = round(t - float(ev["duration_s"]), 3)
    return AlertEvent(**{**{f: getattr(a, f) for f in a.__struct_fields__}, "t": float(t), "evidence": ev})


def _clean(ev: Mapping[str, Any]) -> dict[str, Any]:
    """JSON-safe evidence: floats rounded, NaN/inf as None."""
    out: dict[str, Any] = {}
    for k, v in ev.items():
        if isinstance(v, float):
            out[k] = round(v, 3) if math.isfinite(v) else None
        else:
            out[k] = v
    return out
