// groupctl serve's page: reads /api/groups and /api/groups/{name} and
// draws the groups, their topics, members and partitions, and lag charts in
// SVG. A group's partitions come a page at a time (PAGE of them), so that
// a group of 10,000 partitions stays readable; the Content-Security-Policy
// allows no inline style: styles are set through the DOM.
"use strict";

const PAGE = 100;

// pages holds, per group, the partitions shown: {offset, topic}.
const pages = new Map();

const SVG = "http://www.w3.org/2000/svg";

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  for (const c of children) e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return e;
}

function svg(tag, attrs) {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  return e;
}

function num(n) { return n < 0 ? "unknown" : n.toLocaleString("en-US"); }

function badge(status) { return el("span", { class: "status status-" + status }, status); }

function color(i, n) { return "hsl(" + Math.round((360 * i) / Math.max(n, 1)) + ",65%,45%)"; }

async function getJSON(url) {
  const r = await fetch(url, { cache: "no-store" });
  if (!r.ok) throw new Error(url + ": " + r.status);
  return r.json();
}

// lines are the chart's: a line per partition of a small group, else per
// topic (its total lag).
function lines(d) {
  if (d.history.length > 0) return d.history.map((h) => ({ label: h.topic + "/" + h.partition, points: h.points }));
  return (d.topic_history || []).map((h) => ({ label: h.topic, points: h.points }));
}

// chart draws each line's lag over time.
function chart(history) {
  const W = 640, H = 200, L = 60, B = 22, T = 8, R = 10;
  const s = svg("svg", { class: "chart", width: W, height: H, viewBox: "0 0 " + W + " " + H, role: "img" });
  let t0 = Infinity, t1 = -Infinity, top = 1;
  for (const h of history) for (const [t, v] of h.points) { t0 = Math.min(t0, t); t1 = Math.max(t1, t); top = Math.max(top, v); }
  if (!isFinite(t0)) {
    const t = svg("text", { x: L, y: H / 2 }); t.textContent = "no lag sample yet"; s.append(t); return s;
  }
  if (t1 === t0) t1 = t0 + 1000;
  const x = (t) => L + ((t - t0) / (t1 - t0)) * (W - L - R);
  const y = (v) => H - B - (v / top) * (H - B - T);
  s.append(svg("line", { x1: L, y1: H - B, x2: W - R, y2: H - B, stroke: "#bbb" }));
  s.append(svg("line", { x1: L, y1: T, x2: L, y2: H - B, stroke: "#bbb" }));
  for (const [v, label] of [[0, "0"], [top, num(top)]]) {
    const t = svg("text", { x: L - 6, y: y(v) + 4, "text-anchor": "end" }); t.textContent = label; s.append(t);
  }
  for (const [tt, anchor] of [[t0, "start"], [t1, "end"]]) {
    const t = svg("text", { x: x(tt), y: H - 6, "text-anchor": anchor });
    t.textContent = new Date(tt).toLocaleTimeString(); s.append(t);
  }
  history.forEach((h, i) => {
    if (h.points.length === 0) return;
    const pts = h.points.map(([t, v]) => x(t).toFixed(1) + "," + y(v).toFixed(1)).join(" ");
    const line = svg("polyline", { points: pts, fill: "none", stroke: color(i, history.length), "stroke-width": 1.5 });
    line.dataset.partition = h.label;
    s.append(line);
  });
  return s;
}

function swatch(c) { const i = el("i"); i.style.background = c; return i; }

function statusCounts(st) {
  return el("td", {}, ...Object.entries(st).sort().map(([k, n]) => el("span", { class: "count" }, badge(k), " " + num(n))));
}

function pageURL(group) {
  const p = pages.get(group) || { offset: 0, topic: "" };
  return "api/groups/" + encodeURIComponent(group) + "?limit=" + PAGE + "&offset=" + p.offset +
    (p.topic ? "&topic=" + encodeURIComponent(p.topic) : "");
}

function goTo(group, offset, topic) {
  pages.set(group, { offset: Math.max(0, offset), topic: topic });
  refreshGroup(group);
}

function button(label, enabled, onclick) {
  const b = el("button", { type: "button" }, label);
  b.disabled = !enabled;
  b.addEventListener("click", onclick);
  return b;
}

