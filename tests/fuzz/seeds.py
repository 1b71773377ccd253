"""Write the seed corpora ``tests/fuzz/corpus/<decoder>/`` from valid payloads: the feeds'
own encoders and the examples of docs/FORMATS.md (site/source set to the fuzz source).

    python tests/fuzz/seeds.py   # rewrites the seed files (they are committed)
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from fuzz_checks import RECV_T, SOURCE

from fusion.actions import ops_topic
from sensors import adsb, ais, oth, radar, sat
from sensors.reports import (
    AdsbReport,
    AisPosition,
    AisStatic,
    OthFix,
    RadarPlot,
    RadarScan,
    SatDetection,
    SatScene,
)

CORPUS = Path(__file__).parent / "corpus"

REAL_AIS = [  # real sentences (AMSA stream, tests/property/test_decoder_fuzz.py), a two-part type 5 last
    b"!ABVDM,1,1,6,B,1G7lQJ001PbomTie:ms2sR@40000,0*34",
    b"!AIVDM,1,1,,A,17P@<J?P00blFWmjG@5a5?v62<10,0*27",
    b"!ABVDM,1,1,8,B,377:pu1001bnVfQe2ON5j1h20000,0*15",
    b"!AIVDO,1,1,,,B000000002EgKjv=lCL03wQ5wP06,0*0F",
    (b"!AIVDM,2,1,1,A,55?MbV02;H;s<HtKR20EHE:0@T4@Dn2222222216L961O5Gf0NSQEp6ClRp8,0*1C\r\n"
     b"!AIVDM,2,2,1,A,88888888880,2*25"),
]
SBS_DOC = (b"MSG,1,1,1,A1B2C3,1,2023/11/14,22:13:19.500,2023/11/14,22:13:19.500,N123AB,,,,,,,,,,,\n"
           b"MSG,3,1,1,A1B2C3,1,2023/11/14,22:13:19.500,2023/11/14,22:13:19.500,,4500,,,18.432100,-66.101200,,,,,,\n"
           b"MSG,4,1,1,A1B2C3,1,2023/11/14,22:13:19.500,2023/11/14,22:13:19.500,,,140.5,271.5,,,-512,,,,,\n")
AIRCRAFT_DOC = (b'{"now":1700000000.0,"messages":1,"aircraft":[{"hex":"a1b2c3","flight":"N123AB  ","alt_baro":4500,'
                b'"gs":140.5,"track":271.5,"baro_rate":-512,"lat":18.4321,"lon":-66.1012,"nac_p":9,"seen_pos":0.5}]}')
RADAR_DOC = (b'{"site":"rx","t":1700000000.0,"sensor_lat":18.05,"sensor_lon":-67.1,"sensor_alt_m":4500.0,'
             b'"sigma_range_m":50.0,"sigma_az_deg":0.25,"sigma_el_deg":null,"mode":"surface","scan_id":812,'
             b'"sensor_heading_deg":null,"sensor_speed_mps":null,'
             b'"plots":[[48210.5,211.3,null,13.2],[102340.0,14.9,null,null]]}')
OTH_DOC = (b'{"site":"rx","t":1700000000.0,"lat":14.2,"lon":-74.8,'
           b'"cov_en_m2":[[225000000.0,30000000.0],[30000000.0,100000000.0]],"speed_mps":18.0,"course_deg":20.0}')
SAT_DOC = (b'{"source":"rx","sensor":"sar","acq_time":1699999000.0,"detections":['
           b'{"lat":13.165184,"lon":-78.634995,"pos_err_m":60.0,"length_m":43.8,"confidence":0.824},'
           b'{"lat":13.41,"lon":-78.02,"pos_err_m":60.0,"length_m":null,"confidence":0.93}]}')
ACTION_DOC = b'{"alert_id":"go_fast-2-0","action":"acknowledge","by":"watch-1","why":"cutter tasked","t":1710396370.0}'


def _payloads() -> dict[str, list[bytes]]:
    """Valid payloads per feed (decoders' names as in fuzz_checks.CHECKS)."""
    positions = [AisPosition(t=RECV_T - 5.0, source=SOURCE, mmsi=211000000 + i, lat=10.0 + i / 100, lon=-70.0,
                             sog_mps=5.0, cog_deg=90.0, heading_deg=91.0, msg_type=(1, 18, 3)[i % 3])
                 for i in range(3)]
    statics = [AisStatic(t=RECV_T - 5.0, source=SOURCE, mmsi=211000001, name="FUZZ ONE", callsign="FZ1",
                         ship_type=30, msg_type=m) for m in (5, 24)]
    aircraft = [AdsbReport(t=RECV_T - 1.0, source=SOURCE, icao24=0xA00000 + i, lat=18.0 + i, lon=-66.0,
                           alt_m=3000.0, gs_mps=120.0, track_deg=45.0, vrate_mps=2.0, nac_p=8, callsign="N1")
                for i in range(2)]
    scan = RadarScan(site=SOURCE, t=RECV_T, sensor_lat=18.0, sensor_lon=-66.0, sensor_alt_m=50.0,
                     sigma_range_m=25.0, sigma_az_deg=0.2, sigma_el_deg=0.5, mode="air", scan_id=3,
                     max_range_m=2e5, plots=[RadarPlot(range_m=1000.0 * (i + 1), az_deg=17.0 * i,
                                                       el_deg=(None, 0.5)[i % 2], snr_db=12.0) for i in range(4)])
    fix = OthFix(site=SOURCE, t=RECV_T, lat=12.0, lon=-78.0, cov_en_m2=((2e8, 1e7), (1e7, 1e8)),
                 speed_mps=8.0, course_deg=10.0)
    scene = SatScene(source=SOURCE, sensor="viirs", acq_time=RECV_T - 5400.0, detections=[
        SatDetection(lat=12.0 + i / 10, lon=-78.0, pos_err_m=60.0, length_m=(None, 35.0)[i % 2], confidence=0.8)
        for i in range(2)])
    radar_seeds = [radar.encode(scan), RADAR_DOC]
    return {
        "ais": [*REAL_AIS, ais.encode_payload(positions), ais.encode_payload(statics)],
        "adsb": [adsb.encode_sbs(aircraft), adsb.encode_aircraft_json(RECV_T, aircraft), SBS_DOC, AIRCRAFT_DOC],
        "radar": radar_seeds,
        "radar_arrays": radar_seeds,
        "oth": [oth.encode(fix), OTH_DOC],
        "sat": [sat.encode(scene), SAT_DOC],
        "actions": [ops_topic("acknowledge", "go_fast-2-0").encode() + b"\n" + ACTION_DOC,
                    ops_topic("dismiss", "a").encode() + b'\n{"alert_id":"a","action":"dismiss","by":"b","t":1.5}'],
    }


def seeds() -> dict[str, list[bytes]]:
    """Seed inputs per decoder; the ingest harness gets every feed payload behind its topic line."""
    out = _payloads()
    out["ingest"] = [f"jisf/v1/feeds/{kind}/{SOURCE}".encode() + b"\n" + p
                     for kind in ("ais", "adsb", "radar", "oth", "sat") for p in out[kind]]
    return out


def main() -> None:
    for name, inputs in seeds().items():
        folder = CORPUS / name
        folder.mkdir(parents=True, exist_ok=True)
        for data in inputs:
            (folder / f"seed-{hashlib.sha1(data).hexdigest()[:12]}").write_bytes(data)


if __name__ == "__main__":
    main()
