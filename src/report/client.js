/*
 * The report's drawing, in the browser: reads the chart data inlined in the
 * page (#neat-report-data, written by src/report/html.ts), draws each chart
 * with uPlot and each heatmap on a canvas, and exposes what it drew as
 * `window.neatReport = { charts: [{ id, series, points }], timings }` for
 * tests and the benchmark.
 * Plain browser JavaScript: no build step, no module, no request.
 */
(function () {
  'use strict';

  const ELAPSED_STEPS_S = [1, 5, 10, 30, 60, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400, 172800, 604800, 2592000];

  /** Seconds from the start as `h:mm` (or `m:ss` under ten minutes, `Nd h:mm` from a day). */
  function elapsedText(totalS) {
    if (totalS === null || !isFinite(totalS)) return '';
    const sign = totalS < 0 ? '-' : '';
    const s = Math.round(Math.abs(totalS));
    const days = Math.floor(s / 86400);
    const hours = Math.floor((s % 86400) / 3600);
    const minutes = Math.floor((s % 3600) / 60);
    const seconds = s % 60;
    const mm = String(minutes).padStart(2, '0');
    if (days > 0) return sign + days + 'd ' + hours + ':' + mm;
    if (hours === 0 && s < 600) return sign + minutes + ':' + String(seconds).padStart(2, '0');
    return sign + hours + ':' + mm;
  }

  function numberText(value) {
    if (value === null || value === undefined || !isFinite(value)) return '–';
    const magnitude = Math.abs(value);
    if (magnitude !== 0 && (magnitude < 0.001 || magnitude >= 1e7)) return value.toExponential(3);
    return value.toLocaleString('en', { maximumFractionDigits: magnitude < 1 ? 4 : magnitude < 100 ? 2 : 0 });
  }

  function widthOf(element) {
    return Math.max(320, Math.floor(element.getBoundingClientRect().width) || 800);
  }

  /** A y axis as wide as its longest value, so that its label never sits on the values. */
  function axisSize(self, values, axisIndex, cycle) {
    const axis = self.axes[axisIndex];
    if (cycle > 1) return axis._size;
    let size = axis.ticks.size + axis.gap;
    const longest = (values || []).reduce(function (a, v) { return String(v).length > a.length ? String(v) : a; }, '');
    if (longest !== '') {
      self.ctx.font = axis.font[0];
      size += self.ctx.measureText(longest).width / (window.devicePixelRatio || 1);
    }
    return Math.ceil(size) + 4;
  }

  function yAxis(label, scale, side) {
    const axis = { label: label, scale: scale, stroke: '#333', size: axisSize, values: function (_u, splits) { return splits.map(numberText); } };
    if (side === 1) {
      axis.side = 1;
      axis.grid = { show: false };
    } else {
      axis.grid = { stroke: '#eee' };
    }
    return axis;
  }

  function xAxis(chart) {
    const axis = { label: chart.x.label, stroke: '#333', grid: { stroke: '#eee' } };
    if (chart.x.kind === 'elapsed') {
      axis.incrs = ELAPSED_STEPS_S;
      axis.values = function (_u, splits) { return splits.map(elapsedText); };
    } else if (chart.x.kind === 'category') {
      axis.values = function (_u, splits) { return splits.map(function (x) { return categoryAt(chart, x); }); };
      axis.splits = function () { return categorySplits(chart); };
      axis.grid = { show: false };
      axis.rotate = chart.x.categories.length > 8 ? -30 : 0;
      axis.size = chart.x.categories.length > 8 ? 70 : 40;
    }
    return axis;
  }

  /** Grouped bars: category c's bars sit in slots c·(n+1) … c·(n+1)+n−1, a gap after them. */
  function slotsPerCategory(chart) {
    return chart.series.length + 1;
  }

  function categoryAt(chart, x) {
    const per = slotsPerCategory(chart);
    const index = Math.round((x - (per - 2) / 2) / per);
    return chart.x.categories[index] !== undefined ? chart.x.categories[index] : '';
  }

  function categorySplits(chart) {
    const per = slotsPerCategory(chart);
    return chart.x.categories.map(function (_c, i) { return i * per + (per - 2) / 2; });
  }

  /** The uPlot data and series of a chart, by its style. */
  function plotData(chart) {
    const x = chart.x.values;
    if (chart.style === 'grouped') {
      const per = slotsPerCategory(chart);
      const slots = [];
      for (let i = 0; i < chart.x.categories.length * per - 1; i++) slots.push(i);
      const columns = chart.series.map(function (s, si) {
        return slots.map(function (slot) { return slot % per === si ? s.values[Math.floor(slot / per)] : null; });
      });
      return [slots].concat(columns);
    }
    if (chart.style === 'stacked') {
      const sums = x.map(function () { return 0; });
      const stacked = chart.series.map(function (s) {
        return s.values.map(function (v, i) { sums[i] += v === null ? 0 : v; return sums[i]; });
      });
      // Drawn from the top of the stack down, so that each area covers the one above it only where it reaches.
      return [x].concat(stacked.reverse());
    }
    return [x].concat(chart.series.map(function (s) { return s.values; }));
  }

  function seriesOptions(chart) {
    const bars = uPlot.paths.bars;
    const list = chart.style === 'stacked' ? chart.series.slice().reverse() : chart.series;
    return list.map(function (s, i) {
      const option = { label: s.label, stroke: s.colour, width: 1.5, scale: s.right ? 'y2' : 'y', value: function (_u, v) { return numberText(v); } };
      if (chart.style === 'stacked') {
        const original = chart.series[chart.series.length - 1 - i];
        option.fill = s.colour + 'cc';
        option.value = function (_u, _v, _si, index) { return index === null ? '–' : numberText(original.values[index]); };
      } else if (chart.style === 'band') {
        option.width = i === 1 ? 2 : 1;
        option.dash = i === 1 ? undefined : [4, 3];
      } else if (chart.style === 'bars' || chart.style === 'grouped') {
        option.fill = s.colour + 'cc';
        option.paths = bars({ size: [chart.style === 'grouped' ? 1 : 0.9, 60] });
        option.points = { show: false };
      } else if (chart.style === 'lines') {
        // Two runs compared share one axis of time: each has values only at its own times.
        option.spanGaps = true;
      } else if (chart.style === 'points') {
        option.paths = function () { return null; };
        option.points = { show: true, size: 7, fill: s.colour };
      }
      return option;
    });
  }

  function drawChart(chart, element) {
    const data = plotData(chart);
    const axes = [xAxis(chart), yAxis(chart.y.label, 'y', 3)];
    const scales = { x: { time: false }, y: { auto: true } };
    if (chart.y2) {
      axes.push(yAxis(chart.y2.label, 'y2', 1));
      scales.y2 = { auto: true };
    }
    if (chart.style === 'bars' || chart.style === 'grouped' || chart.style === 'stacked') {
      scales.y.range = function (_u, _min, max) { return [0, max > 0 ? max * 1.05 : 1]; };
    }
    if (chart.style === 'grouped') {
      scales.x.range = function (_u, min, max) { return [min - 0.6, max + 0.6]; };
    } else if (chart.style === 'points') {
      // Room around the outermost points, which would otherwise sit half outside the plot.
      scales.x.range = function (_u, min, max) { const pad = (max - min || 1) * 0.04; return [min - pad, max + pad]; };
    }
    const options = {
      width: widthOf(element),
      height: 300,
      scales: scales,
      axes: axes,
      series: [{ label: chart.x.label, value: function (_u, v) { return chart.x.kind === 'elapsed' ? elapsedText(v) : chart.x.kind === 'category' ? categoryAt(chart, v) : numberText(v); } }]
        .concat(seriesOptions(chart)),
      legend: { live: true },
      cursor: { points: { show: chart.style !== 'grouped' } },
    };
    if (chart.style === 'band') options.bands = [{ series: [3, 1], fill: chart.series[0].colour + '33' }];
    const plot = new uPlot(options, data, element);
    return { plot: plot, series: chart.series.length, points: chart.x.kind === 'category' ? chart.x.categories.length : chart.x.values.length };
  }

  function decodeBase64(text) {
    const binary = atob(text);
    const bytes = new Uint8Array(binary.length);
    for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
    return bytes;
  }

  /** A cell's colour: grey asleep, then from pale yellow (idle) through orange to dark red (100 %). */
  function heatColour(code) {
    if (code === 0) return [215, 215, 215];
    const t = Math.min(1, (code - 1) / 100);
    const stops = [[255, 255, 204], [254, 178, 76], [240, 59, 32], [128, 0, 38]];
    const scaled = t * (stops.length - 1);
    const low = Math.min(stops.length - 2, Math.floor(scaled));
    const f = scaled - low;
    return stops[low].map(function (c, k) { return Math.round(c + (stops[low + 1][k] - c) * f); });
  }

  function drawHeatmap(block, element) {
    const rows = block.rows.length;
    const columns = block.x.length;
    const cells = decodeBase64(block.cells);
    const image = new ImageData(Math.max(1, columns), Math.max(1, rows));
    for (let c = 0; c < columns; c++) {
      for (let r = 0; r < rows; r++) {
        const rgb = heatColour(cells[c * rows + r]);
        const at = (r * columns + c) * 4;
        image.data[at] = rgb[0]; image.data[at + 1] = rgb[1]; image.data[at + 2] = rgb[2]; image.data[at + 3] = 255;
      }
    }
    const source = document.createElement('canvas');
    source.width = image.width; source.height = image.height;
    source.getContext('2d').putImageData(image, 0, 0);
    const left = 90;
    const bottom = 28;
    const width = widthOf(element);
    const plotHeight = Math.min(480, Math.max(120, rows * 2));
    const canvas = document.createElement('canvas');
    const ratio = window.devicePixelRatio || 1;
    canvas.width = width * ratio; canvas.height = (plotHeight + bottom) * ratio;
    canvas.style.width = width + 'px'; canvas.style.height = (plotHeight + bottom) + 'px';
    const g = canvas.getContext('2d');
    g.scale(ratio, ratio);
    // Crisp cells when a cell is a pixel or more; averaged when more hosts or times than pixels share one.
    const plotWidth = width - left - 10;
    g.imageSmoothingEnabled = rows > plotHeight || columns > plotWidth;
    g.drawImage(source, left, 0, plotWidth, plotHeight);
    g.fillStyle = '#333';
    g.font = '12px system-ui, sans-serif';
    g.textAlign = 'right';
    g.textBaseline = 'top';
    g.fillText(block.rows[0] || '', left - 6, 0);
    g.textBaseline = 'bottom';
    g.fillText(block.rows[rows - 1] || '', left - 6, plotHeight);
    g.textBaseline = 'top';
    g.textAlign = 'center';
    const startS = block.x[0];
    const endS = columns > 1 ? block.x[columns - 1] + (block.x[columns - 1] - startS) / (columns - 1) : startS + 1;
    // Ticks on round times, about a hundred pixels apart.
    const wanted = Math.max(2, Math.floor(plotWidth / 100));
    const step = ELAPSED_STEPS_S.find(function (s) { return (endS - startS) / s <= wanted; }) || ELAPSED_STEPS_S[ELAPSED_STEPS_S.length - 1];
    g.textAlign = 'center';
    for (let t = Math.ceil(startS / step) * step; t <= endS; t += step) {
      const at = left + (plotWidth * (t - startS)) / (endS - startS);
      g.fillRect(at, plotHeight, 1, 4);
      g.fillText(elapsedText(t), at, plotHeight + 6);
    }
    element.appendChild(canvas);
    const readout = document.createElement('div');
    readout.className = 'note';
    readout.textContent = 'Point at a cell for its host, time and utilisation.';
    element.appendChild(readout);
    canvas.addEventListener('mousemove', function (event) {
      const box = canvas.getBoundingClientRect();
      const c = Math.floor(((event.clientX - box.left - left) / plotWidth) * columns);
      const r = Math.floor(((event.clientY - box.top) / plotHeight) * rows);
      if (c < 0 || c >= columns || r < 0 || r >= rows) return;
      const code = cells[c * rows + r];
      readout.textContent = block.rows[r] + ' at ' + elapsedText(block.x[c]) + ': ' + (code === 0 ? 'asleep' : (code - 1) + ' %');
    });
    return { series: rows, points: columns };
  }

  const data = JSON.parse(document.getElementById('neat-report-data').textContent);
  const drawn = [];
  const plots = [];
  // Milliseconds from the start of navigation, for the benchmark: the first chart drawn, and all of them.
  const timings = { firstChartMs: null, allChartsMs: null };
  data.charts.forEach(function (block) {
    const element = document.getElementById('chart-' + block.id);
    const result = block.kind === 'heatmap' ? drawHeatmap(block, element) : drawChart(block, element);
    if (result.plot) plots.push({ plot: result.plot, element: element });
    drawn.push({ id: block.id, kind: block.kind, series: result.series, points: result.points });
    if (timings.firstChartMs === null) timings.firstChartMs = performance.now();
  });
  timings.allChartsMs = performance.now();
  window.addEventListener('resize', function () {
    plots.forEach(function (p) { p.plot.setSize({ width: widthOf(p.element), height: 300 }); });
  });
  window.neatReport = { charts: drawn, timings: timings };
})();
