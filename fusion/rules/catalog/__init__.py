"""The rule catalog: one module per rule, each holding one ``Rule`` class (``catalog.base``) with its parameters,
vectorised evaluation, reason text, zone queries and state. ``CATALOG`` is the registry: the rules file's
``[rules.*]`` sections, the engine's evaluation order (alert events of a tick come in this order) and its
snapshot follow it. Adding a rule is adding its module and its class here."""

from __future__ import annotations

from fusion.rules.catalog.ais_gap import AisGap
from fusion.rules.catalog.ais_spoofing import AisSpoofing
from fusion.rules.catalog.base import Rule
from fusion.rules.catalog.dark_vessel import DarkVessel
from fusion.rules.catalog.go_fast import GoFast
from fusion.rules.catalog.landing_approach import LandingApproach
from fusion.rules.catalog.loitering import Loitering
from fusion.rules.catalog.noncoop_transit import NoncoopTransit
from fusion.rules.catalog.rendezvous import Rendezvous
from fusion.rules.catalog.suspect_aircraft import SuspectAircraft
from fusion.rules.catalog.zone import ZoneDwell, ZoneEntry

CATALOG: tuple[type[Rule], ...] = (
    ZoneEntry, ZoneDwell, GoFast, DarkVessel, NoncoopTransit, AisGap, AisSpoofing, Rendezvous, Loitering, SuspectAircraft,
    LandingApproach,
)
