/* Report pages: map styles (window.dashExtensions.report, referenced from Python with
   dash_extensions.javascript.Namespace), and the leaders page's push (window.dash_clientside.report). */
(function () {
  var GRADE_COLORS = { A: "#1a7f37", B: "#4c9a2a", C: "#b58900", D: "#d35400", E: "#c0392b" };

  function gradeStyle(feature) {
    var grade = (feature.properties || {}).grade;
    var color = GRADE_COLORS[grade] || "#8a9aa8";
    return { color: "#12324a", weight: 1.5, fillColor: color, fillOpacity: grade ? 0.45 : 0.15 };
  }

  function areaTooltip(feature, layer) {
    var p = feature.properties || {};
    layer.bindTooltip((p.name || "") + (p.grade ? " · " + p.grade : "") +
                      (p.score !== null && p.score !== undefined ? " (" + p.score + ")" : ""), { sticky: true });
  }

  window.dashExtensions = Object.assign({}, window.dashExtensions, {
    report: { gradeStyle: gradeStyle, areaTooltip: areaTooltip }
  });

  /* The leaders page's push: one EventSource per page (not a Dash component: a re-render must not
     reconnect it). Each new version of the state goes into the page's live store (throttled), which
     re-reads the figures; the first event is the version the page was drawn from. */
  var LIVE_MIN_MS = 3000;
  var live = { source: null, url: null, store: null, last: 0, timer: null, seen: null };
  function pushVersion(version) {
    if (!live.store || version === live.seen) { return; }
    var wait = live.last + LIVE_MIN_MS - Date.now();
    if (live.timer) { clearTimeout(live.timer); }
    live.timer = setTimeout(function () {
      live.timer = null;
      live.last = Date.now();
      live.seen = version;
      window.dash_clientside.set_props(live.store, { data: version });
    }, Math.max(0, wait));
  }
  function leadersLive(push) {
    var no = window.dash_clientside.no_update;
    if (!push || !push.url || !window.EventSource) { return no; }
    live.store = push.store;
    if (live.source && live.source.readyState !== EventSource.CLOSED && live.url === push.url) { return no; }
    var first = true;
    live.url = push.url;
    live.source = new EventSource(push.url);
    live.source.onmessage = function (ev) {
      if (!document.querySelector(".leaders-page")) {  // the page was left: stop listening
        live.source.close();
        return;
      }
      var version = JSON.parse(ev.data).version;
      if (first) { first = false; live.seen = version; return; }  // what the page was just drawn from
      pushVersion(version);
    };
    return no;
  }

  window.dash_clientside = Object.assign({}, window.dash_clientside, {
    report: Object.assign({}, (window.dash_clientside || {}).report, { leadersLive: leadersLive })
  });
})();
