/* Public embeds: the server pushes the public JSON (EventSource on /api/v1/public/stream/<view>) and
 * the page draws it (no framework, no innerHTML). Without EventSource, or while the stream keeps
 * failing, it polls the public JSON with If-None-Match instead; render() takes the same JSON either way.
 * A badge says whether the figures are live: it turns to "not live" when neither an event nor a
 * heartbeat arrived for cfg.stale_ms (server gone, network cut, history still being read).
 * The widget, language, street and strings come from <script id="embed-config" type="application/json">. */
(function () {
  "use strict";
  var cfg = JSON.parse(document.getElementById("embed-config").textContent);
  var T = cfg.text;
  var content = document.getElementById("content");
  var banner = document.getElementById("banner");
  var updated = document.getElementById("updated");
  var badge = document.getElementById("live");
  var SVG = "http://www.w3.org/2000/svg";

  function qs(extra) {
    var p = new URLSearchParams();
    p.set("lang", cfg.lang);
    if (cfg.street) { p.set("street", cfg.street); }
    return "?" + p.toString() + (extra || "");
  }
  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) { e.className = cls; }
    if (text !== undefined && text !== null) { e.textContent = String(text); }
    return e;
  }
  function svg(tag, attrs) {
    var e = document.createElementNS(SVG, tag);
    Object.keys(attrs || {}).forEach(function (k) { e.setAttribute(k, attrs[k]); });
    return e;
  }
  function pct(x) { return x === null || x === undefined ? "—" : (x * 100).toFixed(1) + "%"; }
  function clear(node) { while (node.firstChild) { node.removeChild(node.firstChild); } }
  function stamp(iso) { updated.textContent = iso ? T.updated + " " + iso.slice(11, 16) : ""; }

  /* liveness: every event, heartbeat or answered poll says when; a timer turns the badge stale */
  var lastLive = 0, hasData = false;
  function alive(live) {
    lastLive = live ? Date.now() : 0;
    showLive();
  }
  function showLive() {
    var live = hasData && lastLive && Date.now() - lastLive < cfg.stale_ms;
    badge.textContent = live ? T.live : T.not_live;
    badge.className = "live-badge " + (live ? "on" : "off");
    document.body.classList.toggle("stale", hasData && !live);
    banner.hidden = !(hasData && !live);
  }

  function poller(url, render) {
    var etag = null, stopped = false;
    function tick() {
      if (stopped) { return; }
      var headers = etag ? { "If-None-Match": etag } : {};
      fetch(url, { headers: headers, cache: "no-store", credentials: "omit" }).then(function (r) {
        if (r.status === 304) { return null; }
        if (!r.ok) { throw new Error(String(r.status)); }
        etag = r.headers.get("ETag");
        return r.json();
      }).then(function (body) {
        if (stopped) { return; }
        if (body) { hasData = true; render(body); }
        alive(true);
      }).catch(function () { showLive(); })
        .then(function () { if (!stopped) { setTimeout(tick, cfg.poll_ms); } });
    }
    tick();
    return { stop: function () { stopped = true; } };
  }

  /* the push; after cfg.push_failures failed connections in a row, the poll (and the push again later) */
  function live(view, render) {
    var json = "/api/v1/public/" + (view === "tiles" ? "kpis" : view) + qs();  // the poll: the whole JSON
    setInterval(showLive, 1000);
    if (!window.EventSource) { poller(json, render); return; }
    var source = null, failures = 0, fallback = null;
    function open() {
      source = new EventSource("/api/v1/public/stream/" + view + qs());
      source.onmessage = function (ev) {
        failures = 0;
        if (fallback) { fallback.stop(); fallback = null; }
        hasData = true;
        render(JSON.parse(ev.data));
        alive(true);
      };
      source.addEventListener("hb", function (ev) {
        failures = 0;
        alive(ev.data === "1");  // "0": the server is still reading its history, nothing live yet
      });
      source.onerror = function () {
        failures += 1;
        showLive();
        // CONNECTING: the browser retries by itself; CLOSED: it gave up (a 429 or 503 answer)
        if (source.readyState === EventSource.CLOSED || failures >= cfg.push_failures) {
          source.close();
          if (failures >= cfg.push_failures && !fallback) { fallback = poller(json, render); }
          setTimeout(open, failures >= cfg.push_failures ? cfg.push_retry_ms : 2000 * Math.min(failures, 5));
        }
      };
    }
    open();
  }

  /* ---------------------------------------------------------------- widgets */
  function tile(label, value, cls) {
    var t = el("div", "tile " + (cls || ""));
    t.appendChild(el("div", "value", value));
    t.appendChild(el("div", "label", label));
    return t;
  }
  function renderKpis(body) {
    var d = body.streets.length === 1 && cfg.street ? body.streets[0] : body.district;
    clear(content);
    var grid = el("div", "tiles");
    grid.appendChild(tile(T.accepted, d.today.accepted));
    grid.appendChild(tile(T.closed, d.today.closed));
    grid.appendChild(tile(T.closure_rate, pct(d.month.closure_rate)));
    grid.appendChild(tile(T.on_time_closure_rate, pct(d.month.on_time_closure_rate)));
    grid.appendChild(tile(T.satisfaction_rate, pct(d.month.satisfaction_rate)));
    grid.appendChild(tile(T.overdue, d.today.overdue, d.today.overdue ? "warn" : ""));
    grid.appendChild(tile(T.coverage, pct(d.coverage_rate)));
    content.appendChild(el("h2", "place", d.name));
    content.appendChild(grid);
    stamp(body.updated_at);
  }
  function renderStreets(body) {
    clear(content);
    var table = el("table", "streets");
    var head = el("tr");
    [T.street, T.month_accepted, T.closure_rate, T.satisfaction_rate, T.overdue, T.coverage].forEach(function (h) {
      head.appendChild(el("th", "", h));
    });
    table.appendChild(head);
    body.streets.slice().sort(function (a, b) {
      return (b.month.closure_rate || 0) - (a.month.closure_rate || 0);
    }).forEach(function (s) {
      var row = el("tr");
      [s.name, s.month.accepted, pct(s.month.closure_rate), pct(s.month.satisfaction_rate),
       s.month.overdue, pct(s.coverage_rate)].forEach(function (v, i) {
        row.appendChild(el("td", i ? "num" : "", v));
      });
      table.appendChild(row);
    });
    content.appendChild(table);
    stamp(body.updated_at);
  }
  function renderBoard(body) {
    clear(content);
    if (!body.items.length) { content.appendChild(el("p", "none", T.none)); stamp(body.updated_at); return; }
    var list = el("ul", "board");
    body.items.forEach(function (it) {
      var li = el("li", "item " + it.outcome);
      li.appendChild(el("span", "when", (it.closed_at || "").slice(5, 16).replace("T", " ")));
      li.appendChild(el("span", "what", it.category_name));
      li.appendChild(el("span", "where", it.street_name));
      var tail = it.outcome_text + " · " + (it.on_time ? T.on_time : T.late);
      if (it.satisfied === true) { tail += " · " + T.satisfied; }
      if (it.satisfied === false) { tail += " · " + T.unsatisfied; }
      li.appendChild(el("span", "outcome", tail));
      list.appendChild(li);
    });
    content.appendChild(list);
    stamp(body.updated_at);
  }

  /* map: boundaries once, then status dots and community shading on every change */
  var shape = null;
  function project(bounds, w, h) {
    var k = Math.cos((bounds[1] + bounds[3]) / 2 * Math.PI / 180);
    var sx = w / ((bounds[2] - bounds[0]) * k), sy = h / (bounds[3] - bounds[1]);
    var s = Math.min(sx, sy);
    var ox = (w - (bounds[2] - bounds[0]) * k * s) / 2, oy = (h - (bounds[3] - bounds[1]) * s) / 2;
    return function (lon, lat) {
      return [(ox + (lon - bounds[0]) * k * s).toFixed(1), (oy + (bounds[3] - lat) * s).toFixed(1)];
    };
  }
  function rings(geom) {
    if (geom.type === "Polygon") { return geom.coordinates; }
    if (geom.type === "MultiPolygon") { return [].concat.apply([], geom.coordinates); }
    return [];
  }
  function pathOf(geom, proj) {
    return rings(geom).map(function (ring) {
      return "M" + ring.map(function (c) { return proj(c[0], c[1]).join(","); }).join("L") + "Z";
    }).join("");
  }
  function renderMap(body) {
    if (!shape) { return; }
    var W = 1000, H = 700;
    var bounds = [Infinity, Infinity, -Infinity, -Infinity];
    function grow(lon, lat) {
      bounds[0] = Math.min(bounds[0], lon); bounds[1] = Math.min(bounds[1], lat);
      bounds[2] = Math.max(bounds[2], lon); bounds[3] = Math.max(bounds[3], lat);
    }
    shape.street.features.forEach(function (f) { rings(f.geometry).forEach(function (r) { r.forEach(function (c) { grow(c[0], c[1]); }); }); });
    if (!isFinite(bounds[0])) { body.points.forEach(function (p) { grow(p[0], p[1]); }); }
    if (!isFinite(bounds[0])) { bounds = [0, 0, 1, 1]; }
    var proj = project(bounds, W, H);
    var root = svg("svg", { viewBox: "0 0 " + W + " " + H, "class": "map", role: "img", "aria-label": T.map });
    var max = 0;
    Object.keys(body.community_cases_month).forEach(function (k) { max = Math.max(max, body.community_cases_month[k]); });
    shape.community.features.forEach(function (f) {
      var n = body.community_cases_month[f.properties.id] || 0;
      var p = svg("path", { d: pathOf(f.geometry, proj), "class": "community", "fill-opacity": max ? (0.08 + 0.6 * n / max).toFixed(2) : "0.05" });
      var title = svg("title"); title.textContent = f.properties.name + " · " + T.density + ": " + n;
      p.appendChild(title);
      root.appendChild(p);
    });
    shape.street.features.forEach(function (f) {
      root.appendChild(svg("path", { d: pathOf(f.geometry, proj), "class": "street" }));
    });
    var order = { ok: 0, pending: 1, open: 2, overdue: 3, hazard: 4 };
    body.points.slice().sort(function (a, b) { return order[a[2]] - order[b[2]]; }).forEach(function (p) {
      var xy = proj(p[0], p[1]);
      var big = p[2] === "overdue" || p[2] === "hazard";
      root.appendChild(svg("circle", { cx: xy[0], cy: xy[1], r: big ? 6 : 3, "class": "dot " + p[2] }));
    });
    clear(content);
    content.appendChild(root);
    var legend = el("ul", "legend");
    ["ok", "pending", "open", "overdue", "hazard"].forEach(function (s) {
      var li = el("li", "");
      li.appendChild(el("span", "swatch " + s));
      li.appendChild(document.createTextNode(T["legend." + s] + " " + (body.status_counts[s] || 0)));
      legend.appendChild(li);
    });
    var dens = el("li", "");
    dens.appendChild(el("span", "swatch density"));
    dens.appendChild(document.createTextNode(T.density));
    legend.appendChild(dens);
    content.appendChild(legend);
    stamp(body.updated_at);
  }

  /* query: one form, one answer; the page never shows what it was not given */
  function renderCase(c) {
    clear(content);
    var box = el("section", "case");
    var dl = el("dl");
    [[T.status, c.status_text], [T.category, c.category_name], [T.street, c.street_name],
     [T.reported_at, (c.reported_at || "").replace("T", " ")],
     [c.closed_at ? T.closed_at : T.deadline, ((c.closed_at || c.deadline) || "—").replace("T", " ")]]
      .forEach(function (kv) { dl.appendChild(el("dt", "", kv[0])); dl.appendChild(el("dd", "", kv[1])); });
    box.appendChild(dl);
    box.appendChild(el("h2", "", T.timeline));
    var ol = el("ol", "timeline");
    c.timeline.forEach(function (m) {
      var li = el("li", "");
      li.appendChild(el("span", "when", (m.at || "").replace("T", " ")));
      li.appendChild(el("span", "what", m.text));
      ol.appendChild(li);
    });
    box.appendChild(ol);
    content.appendChild(box);
  }
  function setupQuery() {
    clear(content);
    var form = document.getElementById("query-form");
    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      var data = { query_code: form.elements.query_code.value.trim(), phone: form.elements.phone.value.trim(), lang: cfg.lang };
      fetch("/api/v1/public/query", {
        method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(data),
        cache: "no-store", credentials: "omit"
      }).then(function (r) {
        if (r.ok) { return r.json().then(renderCase); }
        clear(content);
        var msg = r.status === 429 ? T.limited : r.status === 400 ? T.bad_input : T.not_found;
        content.appendChild(el("p", "notice", msg));
      }).catch(function () { banner.hidden = false; });
    });
  }

  if (cfg.widget === "kpis") { live("tiles", renderKpis); }
  else if (cfg.widget === "streets") { live("kpis", renderStreets); }
  else if (cfg.widget === "board") { live("board", renderBoard); }
  else if (cfg.widget === "query") { badge.hidden = true; setupQuery(); }
  else if (cfg.widget === "map") {
    fetch("/api/v1/public/boundaries" + qs(), { credentials: "omit" }).then(function (r) { return r.json(); })
      .then(function (b) { shape = b; live("map", renderMap); })
      .catch(function () { shape = { street: { features: [] }, community: { features: [] } }; live("map", renderMap); });
  }
}());
