// jisf live picture: a Leaflet map with no tile layer, fed by /api/stream (Server-Sent Events).
// Plain script, no build step. Stable hooks for tests: .track-marker[data-track-id],
// #alert-list .alert-row[data-alert-id], button.ack, button.dismiss, path.history-line.
"use strict";

const VECTOR_S = 600;          // course vector: velocity x 10 minutes
const TRAIL_POINTS = 20;       // short trail per track
const LABEL_MIN_ZOOM = 7;      // labels of all tracks from this zoom; below, only suspect tracks' labels
const M_PER_DEG = 111320;
const STATUS_COLOUR = { tentative: "#8c96a0", confirmed: "#1f5fa8", coasting: "#d08a1c" };
const SUSPECT_COLOUR = "#d62728";

const map = L.map("map", { attributionControl: false, preferCanvas: false, worldCopyJump: true }).setView([14, -76], 5);
L.control.scale({ imperial: false }).addTo(map);
const landLayer = L.geoJSON(null, { style: { color: "#8a7d5f", weight: 0.6, fillColor: "#e9e2cc", fillOpacity: 1 }, interactive: false }).addTo(map);
const zonesLayer = L.geoJSON(null, {
  style: () => ({ color: "#7b3fa0", weight: 1.5, dashArray: "6 4", fillOpacity: 0.06, className: "zone" }),
  onEachFeature: (f, layer) => layer.bindTooltip(`${f.properties.name} (${f.properties.kind})`),
}).addTo(map);
const sensorsLayer = L.layerGroup().addTo(map);
const trailsLayer = L.layerGroup().addTo(map);
const historyLayer = L.layerGroup().addTo(map);
const tracksLayer = L.layerGroup().addTo(map);
L.control.layers(null, { land: landLayer, zones: zonesLayer, sensors: sensorsLayer, trails: trailsLayer }).addTo(map);

const tracks = new Map();   // track_id -> {row, marker, vector, trail, points}
const alerts = new Map();   // alert_id -> alert (latest event + actions)
const alertRows = new Map(); // alert_id -> row element
let selected = null;

const $ = (sel) => document.querySelector(sel);
const fmtTime = (t) => (t ? new Date(t * 1000).toISOString().replace("T", " ").slice(0, 19) + "Z" : "-");
const el = (tag, cls, text) => { const e = document.createElement(tag); if (cls) e.className = cls; if (text !== undefined) e.textContent = text; return e; };

// ---- identity and symbols ---------------------------------------------------------------
function trackLabel(r) {
  return r.name || r.callsign || (r.mmsi ? `MMSI ${r.mmsi}` : "") || (r.icao24 ? r.icao24.toUpperCase() : "") || `#${r.track_id}`;
}

function courseDeg(r) { return (Math.atan2(r.vel_e_mps || 0, r.vel_n_mps || 0) * 180 / Math.PI + 360) % 360; }

function trackIcon(r) {
  const colour = r.suspect ? SUSPECT_COLOUR : (STATUS_COLOUR[r.status] || "#444");
  const shape = r.domain === "air"
    ? "M0,-9 L2,-3 L9,1 L9,3 L2,1 L1.5,6 L4,8 L4,9 L0,8 L-4,9 L-4,8 L-1.5,6 L-2,1 L-9,3 L-9,1 L-2,-3 Z"  // aircraft
    : "M0,-9 L5,-2 L5,8 L-5,8 L-5,-2 Z";                                                           // ship hull
  const dash = r.status === "tentative" ? ' stroke-dasharray="2 2"' : "";
  const html = `<svg width="22" height="22" viewBox="-11 -11 22 22"><path d="${shape}" transform="rotate(${courseDeg(r).toFixed(0)})"
    fill="${colour}" fill-opacity="${r.status === "coasting" ? 0.45 : 0.9}" stroke="#111" stroke-width="0.8"${dash}/></svg>`;
  return L.divIcon({ className: "track-marker", html, iconSize: [22, 22], iconAnchor: [11, 11] });
}

function decorate(t) {  // data- attributes on the marker's element (Leaflet replaces it on setIcon)
  const e = t.marker.getElement();
  if (!e) return;
  const r = t.row;
  Object.assign(e.dataset, { trackId: r.track_id, domain: r.domain, status: r.status, suspect: r.suspect ? "true" : "false" });
  e.classList.toggle("suspect", !!r.suspect);
}

function vectorEnd(r) {
  const dlat = (r.vel_n_mps || 0) * VECTOR_S / M_PER_DEG;
  const dlon = (r.vel_e_mps || 0) * VECTOR_S / (M_PER_DEG * Math.max(0.01, Math.cos(r.lat * Math.PI / 180)));
  return [r.lat + dlat, r.lon + dlon];
}

