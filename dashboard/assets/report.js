/* Report pages: map styles (window.dashExtensions.report, referenced from Python with
   dash_extensions.javascript.Namespace). */
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
})();
