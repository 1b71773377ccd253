"""Alerts name their zone; operator actions are recorded on alerts, republished and carried."""

from __future__ import annotations

import numpy as np

from fusion.actions import OperatorAction
from fusion.core.arrays import TrackView
from fusion.rules.engine import RuleEngine
from fusion.rules.synthetic import FRAME, KN, box, empty, engine, rules, view, zone_set

T0 = 1_700_013_600.0
GO_FAST = rules({"rules": {"go_fast": {"min_on_s": 0.0, "min_off_s": 0.0, "speed_kn": 30.0, "clear_speed_kn": 20.0}}})
# listed first: an EEZ holding everything; then a transit corridor holding the boats at lon -75
ZONES = zone_set(box("big-eez", "eez", -80.0, 10.0, -70.0, 20.0),
                 box("windward-corridor", "transit_corridor", -75.5, 14.5, -74.5, 15.5))


def boat(t: float, speed_kn: float, lon: float = -75.0, track_id: int = 4) -> dict[str, TrackView]:
    return {"surface": view("surface", t, [15.0], [lon], [(speed_kn * KN, 0.0)], ids=[track_id]), "air": empty("air", t)}


def act(alert_id: str, action: str = "acknowledge", by: str = "watch-1", why: str = "seen", t: float = T0) -> OperatorAction:
    return OperatorAction(alert_id=alert_id, action=action, by=by, why=why, t=t)  # type: ignore[arg-type]


def test_go_fast_inside_a_corridor_names_that_corridor_before_other_zones() -> None:
    eng = engine(ZONES, GO_FAST)
    raised = eng.evaluate(T0, boat(T0, 45.0))
    assert [(a.rule, a.state, a.zone) for a in raised] == [("go_fast", "raised", "windward-corridor")]
    # outside the corridor: the zone holding it (the EEZ); outside every zone: none
    assert engine(ZONES, GO_FAST).evaluate(T0, boat(T0, 45.0, lon=-72.0))[0].zone == "big-eez"
    assert engine(zone_set(), GO_FAST).evaluate(T0, boat(T0, 45.0))[0].zone is None
    cleared = eng.evaluate(T0 + 10, {"surface": empty("surface", T0 + 10), "air": empty("air", T0 + 10)})
    assert [(a.state, a.zone) for a in cleared] == [("cleared", None)]  # track gone: no position to place


def test_acknowledge_republishes_the_alert_with_ops_and_later_events_carry_them() -> None:
    eng = engine(ZONES, GO_FAST)
    (raised,) = eng.evaluate(T0, boat(T0, 31.0))
    assert raised.ops == []
    events, rejects = eng.apply_actions(T0 + 5, [act(raised.alert_id, why="tasking a cutter")])
    assert rejects == []
    (ev,) = events
    assert (ev.alert_id, ev.state, ev.t, ev.reason) == (raised.alert_id, "updated", T0 + 5, raised.reason)
    assert [(o.action, o.by, o.why, o.t) for o in ev.ops] == [("acknowledge", "watch-1", "tasking a cutter", T0)]
    (later,) = eng.evaluate(T0 + 70, boat(T0 + 70, 39.0))  # a material change: an update, still carrying the ack
    assert later.state == "updated" and [o.action for o in later.ops] == ["acknowledge"]
    (gone,) = eng.evaluate(T0 + 80, boat(T0 + 80, 10.0))
    assert gone.state == "cleared" and [o.action for o in gone.ops] == ["acknowledge"]
    assert eng.last == {} and eng.ops == {}  # nothing kept for closed alerts


def test_dismissed_alert_is_silent_until_it_clears_and_a_new_onset_raises_a_new_alert() -> None:
    eng = engine(ZONES, GO_FAST)
    (raised,) = eng.evaluate(T0, boat(T0, 31.0))
    (ev,), _ = eng.apply_actions(T0 + 5, [act(raised.alert_id, "dismiss", why="known fast ferry")])
    assert ev.state == "updated" and ev.ops[-1].action == "dismiss"
    assert eng.evaluate(T0 + 70, boat(T0 + 70, 39.0)) == []  # would have been an update
    assert eng.evaluate(T0 + 140, boat(T0 + 140, 31.0)) == []  # same onset: not raised again
    (cleared,) = eng.evaluate(T0 + 150, boat(T0 + 150, 10.0))
    assert (cleared.alert_id, cleared.state, cleared.ops[-1].action) == (raised.alert_id, "cleared", "dismiss")
    (again,) = eng.evaluate(T0 + 160, boat(T0 + 160, 45.0))  # a new onset after the clear
    assert again.state == "raised" and again.alert_id != raised.alert_id and again.ops == []


def test_actions_on_unknown_or_closed_alerts_and_repeats_are_rejected() -> None:
    eng = engine(ZONES, GO_FAST)
    (raised,) = eng.evaluate(T0, boat(T0, 31.0))
    once = act(raised.alert_id)
    events, rejects = eng.apply_actions(T0 + 5, [act("go_fast-99-99"), once, once])
    assert len(events) == 1
    assert [(e.field, e.value) for e in rejects] == [("alert_id", "go_fast-99-99"), ("payload", raised.alert_id)]
    assert "no open alert" in str(rejects[0]) and "repeats" in str(rejects[1])


def test_actions_survive_snapshot_and_restore() -> None:
    eng = engine(ZONES, GO_FAST)
    (raised,) = eng.evaluate(T0, boat(T0, 31.0))
    eng.apply_actions(T0 + 5, [act(raised.alert_id, "dismiss")])
    snap = eng.snapshot()
    back = RuleEngine.restore(ZONES, GO_FAST, FRAME, snap)
    assert back.ops == eng.ops and back.last == eng.last
    assert back.evaluate(T0 + 70, boat(T0 + 70, 39.0)) == []  # still dismissed: silent
    (ack,), _ = back.apply_actions(T0 + 75, [act(raised.alert_id, by="watch-2")])
    assert [o.by for o in ack.ops] == ["watch-1", "watch-2"]


def test_action_after_a_merge_republishes_the_alert_on_the_surviving_track() -> None:
    eng = engine(ZONES, GO_FAST)
    (raised,) = eng.evaluate(T0, boat(T0, 31.0, track_id=4))
    eng.on_merge(np.array([[4, 9]]))
    assert eng.evaluate(T0 + 10, boat(T0 + 10, 31.0, track_id=9)) == []
    (ev,), _ = eng.apply_actions(T0 + 12, [act(raised.alert_id)])
    assert (ev.alert_id, ev.track_id, ev.state) == (raised.alert_id, 9, "updated")