// ---- tracks -------------------------------------------------------------------------------
function upsertTrack(r) {
  let t = tracks.get(r.track_id);
  const pos = [r.lat, r.lon];
  if (!t) {
    t = { row: r, points: (r.trail || []).slice(-TRAIL_POINTS) };
    t.marker = L.marker(pos, { icon: trackIcon(r), keyboard: false }).addTo(tracksLayer);
    t.marker.on("click", () => selectTrack(r.track_id));
    t.marker.bindTooltip(trackLabel(r), { permanent: true, direction: "right", offset: [10, 0], className: "track-label-tip" });
    t.vector = L.polyline([pos, vectorEnd(r)], { color: "#222", weight: 1, interactive: false, className: "course-vector" }).addTo(trailsLayer);
    t.trail = L.polyline(t.points, { color: "#555", weight: 1, opacity: 0.6, interactive: false, className: "trail" }).addTo(trailsLayer);
    tracks.set(r.track_id, t);
  } else {
    const restyle = t.row.status !== r.status || t.row.suspect !== r.suspect || Math.abs(courseDeg(t.row) - courseDeg(r)) > 2 || t.row.domain !== r.domain;
    t.row = r;
    t.marker.setLatLng(pos);
    if (restyle) t.marker.setIcon(trackIcon(r));
    t.marker.setTooltipContent(trackLabel(r));
    t.vector.setLatLngs([pos, vectorEnd(r)]);
  }
  const last = t.points[t.points.length - 1];
  if (!last || last[0] !== r.lat || last[1] !== r.lon) t.points.push(pos);
  if (t.points.length > TRAIL_POINTS) t.points.splice(0, t.points.length - TRAIL_POINTS);
  t.trail.setLatLngs(t.points);
  decorate(t);
  showLabel(t);
  if (selected === r.track_id) showDetails(r);
}

function removeTrack(id) {
  const t = tracks.get(id);
  if (!t) return;
  tracksLayer.removeLayer(t.marker);
  trailsLayer.removeLayer(t.vector);
  trailsLayer.removeLayer(t.trail);
  tracks.delete(id);
}

function showLabel(t) {
  const tip = t.marker.getTooltip();
  const on = t.row.suspect || map.getZoom() >= LABEL_MIN_ZOOM;
  if (tip && tip.getElement()) tip.getElement().style.display = on ? "" : "none";
}
map.on("zoomend", () => tracks.forEach(showLabel));

async function selectTrack(id) {
  selected = id;
  const t = tracks.get(id);
  if (t) showDetails(t.row);
  historyLayer.clearLayers();
  const resp = await fetch(`/api/tracks/${id}/history`);
  if (!resp.ok || selected !== id) return;
  const h = await resp.json();
  const line = h.points.filter((p) => p.lat != null && p.lon != null).map((p) => [p.lat, p.lon]);
  L.polyline(line, { color: "#ff7f0e", weight: 3, className: "history-line" }).addTo(historyLayer);
  $("#track-details").dataset.historySource = h.source;
  $("#track-details").dataset.historyPoints = String(line.length);
}

function showDetails(r) {
  const box = $("#track-details");
  box.hidden = false;
  box.dataset.trackId = r.track_id;
  box.querySelector(".track-label").textContent = trackLabel(r);
  const speed = Math.hypot(r.vel_e_mps || 0, r.vel_n_mps || 0);
  const rows = [
    ["track id", r.track_id], ["domain", r.domain], ["status", r.status + (r.suspect ? " (open alert)" : "")],
    ["name", r.name], ["callsign", r.callsign], ["MMSI", r.mmsi], ["ICAO", r.icao24], ["ship type", r.ship_type],
    ["flag", r.flag || r.country], ["position", `${r.lat.toFixed(4)}, ${r.lon.toFixed(4)}`],
    ["altitude", r.alt_m != null ? `${Math.round(r.alt_m)} m` : null],
    ["speed / course", `${(speed * 1.943844).toFixed(1)} kn / ${courseDeg(r).toFixed(0)} deg`],
    ["sources", (r.sources || []).join(", ")], ["time", fmtTime(r.t)],
  ];
  const table = box.querySelector("table.fields");
  table.replaceChildren(...rows.filter(([, v]) => v !== null && v !== undefined && v !== "").map(([k, v]) => {
    const tr = el("tr");
    tr.append(el("td", "", k), el("td", `field-${k.replace(/\W+/g, "-")}`, String(v)));
    return tr;
  }));
}
$("#close-details").addEventListener("click", () => { selected = null; $("#track-details").hidden = true; historyLayer.clearLayers(); });

