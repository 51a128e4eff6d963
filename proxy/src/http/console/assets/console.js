// The console's charts: uPlot line charts drawn from the JSON the page embeds, refreshed from
// /console/api/overview at the interval the user picks. No framework, no build step.
(function () {
  'use strict';
  var dataBlock = document.getElementById('overview-data');
  if (!dataBlock || typeof uPlot === 'undefined') return;
  var script = document.currentScript || document.querySelector('script[src$="/assets/console.js"]');
  var base = script ? new URL(script.src).pathname.replace(/\/assets\/console\.js$/, '') : '/console';
  var data = JSON.parse(dataBlock.textContent);
  var charts = [];

  var SERIES = {
    changes: [
      { key: 'in', label: 'In', stroke: '#0b5cab', fill: 'rgba(11,92,171,0.08)' },
      { key: 'out', label: 'Out', stroke: '#2e844a', dash: [5, 3] },
    ],
    lag: [
      { key: 'p50', label: 'p50 (s)', stroke: '#5a1ba9' },
      { key: 'p95', label: 'p95 (s)', stroke: '#ba0517', dash: [6, 4] },
    ],
  };

  function widthOf(el) {
    return Math.max(240, Math.floor(el.getBoundingClientRect().width));
  }

  function columns(kind, flow) {
    var f = data.flows.filter(function (x) {
      return x.flow === flow;
    })[0];
    var series = f[kind];
    return [series.minutes].concat(
      SERIES[kind].map(function (s) {
        return series.lines[s.key];
      }),
    );
  }

  function draw() {
    var plots = document.querySelectorAll('.plot[data-chart]');
    Array.prototype.forEach.call(plots, function (el) {
      var kind = el.getAttribute('data-chart');
      var flow = el.getAttribute('data-flow');
      var opts = {
        width: widthOf(el),
        height: 170,
        legend: { show: true, live: false },
        cursor: { drag: { x: false, y: false } },
        // A minute of room on the right and a fifth on top, so the newest values are not on the edge.
        scales: {
          x: {
            time: true,
            range: function (_u, min, max) {
              return [min, max + 60];
            },
          },
          y: {
            range: function (_u, _min, max) {
              return [0, Math.max(kind === 'lag' ? 1 : 2, (max || 0) * 1.2)];
            },
          },
        },
        axes: [{ stroke: '#444' }, { stroke: '#444', size: 44 }],
        series: [{}].concat(
          SERIES[kind].map(function (s) {
            return {
              label: s.label,
              stroke: s.stroke,
              fill: s.fill,
              dash: s.dash,
              width: 2,
              spanGaps: kind === 'lag',
              // Lag has values only in minutes that synced something: those show as points.
              points: { show: kind === 'lag', size: 7 },
            };
          }),
        ),
      };
      charts.push({ el: el, kind: kind, flow: flow, plot: new uPlot(opts, columns(kind, flow), el) });
    });
  }

  function update(next) {
    data = next;
    charts.forEach(function (c) {
      c.plot.setData(columns(c.kind, c.flow));
    });
  }

  var timer = null;
  var select = document.getElementById('refresh');
  function schedule() {
    if (timer) clearInterval(timer);
    var seconds = select ? Number(select.value) : 0;
    if (!seconds) return;
    timer = setInterval(function () {
      fetch(base + '/api/overview?range=' + data.rangeMinutes, {
        credentials: 'same-origin',
        headers: { accept: 'application/json' },
      })
        .then(function (r) {
          return r.ok ? r.json() : null;
        })
        .then(function (next) {
          if (next) update({ flows: next.flows, rangeMinutes: next.rangeMinutes });
        })
        .catch(function () {
          /* the next tick tries again */
        });
    }, seconds * 1000);
  }
  if (select) select.addEventListener('change', schedule);

  var resizeTimer = null;
  window.addEventListener('resize', function () {
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(function () {
      charts.forEach(function (c) {
        c.plot.setSize({ width: widthOf(c.el), height: 170 });
      });
    }, 100);
  });

  draw();
  schedule();
  document.documentElement.setAttribute('data-charts', 'drawn');
})();