function groupSection(d) {
  const desc = d.description;
  const sec = el("section", { class: "group", id: "group-" + desc.group, "data-group": desc.group });
  sec.append(el("h2", {}, "Group " + desc.group + " ", badge(d.lag_status.status)));
  sec.append(el("p", { class: "muted" }, "state " + desc.state + " · generation " + desc.generation +
    (desc.strategy ? " · strategy " + desc.strategy : "") + (desc.protocol === "share" ? " · Kafka coordinator, share group: lag as Kafka reports it" : desc.protocol ? " · Kafka coordinator, protocol " + desc.protocol : "") +
    " · total lag " + num(desc.total_lag)));
  if (d.error) sec.append(el("p", { class: "error" }, d.error));

  const page = d.page || { offset: 0, limit: d.partitions.length, total: d.partitions.length, topic: "" };
  const topics = el("tbody");
  for (const t of d.topics || []) {
    const link = el("a", { href: "#group-" + desc.group }, t.topic);
    link.addEventListener("click", (ev) => { ev.preventDefault(); goTo(desc.group, 0, page.topic === t.topic ? "" : t.topic); });
    topics.append(el("tr", { class: "topic" + (page.topic === t.topic ? " selected" : ""), "data-topic": t.topic },
      el("td", {}, link), el("td", { class: "num" }, num(t.partitions)), el("td", { class: "num" }, num(t.total_lag)), statusCounts(t.statuses)));
  }

  const members = el("tbody");
  for (const m of desc.members) {
    const n = (d.owned || {})[m.id] || 0;
    const listed = d.owners[m.id] || [];
    const owned = n === 0 ? "none" : n <= 20 && listed.length === n ? listed.map((tp) => tp.Topic + "/" + tp.Partition).join(", ") : num(n) + " partitions";
    members.append(el("tr", { class: "member", "data-member": m.id }, el("td", {}, m.id), el("td", {}, m.host || "-"),
      el("td", {}, owned)));
  }
  const parts = el("tbody");
  for (const p of d.partitions) {
    parts.append(el("tr", { class: "partition", "data-partition": p.topic + "/" + p.partition },
      el("td", {}, p.topic), el("td", { class: "num" }, p.partition), el("td", { class: "owner" }, p.owner || "-"),
      el("td", { class: "num committed" }, num(p.committed)), el("td", { class: "num logend" }, num(p.log_end)),
      el("td", { class: "num lag" }, num(p.lag)), el("td", { title: p.reason }, badge(p.status))));
  }
  const ls = lines(d);
  const legend = el("div", { class: "legend" });
  ls.forEach((h, i) => legend.append(el("span", {}, swatch(color(i, ls.length)), h.label)));
  sec.append(el("div", { class: "columns" },
    el("div", {}, el("h3", {}, "Topics (" + (d.topics || []).length + ")"),
      el("table", { class: "topics" }, el("thead", {}, el("tr", {}, ...["Topic", "Partitions", "Total lag", "Statuses"].map((h) => el("th", {}, h)))), topics),
      el("h3", {}, "Members (" + desc.members.length + ")"),
      el("table", { class: "members" }, el("thead", {}, el("tr", {}, el("th", {}, "Member"), el("th", {}, "Host"), el("th", {}, "Partitions"))), members)),
    el("div", {}, el("h3", {}, "Lag over time" + (d.history.length === 0 && ls.length > 0 ? " (per topic)" : "")), chart(ls), legend)));
  const first = page.total === 0 ? 0 : page.offset + 1, last = page.offset + d.partitions.length;
  sec.append(el("h3", {}, "Partitions" + (page.topic ? " of " + page.topic : "")));
  if (page.total > PAGE || page.topic) {
    sec.append(el("div", { class: "pager" },
      button("« first", page.offset > 0, () => goTo(desc.group, 0, page.topic)),
      button("‹ previous", page.offset > 0, () => goTo(desc.group, page.offset - PAGE, page.topic)),
      el("span", { class: "range" }, num(first) + "–" + num(last) + " of " + num(page.total)),
      button("next ›", last < page.total, () => goTo(desc.group, page.offset + PAGE, page.topic)),
      button("last »", last < page.total, () => goTo(desc.group, Math.floor((page.total - 1) / PAGE) * PAGE, page.topic)),
      page.topic ? button("all topics", true, () => goTo(desc.group, 0, "")) : ""));
  }
  // A share group's partitions are shared by its members: each has a start
  // offset (where Kafka delivers from) and the lag Kafka reports.
  const share = desc.protocol === "share";
  const heads = ["Topic", "Partition", share ? "Members" : "Owner", share ? "Start offset" : "Committed", "Log end", "Lag", "Status"];
  sec.append(el("table", { class: "partitions" }, el("thead", {}, el("tr", {}, ...heads.map((h) => el("th", {}, h)))), parts));
  return sec;
}

// refreshGroup reads one group again (its page changed) and redraws it.
async function refreshGroup(group) {
  try {
    const d = await getJSON(pageURL(group));
    const old = document.querySelector('section[data-group="' + CSS.escape(group) + '"]');
    if (old) old.replaceWith(groupSection(d));
  } catch (e) {
    document.getElementById("poll").textContent = "cannot read the API: " + e.message;
  }
}

let interval = 2000;

async function refresh() {
  try {
    const list = await getJSON("api/groups");
    interval = Math.max(1000, Math.min(list.poll.interval_ms || 2000, 5000));
    document.getElementById("poll").textContent = "polled " + (list.poll.polls || 0) + " times, last at " +
      new Date(list.poll.time).toLocaleTimeString() + (list.poll.error ? " — " + list.poll.error : "");
    const body = document.querySelector("#groups tbody");
    body.replaceChildren(...list.groups.map((g) => el("tr", { "data-group": g.group },
      el("td", {}, el("a", { href: "#group-" + g.group }, g.group)), el("td", { class: "type" }, g.type || "-"), el("td", {}, g.state || "-"), el("td", { class: "num" }, g.members),
      el("td", { class: "num" }, g.partitions), el("td", { class: "num" }, num(g.total_lag)), el("td", {}, badge(g.status)))));
    const details = await Promise.all(list.groups.map((g) => getJSON(pageURL(g.group)).catch(() => null)));
    document.getElementById("details").replaceChildren(...details.filter((d) => d).map(groupSection));
  } catch (e) {
    document.getElementById("poll").textContent = "cannot read the API: " + e.message;
  }
  setTimeout(refresh, interval);
}

refresh();