// ---- alerts -------------------------------------------------------------------------------
const rankKey = (a) => [a.state === "cleared" ? 1 : 0, -(a.priority || 0), -(a.t || 0)];
function compareAlerts(a, b) {
  const ka = rankKey(a), kb = rankKey(b);
  for (let i = 0; i < ka.length; i++) if (ka[i] !== kb[i]) return ka[i] - kb[i];
  return 0;
}

function actionsText(a) {
  const done = [...(a.actions || [])];
  if (a.ops && typeof a.ops === "object") done.push(...(Array.isArray(a.ops) ? a.ops : [a.ops]));
  return done.map((x) => `${x.action || x.state || "action"} by ${x.by || "?"}${x.why ? `: ${x.why}` : ""}`).join("; ");
}

function fillAlertRow(row, a) {
  Object.assign(row.dataset, { alertId: a.alert_id, state: a.state, rule: a.rule, severity: a.severity, trackId: a.track_id });
  const t = tracks.get(a.track_id);
  const who = a.name || (t && trackLabel(t.row)) || (a.mmsi ? `MMSI ${a.mmsi}` : "") || (a.icao24 ? a.icao24.toUpperCase() : "") || `#${a.track_id}`;
  row.querySelector(".head .rule").textContent = `${a.rule} · ${a.severity} · ${a.state}`;
  row.querySelector(".head .priority").textContent = `p ${Number(a.priority || 0).toFixed(2)}`;
  row.querySelector(".reason").textContent = `${who}: ${a.reason || ""}`;
  row.querySelector(".meta").textContent = `${fmtTime(a.t)}${a.zone ? ` · zone ${a.zone}` : ""} · ${a.alert_id}`;
  row.querySelector("pre.evidence").textContent = JSON.stringify(a.evidence || {}, null, 1);
  row.querySelector(".actions-done").textContent = actionsText(a);
}

function makeAlertRow(a) {
  const row = el("div", "alert-row");
  const head = el("div", "head");
  head.append(el("span", "rule"), el("span", "priority"));
  head.addEventListener("click", () => {
    const cur = alerts.get(row.dataset.alertId);
    if (cur) { map.setView([cur.lat, cur.lon], map.getZoom(), { animate: false }); if (tracks.has(cur.track_id)) selectTrack(cur.track_id); }
  });
  const details = el("details");
  details.append(el("summary", "", "evidence"), el("pre", "evidence"));
  const buttons = el("div", "buttons");
  const why = el("input", "why");
  why.placeholder = "why (optional)";
  const ack = el("button", "ack", "acknowledge");
  const dismiss = el("button", "dismiss", "dismiss");
  buttons.append(why, ack, dismiss);
  ack.addEventListener("click", () => postAction(row, "ack"));
  dismiss.addEventListener("click", () => postAction(row, "dismiss"));
  row.append(head, el("div", "reason"), el("div", "meta"), details, el("div", "actions-done"), buttons, el("div", "action-status"));
  return row;
}

