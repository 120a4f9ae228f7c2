// The live page of chaoslab: it shows what the server sends on /events and posts the buttons.
// Every text that comes from the run is set with textContent, never parsed as markup; the chart
// is an SVG the server renders with report.html's own code, parsed as XML and swapped in.
"use strict";
(() => {
  const MAX_LOG = 100;
  const $ = (id) => document.getElementById(id);
  const setText = (id, s) => { const el = $(id); if (el) el.textContent = s == null ? "" : String(s); };

  function el(tag, cls, txt) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (txt != null) e.textContent = String(txt);
    return e;
  }

  function setInfo(info) {
    if (!info) return;
    setText("title", info.title);
    document.title = info.title + " · chaoslab live";
    const parts = ["chaoslab live"];
    if (info.label) parts.push(info.label);
    if (info.stack) parts.push(info.stack + " stack");
    if (info.resilience) parts.push("resilience " + info.resilience);
    if (info.rps) parts.push(info.rps + " requests/s");
    setText("sub", parts.join(" · "));
  }

  function setStatus(st) {
    if (!st) return;
    setText("phase", st.phase || "—");
    const b = $("breaker");
    b.textContent = st.breaker || "—";
    b.dataset.state = st.breaker || "";
    const f = $("fault");
    if (st.fault) {
      f.textContent = st.fault.kind || "fault";
      f.dataset.state = "on";
      setText("fault-detail", (st.fault.detail ? st.fault.detail + ", " : "") + "since " + st.fault.since);
    } else {
      f.textContent = "none";
      f.dataset.state = "off";
      setText("fault-detail", "");
    }
  }

  function setCounters(c) {
    if (!c) return;
    setText("count-requests", c.requests);
    setText("count-answered", c.answered);
    setText("count-fallback", c.fallback);
    setText("count-errors", c.errors);
    setText("pct-answered", c.pct_answered);
    setText("pct-fallback", c.pct_fallback);
    setText("pct-errors", c.pct_errors);
    setText("amplification", c.amplification);
  }

  // drawSVG swaps the SVG the server rendered into the element id.
  function drawSVG(id, svg) {
    if (!svg) return;
    const doc = new DOMParser().parseFromString(svg, "image/svg+xml");
    const root = doc.documentElement;
    if (root.localName !== "svg" || doc.getElementsByTagName("parsererror").length > 0) return;
    for (const s of root.querySelectorAll("script, foreignObject")) s.remove();
    $(id).replaceChildren(document.importNode(root, true));
  }

  function setChart(svg) { drawSVG("chart", svg); }

  // setCapacity shows the goodput and capacity chart, or hides it while the run has none.
  function setCapacity(svg) {
    $("capacity").hidden = !svg;
    if (svg) drawSVG("capacity-chart", svg);
    else $("capacity-chart").replaceChildren();
  }

  function activityItem(a) {
    const li = el("li");
    li.dataset.index = String(a.index);
    li.dataset.status = a.status;
    li.append(el("time", null, a.start), el("span", "name", a.name), el("span", "phase", a.phase),
      el("span", "state", a.end ? a.status + " " + a.end : a.status));
    if (a.error) li.append(el("span", "error", a.error));
    return li;
  }

  function setActivity(a) {
    const list = $("activities");
    const item = activityItem(a);
    for (const li of list.children) {
      if (li.dataset.index === String(a.index)) { li.replaceWith(item); return; }
    }
    list.append(item);
  }

  function addLog(l) {
    const list = $("log");
    const li = el("li", l.kind);
    li.append(el("time", null, l.at), el("span", "msg", l.text));
    if (l.detail) li.append(el("span", "detail", l.detail));
    list.append(li);
    while (list.children.length > MAX_LOG) list.firstElementChild.remove();
    list.scrollTop = list.scrollHeight;
  }

  function setDone(d) {
    const box = $("done");
    if (!d) { box.hidden = true; return; }
    box.hidden = false;
    box.classList.toggle("ok", !!d.passed);
    box.classList.toggle("bad", !d.passed);
    setText("verdict", d.verdict);
    const a = $("report-link");
    if (d.report && d.report.startsWith("/results/")) {
      a.setAttribute("href", d.report);
      a.hidden = false;
      setText("report-path", "");
    } else {
      a.removeAttribute("href");
      a.hidden = true;
      setText("report-path", d.path);
    }
  }

  function setLastRecord(list) {
    const r = list[list.length - 1];
    if (!r) return;
    let s = "last request #" + r.id + " at " + r.at + ": " + r.source + ", status " + r.status + ", " + r.latency;
    if (r.error) s += ": " + r.error;
    setText("last-record", s);
  }

  function snapshot(s) {
    setInfo(s.info);
    setStatus(s.status);
    setCounters(s.counters);
    $("activities").replaceChildren(...(s.activities || []).map(activityItem));
    $("log").replaceChildren();
    for (const l of s.log || []) addLog(l);
    if (s.chart) setChart(s.chart);
    setCapacity(s.capacity_chart);
    setDone(s.done);
  }

  function onEvent(m) {
    setStatus(m.status);
    if (m.activity) setActivity(m.activity);
    if (m.log) addLog(m.log);
  }

  function connect() {
    const conn = $("conn");
    const es = new EventSource("/events");
    const on = (type, f) => es.addEventListener(type, (e) => f(JSON.parse(e.data)));
    on("snapshot", snapshot);
    on("event", onEvent);
    on("record", setLastRecord);
    on("chart", (m) => { setChart(m.svg); setCapacity(m.capacity); });
    on("counters", setCounters);
    on("done", setDone);
    es.onopen = () => { conn.textContent = "live"; conn.dataset.state = "live"; };
    es.onerror = () => { conn.textContent = "reconnecting…"; conn.dataset.state = "reconnecting"; };
  }

  function showResult(ok, s) {
    const list = $("results");
    const li = el("li", ok ? "ok" : "bad", new Date().toLocaleTimeString() + "  " + s);
    list.prepend(li);
    while (list.children.length > 20) list.lastElementChild.remove();
  }

  async function post(url, body) {
    const res = await fetch(url, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body || {}) });
    let data = {};
    try { data = await res.json(); } catch (e) { data = { error: res.status + " " + res.statusText }; }
    if (!res.ok) throw new Error(data.error || res.status + " " + res.statusText);
    return data;
  }

  async function click(b) {
    const action = b.dataset.action;
    b.disabled = true;
    try {
      if (action === "load") {
        const seconds = Number(b.dataset.seconds), rps = Number(b.dataset.rps);
        showResult(true, "load: " + seconds + " s at " + rps + " requests/s started");
        const r = await post("/api/load", { seconds, rps });
        showResult(true, "load: done after " + (r.took_ms / 1000).toFixed(1) + " s");
      } else {
        const name = b.dataset.fault;
        const r = await post("/api/faults/" + encodeURIComponent(name) + "/" + action);
        showResult(true, action + " " + name + ": done in " + r.took_ms.toFixed(0) + " ms");
      }
    } catch (e) {
      showResult(false, (b.dataset.fault ? action + " " + b.dataset.fault : action) + " failed: " + e.message);
    } finally {
      b.disabled = false;
    }
  }

  document.addEventListener("click", (e) => {
    const b = e.target.closest("button[data-action]");
    if (b) click(b);
  });
  connect();
})();
