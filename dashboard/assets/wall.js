/* Wall screen browser code: dash-leaflet layer functions and Dash client-side callbacks.
   Layer functions live in window.dashExtensions.wall (referenced from Python with
   dash_extensions.javascript.Namespace); callbacks in window.dash_clientside.wall. */
(function () {
  "use strict";

  // The wall's page leaves out the component libraries it never draws (dashboard/index.py:
  // dash-ag-grid alone is 1.3 MB of script); Dash's renderer still resolves every component
  // type of its validation layout (the other pages'), so each left-out library is named here by
  // a stand-in that draws nothing. On the other pages the real library is loaded and kept.
  ["dash_ag_grid", "dash_table", "dash_extensions"].forEach(function (name) {
    if (!window[name] && window.Proxy) {
      window[name] = new Proxy({}, { get: function () { return function () { return null; }; } });
    }
  });

  // Per-page state of the update loop (this browser tab only).
  var DENSE_WARDENS = 2000;  // more wardens than this: drawn as small dots
  // A tick that never answers (server gone, or an error reply that Dash swallows) frees the
  // loop after this long; a normal tick answers in well under 200 ms, even at 100k checkpoints.
  var TICK_TIMEOUT_MS = 3000;
  // live: the server has read the history (until then it sends no figures, only progress);
  // shown: this page already holds a picture (kept, with a "catching up" badge, after a restart).
  var loop = { inflight: false, sentAt: 0, heardAt: 0, freshAt: 0, redisOk: true, live: true,
               progress: null, shown: false, statuses: [],
               drawn: { base: {}, changes: {} }, linked: { base: {}, changes: {} },
               wardensDrawn: 0, wardenCount: 0, wardenLayers: {}, wardensMoved: 0,
               // the checkpoint base layer: the id last asked for, the one drawn (with its size),
               // and markers or clusters drawn from it so far
               baseWanted: null, base: null, baseDrawn: 0 };
  // What the layers last drew, per checkpoint id (tests and operators can ask the page).
  loop.statusOf = function (id) {
    return id in loop.drawn.changes ? loop.drawn.changes[id] : loop.drawn.base[id];
  };
  window.gridWall = loop;

  function scale() {
    // Markers grow with the screen so they read from 5 m on a 4K wall.
    return Math.max(1, Math.min(window.innerWidth / 1920, window.innerHeight / 1080));
  }

  function hazardIcon(size) {
    return L.divIcon({
      className: "cp-hazard",
      html: '<div class="cp-hazard-inner">!</div>',
      iconSize: [size, size],
      iconAnchor: [size / 2, size / 2]
    });
  }

  // Marker look by status rank. Ranks come from the server (hideout.ranks, generated from
  // dashboard/status.py CheckpointStatus); tests check every name used here against it.
  function checkpointPoint(feature, latlng, context) {
    var h = context.hideout || {};
    var ranks = h.ranks || {};
    var s = feature.properties.s || 0;
    var k = scale();
    var pane = h.pane || "overlayPane";
    if (feature.properties.i !== undefined) {
      loop.drawn[pane === "overlayPane" ? "base" : "changes"][feature.properties.i] = s;
    }
    if (pane === "overlayPane") { loop.baseDrawn += 1; }
    // a checkpoint with open cases lists them in a popup (links to their case files); a kiosk
    // wall has no pointer and never navigates: its markers stay inert
    var id = feature.properties.i;
    var linkable = id !== undefined && s >= ranks.open && !isKiosk();
    var layer;
    if (s === ranks.hazard) {
      layer = L.marker(latlng, {
        icon: hazardIcon(Math.round(34 * k)),
        pane: pane === "overlayPane" ? "markerPane" : pane,
        keyboard: false,
        interactive: linkable
      });
    } else {
      layer = L.circleMarker(latlng, Object.assign({ pane: pane, interactive: linkable }, markerStyle(s, h)));
    }
    if (linkable) {
      layer.on("click", function () { openCases(layer, id); });
      loop.linked[pane === "overlayPane" ? "base" : "changes"][id] = layer;
    }
    return layer;
  }

  function isKiosk() {
    var raw = (new URLSearchParams(window.location.search).get("kiosk") || "").toLowerCase();
    return raw === "1" || raw === "true" || raw === "yes";
  }

  function escapeHtml(text) {
    return String(text).replace(/[&<>"']/g, function (c) {
      return { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c];
    });
  }

  // The open cases at a checkpoint, fetched when its marker is clicked (the wall's rows carry
  // no case ids), shown as links that open each case file in a new tab.
  function openCases(layer, id) {
    var en = (new URLSearchParams(window.location.search).get("lang") || "").toLowerCase().indexOf("en") === 0;
    fetch("/api/v1/checkpoints/" + encodeURIComponent(id) + "/cases")
      .then(function (r) { return r.json(); })
      .then(function (data) {
        var rows = (data.open_cases || []).map(function (c) {
          var href = "/case/" + encodeURIComponent(c.case_id) + (en ? "?lang=en" : "");
          return '<li><a class="cp-case-link" target="_blank" rel="noopener" href="' + escapeHtml(href) + '">' +
                 escapeHtml(c.case_id) + "</a> " + escapeHtml(c.category) + "</li>";
        });
        var head = '<div class="cp-popup-head">' + escapeHtml(id) + "</div>";
        var body = rows.length ? "<ul>" + rows.join("") + "</ul>" : (en ? "no open case" : "暂无在办案件");
        layer.bindPopup('<div class="cp-popup">' + head + body + "</div>").openPopup();
      })
      .catch(function () { /* the server is away: the banner already says so */ });
  }
  // The clickable marker of a checkpoint with open cases (overlay over base), for tests.
  loop.linkedMarker = function (id) { return loop.linked.changes[id] || loop.linked.base[id]; };

  // Circle options per status rank (hazard: the triangle's half-size): same look in every layer.
  function markerStyle(s, h) {
    var ranks = h.ranks || {};
    var k = scale();
    var colour = (h.colors || [])[s] || "#888";
    if (s === ranks.hazard) { return { radius: 17 * k, weight: 0 }; }
    if (s === ranks.overdue) {
      // Larger, with a wide translucent ring: one overdue point stands out among thousands of dots.
      return { radius: 8.5 * k, fillColor: colour, fillOpacity: 1, color: colour, opacity: 0.55, weight: 9 * k };
    }
    var open = s === ranks.open;
    return { radius: (open ? 6 : 4.5) * k, fillColor: colour, fillOpacity: 0.95,
             color: open ? "#ffffff" : "#0b1620", weight: open ? 1.5 * k : 0.8, opacity: 0.9 };
  }
  loop.markerStyle = markerStyle;

  // Worst status rank inside a supercluster node, memoised per index (rebuilt with the data).
  function worstRank(index, clusterId, hazard) {
    var memo = index.__gridWorst || (index.__gridWorst = new Map());
    if (memo.has(clusterId)) { return memo.get(clusterId); }
    var worst = 0;
    var children = index.getChildren(clusterId);
    for (var i = 0; i < children.length && worst < hazard; i++) {
      var p = children[i].properties;
      var r = p.cluster ? worstRank(index, p.cluster_id, hazard) : (p.s || 0);
      if (r > worst) { worst = r; }
    }
    memo.set(clusterId, worst);
    return worst;
  }

  function checkpointCluster(feature, latlng, index, context) {
    var h = context.hideout || {};
    var rank = worstRank(index, feature.properties.cluster_id, (h.ranks || {}).hazard);
    loop.baseDrawn += 1;
    var n = feature.properties.point_count;
    var k = scale();
    var size = Math.round((22 + Math.min(26, Math.log10(n) * 8)) * k);
    var colour = (h.colors || [])[rank] || "#888";
    var icon = L.divIcon({
      className: "cp-cluster cp-cluster-" + rank,
      html: '<div style="background:' + colour + '"><span>' +
            feature.properties.point_count_abbreviated + "</span></div>",
      iconSize: [size, size]
    });
    return L.marker(latlng, { icon: icon, keyboard: false });
  }

  // A warden's circle options (its look when silent, and past DENSE_WARDENS a small dot).
  function wardenStyle(silent, h) {
    var k = scale();
    // A city's thousands of wardens as full-size dots would bury the checkpoint clusters:
    // past DENSE_WARDENS they shrink to small unoutlined dots (still one per warden).
    var dense = loop.wardenCount > DENSE_WARDENS;
    return {
      pane: h.pane || "overlayPane",
      radius: (dense ? 1.6 : 5) * k,
      fillColor: (h.colors || [])[silent ? 1 : 0] || "#3bf",
      fillOpacity: silent ? 0.6 : (dense ? 0.7 : 1),
      stroke: !dense,
      color: silent ? "#9aa4ad" : "#ffffff",
      weight: 2 * k,
      dashArray: silent ? "2 2" : null,
      interactive: false
    };
  }

  function wardenPoint(feature, latlng, context) {
    var h = context.hideout || {};
    loop.wardensDrawn += 1;
    loop.wardenHideout = h;
    var layer = L.circleMarker(latlng, wardenStyle(feature.properties.s === 1, h));
    // pushed rows carry the warden's id: a later move updates this marker alone (moveWardens)
    if (feature.properties.i !== undefined) { loop.wardenLayers[feature.properties.i] = layer; }
    return layer;
  }

  function boundaryStyle(feature, context) {
    var level = (context.hideout || {}).level;
    if (level === "district") { return { color: "#6fd3ff", weight: 4, fill: false }; }
    if (level === "street") {
      return { color: "#4fa3c7", weight: 2.5, fillColor: "#12324a", fillOpacity: 0.25 };
    }
    return { color: "#2c4a5e", weight: 1, fill: false, dashArray: "3 4" };
  }

  window.dashExtensions = Object.assign({}, window.dashExtensions, {
    wall: {
      checkpointPoint: checkpointPoint,
      checkpointCluster: checkpointCluster,
      wardenPoint: wardenPoint,
      boundaryStyle: boundaryStyle
    }
  });

  function params(search) {
    var q = new URLSearchParams(search || "");
    return q;
  }

  function lang(cfg, view) {
    var l = (view && view.lang) || (cfg && cfg.default_lang) || "zh";
    return (cfg && cfg.strings && cfg.strings[l]) ? l : "zh";
  }

  function str(cfg, l, key, values) {
    var table = (cfg.strings && cfg.strings[l]) || {};
    var text = table[key] || (cfg.strings && cfg.strings.zh && cfg.strings.zh[key]) || key;
    if (values) {
      Object.keys(values).forEach(function (name) { text = text.replace("{" + name + "}", values[name]); });
    }
    return text;
  }

  function view(search, cfg) {
    var q = params(search);
    var raw = (q.get("lang") || cfg.default_lang || "zh").toLowerCase().split(/[-_]/)[0];
    var l = cfg.strings[raw] ? raw : "zh";
    var kioskRaw = (q.get("kiosk") || "").toLowerCase();
    var kiosk = kioskRaw === "1" || kioskRaw === "true" || kioskRaw === "yes";
    loop.statuses = cfg.statuses || [];
    prefetchBase(cfg.base);
    if (cfg.push_url) { startPush(cfg, l); }
    var outputs = (dash_clientside.callback_context.outputs_list || [])[2] || [];
    var labels = outputs.map(function (o) { return str(cfg, l, o.id.key); });
    var other = l === "en" ? "zh" : "en";
    document.documentElement.lang = l === "zh" ? "zh-CN" : "en";
    return [
      { lang: l, kiosk: kiosk },
      "wall lang-" + l + (kiosk ? " kiosk" : ""),
      labels,
      "?lang=" + other,
      "?kiosk=1&lang=" + l,
      // fit the district to this screen (same framing at 1080p and 4K)
      cfg.bounds ? { bounds: cfg.bounds, options: { padding: [16, 16] } } : dash_clientside.no_update
    ];
  }

  function gate(n) {
    var now = Date.now();
    if (loop.inflight && now - loop.sentAt < TICK_TIMEOUT_MS) {
      return dash_clientside.no_update;  // the previous tick has not answered: never overlap
    }
    loop.inflight = true;
    loop.sentAt = now;
    return { n: n, at: now };
  }

  function heartbeat(data) {
    var now = Date.now();
    loop.inflight = false;
    if (!data) { return dash_clientside.no_update; }
    loop.heardAt = now;
    loop.redisOk = !!data.ok;
    loop.live = data.live !== false;
    loop.progress = (data.progress === undefined) ? null : data.progress;
    if (loop.live && data.age !== null && data.age !== undefined) {
      loop.freshAt = Math.max(loop.freshAt, now - data.age * 1000);
    }
    return now;
  }

  function pad(n) { return (n < 10 ? "0" : "") + n; }

  function clock(n, cfg, v) {
    var l = lang(cfg, v);
    var now = Date.now();
    var text;
    try {
      // one formatter per language (building one is the costly part, each second)
      var key = l + "|" + cfg.tz;
      if (!loop.formats) { loop.formats = {}; }
      var format = loop.formats[key] || (loop.formats[key] = new Intl.DateTimeFormat(l === "zh" ? "zh-CN" : "en-GB", {
        timeZone: cfg.tz, year: "numeric", month: "2-digit", day: "2-digit",
        hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false
      }));
      text = format.format(new Date(now));
    } catch (e) {
      var d = new Date(now);
      text = d.getFullYear() + "-" + pad(d.getMonth() + 1) + "-" + pad(d.getDate()) + " " +
             pad(d.getHours()) + ":" + pad(d.getMinutes()) + ":" + pad(d.getSeconds());
    }
    var badge, badgeClass = "last-update";
    if (loop.heardAt && !loop.live) {
      // replaying history after a restart: the picture on screen is not fresh, say so
      badge = str(cfg, l, "catchup.badge");
      badgeClass += " catching-up";
    } else if (!loop.freshAt) {
      badge = str(cfg, l, "last_update.never");
      if (window.performance && performance.now() > cfg.stale_after_s * 1000) {
        badgeClass += " stale";
      }
    } else {
      var age = Math.max(0, Math.floor((now - loop.freshAt) / 1000));
      badge = str(cfg, l, "last_update", { n: age });
      if (age > cfg.stale_after_s) { badgeClass += " stale"; }
    }
    var banner = "", bannerClass = "conn-banner hidden";
    var lost = loop.heardAt ? (now - loop.heardAt) > cfg.lost_after_s * 1000
                            : (window.performance && performance.now() > 10000);
    if (lost) {
      banner = str(cfg, l, "banner.server");
      bannerClass = "conn-banner";
    } else if (loop.heardAt && !loop.redisOk) {
      banner = str(cfg, l, "banner.redis");
      bannerClass = "conn-banner";
    }
    var catchupClass = "catchup hidden", catchupText = "", bar = { width: "0%" };
    if (loop.heardAt && !loop.live && !loop.shown) {
      catchupClass = "catchup";
      if (typeof loop.progress === "number") {
        var pct = Math.max(0, Math.min(100, Math.floor(loop.progress * 100)));
        catchupText = str(cfg, l, "catchup.progress", { p: pct });
        bar = { width: pct + "%" };
      } else {
        catchupText = str(cfg, l, "catchup.waiting");
        catchupClass += " indeterminate";
        bar = { width: "30%" };
      }
    }
    return [text, badge, badgeClass, banner, bannerClass, catchupClass, catchupText, bar];
  }

  // Compact rows [lon, lat, s(, id)] from the server -> GeoJSON for a dash-leaflet layer.
  function features(rows) {
    var out = new Array((rows || []).length);
    for (var i = 0; i < out.length; i++) {
      var r = rows[i];
      var props = { s: r[2] };
      if (r.length > 3) { props.i = r[3]; }
      out[i] = { type: "Feature", properties: props, geometry: { type: "Point", coordinates: [r[0], r[1]] } };
    }
    return { type: "FeatureCollection", features: out };
  }

  // The checkpoint base layer travels on its own GET (/api/v1/wall/base/<id>: compressed,
  // cached for good per id) in a compact columnar form: ids, coordinates in 1e-5 degrees as
  // deltas, one digit of status rank each (dashboard/wall_layers.py encode_base).
  var BASE_FORMAT = "grid-wall-base/1";
  var BASE_RETRY_MS = 1000;
  var BASE_TRIES = 5;

  function decodeBase(doc) {
    if (!doc || doc.format !== BASE_FORMAT) { throw new Error("not a wall base layer"); }
    var n = doc.n, dlon = doc.lon, dlat = doc.lat, digits = doc.s, ids = doc.ids, scale = doc.scale;
    var out = new Array(n), lon = 0, lat = 0;
    for (var i = 0; i < n; i++) {
      lon += dlon[i];
      lat += dlat[i];
      var props = { s: digits.charCodeAt(i) - 48 };
      if (ids) { props.i = ids[i]; }
      out[i] = { type: "Feature", properties: props, geometry: { type: "Point", coordinates: [lon / scale, lat / scale] } };
    }
    return { type: "FeatureCollection", features: out };
  }
  loop.decodeBase = decodeBase;

  function fetchBase(ref, tries) {
    return fetch(ref.url, { credentials: "same-origin" }).then(function (r) {
      if (!r.ok) { throw new Error("base layer " + ref.id + ": HTTP " + r.status); }
      return r.json();
    }).catch(function (err) {
      // the server restarted or another worker forgot it: try again while it is still wanted
      if (tries + 1 >= BASE_TRIES || loop.baseWanted !== ref.id) { throw err; }
      return new Promise(function (resolve) { setTimeout(resolve, BASE_RETRY_MS); })
        .then(function () { return fetchBase(ref, tries + 1); });
    });
  }

  // Drawn as soon as it arrives (a Promise: Dash applies the layer's data when it resolves).
  function baseFeatures(ref) { return loadBase(ref); }

  // The page's layout names the base layer current when it was served: fetched and drawn at
  // once, without waiting for the first tick (Dash runs a callback whose input another callback
  // may still change only after that one answers); the tick then names the same id: no refetch.
  var CHECKPOINTS = "checkpoints";  // layouts/ids.py CHECKPOINTS
  function prefetchBase(ref) {
    var pending = loadBase(ref);
    if (pending && pending.then) {
      pending.then(function (data) {
        if (data !== dash_clientside.no_update) { dash_clientside.set_props(CHECKPOINTS, { data: data }); }
      });
    }
  }

  function loadBase(ref) {
    if (!ref || !ref.url) { return dash_clientside.no_update; }
    // the page's layout named it and the first push event names it again: one fetch, one draw
    if (loop.baseWanted === ref.id) { return dash_clientside.no_update; }
    loop.baseWanted = ref.id;
    return fetchBase(ref, 0).then(function (doc) {
      if (loop.baseWanted !== ref.id) { return dash_clientside.no_update; }  // a newer one is coming
      var data = decodeBase(doc);
      loop.drawn.base = {};
      loop.linked.base = {};
      loop.baseDrawn = 0;
      loop.base = { id: ref.id, n: doc.n, cluster: !!doc.cluster, at: Date.now() };
      loop.shown = true;
      return data;
    }).catch(function () {
      if (loop.baseWanted === ref.id) { loop.baseWanted = null; resync(); }
      return dash_clientside.no_update;
    });
  }
  // A base layer that cannot be fetched (expired, or the server forgot it): forget what this
  // page claims to hold, so the next tick (or, pushed, a fresh stream) sends everything again.
  var HAVE = "have";  // layouts/ids.py HAVE
  function resync() {
    dash_clientside.set_props(HAVE, { data: null });
    if (loop.source) {
      loop.lastEventId = null;
      loop.source.close();
      loop.source = null;
      connectPush(loop.pushUrl);
    }
  }

  // True once the latest base layer is on the map: every marker, or (clustered) its clusters.
  loop.baseOnMap = function () {
    var b = loop.base;
    if (!b || loop.baseDrawn === 0) { return false; }
    return b.cluster || loop.baseDrawn >= b.n;
  };
  function changeFeatures(rows) { loop.drawn.changes = {}; loop.linked.changes = {}; return features(rows); }
  function wardenFeatures(rows) {
    loop.wardensDrawn = 0;
    loop.wardenLayers = {};
    loop.wardenCount = rows ? rows.length : 0;
    return features(rows);
  }

  function flyTo(clicks, geo) {
    var ctx = dash_clientside.callback_context;
    var trig = (ctx.triggered || []).filter(function (t) { return t.value; });
    if (!trig.length || !geo) { return dash_clientside.no_update; }
    var propId = trig[0].prop_id;
    var idText = propId.slice(0, propId.lastIndexOf("."));
    var caseId;
    try { caseId = JSON.parse(idText).index; } catch (e) { return dash_clientside.no_update; }
    var pos = geo[caseId];
    if (!pos) { return dash_clientside.no_update; }
    return { center: pos, zoom: 17, transition: "flyTo" };
  }

  // GRID_PUSH=sse (the default): the server pushes each change as compact data on the page's own
  // EventSource; this code renders it straight into the wall's containers (no Dash callback), and
  // a timer paints the clock, the badge and the alerts' countdowns. A heartbeat only updates
  // loop's fields: it costs no rendering at all.
  var push = { cfg: null, lang: "zh", data: {}, wardens: {}, offset: 0, timer: null, painted: {} };
  loop.push = push;

  function count(n) { return String(Math.trunc(n || 0)).replace(/\B(?=(\d{3})+(?!\d))/g, ","); }
  function pct(rate, cfg, l) { return rate === null || rate === undefined ? str(cfg, l, "kpi.none") : (rate * 100).toFixed(1) + "%"; }
  function ratio(n, d) { return count(n) + "/" + count(d); }
  // layouts/i18n.py duration(): minute granularity, "2天3小时", "3h 05m", "12m"
  function duration(seconds, cfg, l) {
    var minutes = Math.max(0, Math.floor(Math.abs(seconds) / 60));
    var days = Math.floor(minutes / 1440), hours = Math.floor((minutes % 1440) / 60), mins = minutes % 60;
    var sep = l === "zh" ? "" : " ";
    if (days) { return days + str(cfg, l, "unit.d") + sep + hours + str(cfg, l, "unit.h"); }
    if (hours) { return hours + str(cfg, l, "unit.h") + sep + pad(mins) + str(cfg, l, "unit.m"); }
    return mins + str(cfg, l, "unit.m");
  }
  function nameOf(cfg, kind, l, id) {
    var names = ((cfg.names || {})[kind] || {})[l] || {};
    return names[id] || id || "";
  }
  function el(key) { return document.getElementById(push.cfg.ids[key]); }
  // the app's clock (seconds): the browser's, moved by the offset the last heartbeat gave
  function appNow() { return Date.now() / 1000 + push.offset; }

  function renderTiles(cfg, l, figures) {
    var html = cfg.tiles.map(function (spec, i) {
      var f = figures[i] || [0, 0, 0], v = f[0], sub = "", tone = "";
      var shown = spec[3] === "count" ? count(v) : pct(v, cfg, l);
      if (spec[4] === "month") { sub = str(cfg, l, "kpi.month_total", { n: count(f[1]) }); }
      else if (spec[4] === "ratio") { sub = ratio(f[1], f[2]); }
      else { tone = v ? " tone-red" : " tone-ok"; }
      return '<div class="tile' + tone + '" data-kpi="' + escapeHtml(spec[0]) + '"><div class="tile-label">' +
             '<span class="tile-name">' + escapeHtml(str(cfg, l, spec[1])) + '</span><span class="tile-period">' +
             escapeHtml(str(cfg, l, spec[2])) + '</span></div><div class="tile-value">' + escapeHtml(shown) +
             '</div><div class="tile-sub">' + escapeHtml(sub) + "</div></div>";
    });
    el("tiles").innerHTML = html.join("");
  }

  var COLS = ["rank", "street", "today", "month", "closure", "on_time", "satisfaction", "overdue", "coverage"];
  function rateCell(rate, n, d, cfg, l) {
    return '<td class="num"><span class="rate">' + escapeHtml(pct(rate, cfg, l)) + '</span><span class="ratio">' +
           ratio(n, d) + "</span></td>";
  }
  function renderTable(cfg, l, table) {
    var head = COLS.map(function (c) {
      return '<th class="col-' + c + '">' + escapeHtml(str(cfg, l, "col." + c)) + "</th>";
    }).join("");
    var body = table.rows.map(function (r) {
      // [id, rank, today, month, closure, closed, on_time, on_time_closed, sat, satisfied, rated, overdue,
      //  coverage, covered, registered] (dashboard/wall_data.py street_data)
      return '<tr data-street="' + escapeHtml(r[0]) + '"><td class="rank">' + r[1] + '</td><td class="name">' +
             escapeHtml(nameOf(cfg, "street", l, r[0])) + '</td><td class="num">' + count(r[2]) +
             '</td><td class="num">' + count(r[3]) + "</td>" + rateCell(r[4], r[5], r[3], cfg, l) +
             rateCell(r[6], r[7], r[3], cfg, l) + rateCell(r[8], r[9], r[10], cfg, l) +
             '<td class="num overdue' + (r[11] ? " hot" : "") + '">' + r[11] + "</td>" +
             rateCell(r[12], r[13], r[14], cfg, l) + "</tr>";
    });
    if (table.more > 0) {
      body.push('<tr><td colspan="' + COLS.length + '" class="streets-more">' +
                escapeHtml(str(cfg, l, "streets.more", { n: table.more })) + "</td></tr>");
    }
    el("table").innerHTML = '<table class="streets"><thead><tr>' + head + "</tr></thead><tbody>" +
                            body.join("") + "</tbody></table>";
  }

  function renderRound(cfg, l, rnd) {
    el("round").textContent = str(cfg, l, "round." + rnd[0]) + (rnd[1] && rnd[2] ? " " + rnd[1] + "–" + rnd[2] : "");
  }

  // [case, street, category, hazard, colour, reported_ts, deadline_ts, flash_until]
  function renderAlerts(cfg, l, alerts) {
    var box = el("alerts");
    if (!alerts.rows.length) {
      box.innerHTML = '<div class="alerts-empty">' + escapeHtml(str(cfg, l, "alerts.empty")) + "</div>";
      push.alertItems = [];
      return;
    }
    var html = alerts.rows.map(function (r) {
      var id = escapeHtml(JSON.stringify({ index: r[0], type: cfg.ids.alert_item }));
      var href = "/case/" + encodeURIComponent(r[0]) + (l === "en" ? "?lang=en" : "");
      return '<div id="' + id + '" class="alert alert-' + escapeHtml(r[4]) + (r[3] ? " alert-hazard" : "") +
             '" data-case="' + escapeHtml(r[0]) + '"><span class="alert-head">' +
             (r[3] ? '<span class="alert-flag">' + escapeHtml(str(cfg, l, "alerts.hazard")) + "</span>" : "") +
             '<span class="alert-case">' + escapeHtml(r[0]) + '</span><a href="' + escapeHtml(href) +
             '" target="_blank" rel="noopener" class="alert-link" title="' +
             escapeHtml(str(cfg, l, "alerts.open_case")) + '">↗</a></span><span class="alert-countdown"></span>' +
             '<span class="alert-where"><span class="alert-street">' + escapeHtml(nameOf(cfg, "street", l, r[1])) +
             '</span><span class="alert-sep"> · </span><span class="alert-category">' +
             escapeHtml(nameOf(cfg, "category", l, r[2])) + '</span></span><span class="alert-age"></span></div>';
    });
    if (alerts.more > 0) {
      html.push('<div class="alerts-more">' + escapeHtml(str(cfg, l, "alerts.more", { n: alerts.more })) + "</div>");
    }
    box.innerHTML = html.join("");
    var nodes = box.querySelectorAll(".alert");
    push.alertItems = alerts.rows.map(function (r, i) {
      return { row: r, node: nodes[i], countdown: nodes[i].querySelector(".alert-countdown"),
               age: nodes[i].querySelector(".alert-age"), text: {} };
    });
    tickAlerts();
  }

  // The countdowns, from each alert's deadline (minute granularity, as layouts/panels.py words them):
  // text is written only when it changes, so most seconds touch no DOM at all.
  function tickAlerts() {
    var cfg = push.cfg, l = push.lang, now = appNow();
    (push.alertItems || []).forEach(function (item) {
      var r = item.row;
      var over = r[6] === null ? 0 : Math.floor(Math.round(now - r[6]) / 60) * 60;
      var countdown = over >= 0 ? str(cfg, l, "alerts.overdue_by", { d: duration(over, cfg, l) })
                                : str(cfg, l, "alerts.left", { d: duration(over, cfg, l) });
      var age = str(cfg, l, "alerts.age", { d: duration(r[5] === null ? 0 : Math.floor(Math.round(now - r[5]) / 60) * 60, cfg, l) });
      if (item.text.countdown !== countdown) { item.countdown.textContent = item.text.countdown = countdown; }
      if (item.text.age !== age) { item.age.textContent = item.text.age = age; }
      var fresh = r[7] !== null && now < r[7];
      if (item.text.fresh !== fresh) { item.node.classList.toggle("alert-new", fresh); item.text.fresh = fresh; }
    });
  }

  function renderAll() {
    var cfg = push.cfg, l = push.lang, d = push.data;
    if (!cfg) { return; }
    if (d.tiles) { renderTiles(cfg, l, d.tiles); }
    if (d.table) { renderTable(cfg, l, d.table); }
    if (d.round) { renderRound(cfg, l, d.round); }
    if (d.alerts) { renderAlerts(cfg, l, d.alerts); }
  }

  // Warden positions arrive as changes against the set this page holds ({all} or {set, del}).
  // Moves of wardens already drawn update their markers in place (a few path updates, not the
  // whole layer: at 100k the layer holds 20k wardens); anything else redraws the layer.
  function applyWardens(change) {
    var held = change.all ? {} : push.wardens;
    var moved = change.all || change.set || {};
    var ids = Object.keys(moved);
    ids.forEach(function (id) { held[id] = moved[id]; });
    (change.del || []).forEach(function (id) { delete held[id]; });
    push.wardens = held;
    var inPlace = !change.all && !(change.del || []).length && loop.wardenHideout &&
                  ids.every(function (id) { return loop.wardenLayers[id]; });
    if (inPlace) {
      ids.forEach(function (id) {
        var r = moved[id], layer = loop.wardenLayers[id];
        layer.setLatLng([r[1], r[0]]);
        layer.setStyle(wardenStyle(r[2] === 1, loop.wardenHideout));
      });
      loop.wardensMoved += ids.length;
      return;
    }
    setData("wardens", Object.keys(held).map(function (id) { var r = held[id]; return [r[0], r[1], r[2], id]; }));
  }

  function setData(key, value, prop) {
    var props = {};
    props[prop || "data"] = value;
    dash_clientside.set_props(push.cfg.ids[key], props);
  }

  function applyEvent(data, length) {
    loop.pushedAt = Date.now();
    // arrival of the last pushed events (benchmarks split the latency with it): bounded
    loop.pushes = loop.pushes || [];
    loop.pushes.push([loop.pushedAt, "overlay" in data || "base" in data, length, Object.keys(data).join(",")]);
    if (loop.pushes.length > 200) { loop.pushes.shift(); }
    if ("base" in data) { setData("base", data.base); }
    if ("cluster" in data) { setData("cluster", data.cluster, "cluster"); }
    if ("overlay" in data) { setData("overlay", data.overlay); }
    if ("wardens" in data) { applyWardens(data.wardens); }
    var cfg = push.cfg, l = push.lang, d = push.data;
    if ("geo" in data) { d.geo = data.geo; }
    if ("tiles" in data) { d.tiles = data.tiles; renderTiles(cfg, l, d.tiles); }
    if ("table" in data) { d.table = data.table; renderTable(cfg, l, d.table); }
    if ("round" in data) { d.round = data.round; renderRound(cfg, l, d.round); }
    if ("alerts" in data) { d.alerts = data.alerts; renderAlerts(cfg, l, d.alerts); }
  }

  function onMessage(ev) {
    if (ev.lastEventId) { loop.lastEventId = ev.lastEventId; }
    var data;
    try { data = JSON.parse(ev.data); } catch (e) { return; }
    if (data.hb) {
      heartbeat(data.hb);
      if (data.hb.live) { push.offset = data.hb.t - Date.now() / 1000; }
    }
    for (var key in data) {
      if (key !== "hb") { applyEvent(data, ev.data.length); return; }
    }
    loop.beats = (loop.beats || 0) + 1;  // a heartbeat alone: nothing to render
    loop.beatBytes = ev.data.length;
  }

  // The clock, badge, banner and catch-up panel (what clock() computes), written straight to the
  // DOM once a second, and only where the text changed.
  function paint() {
    var cfg = push.cfg;
    if (!cfg) { return; }
    var out = clock(0, cfg, { lang: push.lang });
    var writes = [["clock", "textContent", out[0]], ["badge", "textContent", out[1]], ["badge", "className", out[2]],
                  ["banner", "textContent", out[3]], ["banner", "className", out[4]],
                  ["catchup", "className", out[5]], ["catchup_text", "textContent", out[6]]];
    writes.forEach(function (w) {
      var k = w[0] + "." + w[1];
      if (push.painted[k] !== w[2]) {
        var node = el(w[0]);
        if (node) { node[w[1]] = w[2]; push.painted[k] = w[2]; }
      }
    });
    if (push.painted.bar !== out[7].width) {
      var bar = el("catchup_bar");
      if (bar) { bar.style.width = out[7].width; push.painted.bar = out[7].width; }
    }
    tickAlerts();
  }

  function startPush(cfg, l) {
    var changed = push.lang !== l;
    push.cfg = cfg;
    push.lang = l;
    push.painted = {};
    if (changed) { renderAll(); }
    if (!push.timer) {
      push.timer = setInterval(paint, 1000);
      // a click on an alert flies the map to it (the case link opens the case file instead)
      el("alerts").addEventListener("click", function (ev) {
        var item = ev.target.closest ? ev.target.closest(".alert") : null;
        if (!item || ev.target.closest("a")) { return; }
        var pos = (push.data.geo || {})[item.getAttribute("data-case")];
        if (pos) { setData("map", { center: pos, zoom: 17, transition: "flyTo" }, "viewport"); }
      });
    }
    paint();
    connectPush(cfg.push_url);
  }

  // The page's own EventSource (not a Dash component: a re-render must never reconnect it).
  // The browser reconnects it by itself and sends Last-Event-ID; if the server refuses it (the
  // stream closed for good), it is reopened after RECONNECT_MS, resuming from the last id seen.
  var RECONNECT_MS = 3000;
  function connectPush(url) {
    if (!url || !window.EventSource) { return; }
    loop.pushUrl = url;
    if (loop.source && loop.source.readyState !== 2) { return; }
    if (loop.source) { loop.source.close(); }
    var full = loop.lastEventId ? url + "?last_id=" + encodeURIComponent(loop.lastEventId) : url;
    var source = new EventSource(full);
    loop.source = source;
    loop.connects = (loop.connects || 0) + 1;
    source.onmessage = onMessage;
    source.onerror = function () {
      if (source.readyState === 2 && loop.source === source) {
        setTimeout(function () { if (loop.source === source) { connectPush(url); } }, RECONNECT_MS);
      }
    };
  }
  loop.connectPush = connectPush;

  window.dash_clientside = Object.assign({}, window.dash_clientside, {
    wall: { view: view, baseFeatures: baseFeatures, changeFeatures: changeFeatures,
            wardenFeatures: wardenFeatures, gate: gate, heartbeat: heartbeat, clock: clock, flyTo: flyTo }
  });
  // A wall opened with ?token=… (no session, no log-in page) passes its token on to the case
  // files it links to, so the new tab opens without a log-in too.
  document.addEventListener("click", function (ev) {
    var link = ev.target && ev.target.closest ? ev.target.closest("a.alert-link, a.cp-case-link") : null;
    var token = new URLSearchParams(window.location.search).get("token");
    if (!link || !token) { return; }
    var url = new URL(link.getAttribute("href"), window.location.href);
    if (url.origin === window.location.origin && !url.searchParams.get("token")) {
      url.searchParams.set("token", token);
      link.setAttribute("href", url.pathname + url.search);
    }
  }, true);
})();