async function postAction(row, verb) {
  const status = row.querySelector(".action-status");
  const body = { why: row.querySelector("input.why").value, by: $("#operator").value || undefined };
  status.textContent = "sending...";
  try {
    const resp = await fetch(`/api/alerts/${encodeURIComponent(row.dataset.alertId)}/${verb}`, {
      method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
    const out = await resp.json();
    status.textContent = resp.ok ? `${out.published.action} sent` : `failed: ${out.error}`;
    row.dataset.sent = resp.ok ? out.published.action : "";
  } catch (err) {
    status.textContent = `failed: ${err}`;
  }
}

function upsertAlert(a) {
  alerts.set(a.alert_id, a);
  const ruleSel = $("#filter-rule");
  if (![...ruleSel.options].some((o) => o.value === a.rule)) ruleSel.append(new Option(a.rule, a.rule));
}

function alertVisible(a) {
  const rule = $("#filter-rule").value, state = $("#filter-state").value, sev = $("#filter-severity").value;
  return (!rule || a.rule === rule) && (!sev || a.severity === sev)
    && (!state || (state === "open" ? a.state !== "cleared" : a.state === state));
}

function renderAlerts() {
  const list = $("#alert-list");
  const shown = [...alerts.values()].filter(alertVisible).sort(compareAlerts);
  const keep = new Set(shown.map((a) => a.alert_id));
  for (const [id, row] of alertRows) if (!keep.has(id)) { row.remove(); alertRows.delete(id); }
  shown.forEach((a, i) => {
    let row = alertRows.get(a.alert_id);
    if (!row) { row = makeAlertRow(a); alertRows.set(a.alert_id, row); }
    fillAlertRow(row, a);
    if (list.children[i] !== row) list.insertBefore(row, list.children[i] || null);  // moves only rows out of place
  });
}
["#filter-rule", "#filter-state", "#filter-severity"].forEach((s) => $(s).addEventListener("change", renderAlerts));

// ---- live stream --------------------------------------------------------------------------
function updateCounts() {
  const open = [...alerts.values()].filter((a) => a.state !== "cleared").length;
  $("#counts").textContent = `${tracks.size} tracks · ${open} open alerts`;
}

function applySnapshot(s) {
  [...tracks.keys()].forEach(removeTrack);
  alerts.clear();
  (s.alerts || []).forEach(upsertAlert);
  (s.tracks || []).forEach(upsertTrack);
  renderAlerts();
  updateCounts();
}

function applyUpdate(u) {
  (u.alerts || []).forEach(upsertAlert);
  (u.deleted || []).forEach(removeTrack);
  (u.tracks || []).forEach(upsertTrack);
  if ((u.alerts || []).length) renderAlerts();
  updateCounts();
}

function connect() {
  const conn = $("#conn");
  const es = new EventSource("/api/stream");
  es.addEventListener("snapshot", (e) => { conn.dataset.state = "live"; conn.textContent = "live"; applySnapshot(JSON.parse(e.data)); });
  es.addEventListener("update", (e) => applyUpdate(JSON.parse(e.data)));
  es.onerror = () => { conn.dataset.state = "lost"; conn.textContent = "reconnecting"; };  // EventSource retries by itself
}

// ---- static layers ------------------------------------------------------------------------
async function loadLayers() {
  const [zones, sensors] = await Promise.all([fetch("/api/zones").then((r) => r.json()), fetch("/api/sensors").then((r) => r.json())]);
  zonesLayer.addData(zones);
  for (const f of sensors.features) {
    const p = f.properties;
    const style = { color: "#2a9d8f", weight: 1, fillOpacity: 0.03, dashArray: "3 5", interactive: false, className: "sensor-coverage" };
    if (f.geometry.type === "Point") {
      const [lon, lat] = f.geometry.coordinates;
      L.circleMarker([lat, lon], { radius: 4, color: "#2a9d8f", fillOpacity: 1, className: "sensor-site" })
        .bindTooltip(`${p.id} (${p.kind})`).addTo(sensorsLayer);
      if (p.range_m) L.circle([lat, lon], { ...style, radius: p.range_m }).addTo(sensorsLayer);
    } else if (f.geometry.type === "LineString") {
      L.polyline(f.geometry.coordinates.map(([lon, lat]) => [lat, lon]), { ...style, dashArray: "1 4", className: "sensor-route" })
        .bindTooltip(`${p.id} (${p.kind}) route`).addTo(sensorsLayer);
    }
  }
  const bounds = L.featureGroup([zonesLayer, ...sensorsLayer.getLayers()]).getBounds();
  if (bounds.isValid()) map.fitBounds(bounds, { maxZoom: 9, padding: [20, 20], animate: false });
}

let coastTimer = null, coastAvailable = true, coastSeq = 0;
async function loadCoast() {
  if (!coastAvailable) return;
  const b = map.getBounds().pad(0.3);
  const clamp = (v, lo, hi) => Math.min(hi, Math.max(lo, v));
  const bbox = [clamp(b.getWest(), -180, 179.9), clamp(b.getSouth(), -90, 89.9), clamp(b.getEast(), -179.9, 180), clamp(b.getNorth(), -89.9, 90)]
    .map((v) => v.toFixed(3)).join(",");
  const seq = ++coastSeq;
  const resp = await fetch(`/api/coastline?bbox=${bbox}`);
  if (resp.status === 503) { coastAvailable = false; $("#coast-note").textContent = "no coastline data"; return; }
  if (!resp.ok || seq !== coastSeq) return;
  const land = await resp.json();
  if (seq !== coastSeq) return;
  landLayer.clearLayers();
  landLayer.addData(land);
}
map.on("moveend", () => { clearTimeout(coastTimer); coastTimer = setTimeout(loadCoast, 250); });

const operator = $("#operator");
operator.value = localStorage.getItem("jisf-operator") || "";
operator.addEventListener("change", () => localStorage.setItem("jisf-operator", operator.value));

loadLayers().finally(() => { loadCoast(); connect(); });
