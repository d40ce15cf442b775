import { downsample, timeChart } from '../../src/report/document';
import type { ReportDocument } from '../../src/report/document';
import { escapeHtml, renderHtml } from '../../src/report/html';

const EVIL = '</script><script>window.owned = 1</script><!--';

function evilDocument(): ReportDocument {
  return {
    title: `report of ${EVIL}`, subtitle: 'a & b',
    sections: [{
      title: EVIL,
      blocks: [
        { kind: 'table', title: 'hosts', header: ['host', 'value'], rows: [[EVIL, { text: '1.0', value: 1 }]] },
        { kind: 'facts', title: 'facts', rows: [['name', EVIL]] },
        { kind: 'preformatted', title: 'config', text: EVIL },
        timeChart({ id: 'c', title: EVIL, style: 'lines', xValues: [0, 1], y: { label: EVIL },
          series: [{ label: EVIL, values: [1, 2], colour: '#000', aggregate: 'mean' }] }),
        { kind: 'heatmap', id: 'h', title: 'heat', rows: [EVIL, 'host-1'], x: [0], cells: Buffer.from([0, 51]).toString('base64') },
      ],
    }],
  };
}

describe('the HTML of a report', () => {
  test('is self-contained: no address, no external source or link, a policy that forbids any request', () => {
    const { html } = renderHtml(evilDocument());
    expect(html).not.toMatch(/https?:\/\//i);
    expect(html).not.toMatch(/\ssrc\s*=/i);
    expect(html).not.toMatch(/\shref\s*=/i);
    expect(html).toContain(`content="default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:"`);
    // uPlot inlined, with its licence.
    expect(html).toContain('Permission is hereby granted');
    expect(html).toContain('uPlot');
  });

  test('escapes the data: a host named </script> neither ends a script nor becomes markup', () => {
    const { html, charts } = renderHtml(evilDocument());
    expect(charts).toBe(2);
    // The data, uPlot and client.js: three scripts, whatever the strings in the data say.
    expect(html.match(/<script\b/gi)).toHaveLength(3);
    expect(html.match(/<\/script>/gi)).toHaveLength(3);
    expect(html).not.toContain('<script>window.owned');
    expect(html).toContain(escapeHtml(EVIL));
    const json = /<script type="application\/json" id="neat-report-data">(.*?)<\/script>/s.exec(html);
    const data = JSON.parse(json![1]) as { charts: { series?: { label: string }[]; rows?: string[] }[] };
    expect(data.charts[0].series![0].label).toBe(EVIL);
    expect(data.charts[1].rows![0]).toBe(EVIL);
  });
});

describe('downsampling a chart', () => {
  test('at most the bound: equal spans of x, each series by its rule, by hand', () => {
    const x = [0, 1, 2, 3, 4, 5, 6, 7];
    const result = downsample(x, [
      { label: 'count', values: [1, 2, 3, 4, 5, 6, 7, 8], colour: '', aggregate: 'sum' },
      { label: 'level', values: [1, 3, null, null, 5, 7, 0, 2], colour: '', aggregate: 'mean' },
      { label: 'low', values: [4, 2, 9, 8, 1, 5, 3, 6], colour: '', aggregate: 'min' },
      { label: 'high', values: [4, 2, 9, 8, 1, 5, 3, 6], colour: '', aggregate: 'max' },
    ], 4);
    // Span 7/4 = 1.75: x 0,1 → 0; 2,3 → 1; 4,5 → 2; 6,7 → 3.
    expect(result.x).toEqual([0, 2, 4, 6]);
    expect(result.values).toEqual([[3, 7, 11, 15], [2, null, 6, 1], [2, 8, 1, 3], [4, 9, 5, 6]]);
  });

  test('irregular x: only non-empty spans become points, each at its first x; a short series is kept whole', () => {
    const x = [0, 0.1, 0.2, 50, 99, 100];
    const result = downsample(x, [{ label: 'n', values: [1, 1, 1, 1, 1, 1], colour: '', aggregate: 'sum' }], 4);
    expect(result).toEqual({ x: [0, 50, 99], values: [[3, 1, 2]] });
    expect(downsample([1, 2], [{ label: 'n', values: [5, 6], colour: '', aggregate: 'sum' }], 4)).toEqual({ x: [1, 2], values: [[5, 6]] });
  });

  test('a chart over time has at most 2,000 points, and a count keeps its total', () => {
    const n = 100_000;
    const chart = timeChart({ id: 'x', title: 't', style: 'bars', xValues: Array.from({ length: n }, (_, i) => i * 3), y: { label: '' },
      series: [{ label: 'n', values: Array.from({ length: n }, (_, i) => i % 7), colour: '', aggregate: 'sum' }] });
    expect(chart.x.values.length).toBeLessThanOrEqual(2_000);
    expect(chart.x.values.length).toBeGreaterThan(1_900);
    const total = Array.from({ length: n }, (_, i) => i % 7).reduce((a, b) => a + b, 0);
    expect(chart.series[0].values.reduce<number>((a, b) => a + (b ?? 0), 0)).toBe(total);
  });
});
