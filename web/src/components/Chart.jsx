// A live time-series chart (uPlot): one line per series, a time axis, and
// the current value of each series above the plot (not only under the
// cursor). `data` is [times in s, ...values]; the chart follows its width.
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { useEffect, useRef } from 'preact/hooks';

export const PALETTE = ['#3b82f6', '#f59e0b', '#10b981', '#ef4444', '#8b5cf6', '#06b6d4', '#ec4899', '#84cc16'];

function lastValue(values) {
  for (let i = values.length - 1; i >= 0; --i) if (values[i] !== null && values[i] !== undefined) return values[i];
  return null;
}

// `floor`: the least top of the y axis (an idle pipeline's flat zero line
// still gets a readable scale).
export function Chart({ title, names, data, format, floor = 1, height = 180, testid }) {
  const box = useRef(null);
  const plot = useRef(null);
  const key = names.join('\u0000');

  useEffect(() => {
    const opts = {
      width: box.current.clientWidth || 600,
      height,
      legend: { show: false },
      cursor: { drag: { x: false, y: false } },
      scales: { x: { time: true }, y: { range: (u, min, max) => [0, Math.max((max ?? 0) * 1.15, floor)] } },
      axes: [
        { stroke: '#8b95a7', grid: { stroke: 'rgba(139,149,167,0.15)' }, ticks: { show: false } },
        {
          stroke: '#8b95a7',
          grid: { stroke: 'rgba(139,149,167,0.15)' },
          ticks: { show: false },
          size: 64,
          values: (u, vals) => vals.map((v) => format(v)),
        },
      ],
      series: [
        {},
        ...names.map((n, i) => ({
          label: n,
          stroke: PALETTE[i % PALETTE.length],
          width: 2,
          fill: names.length === 1 ? PALETTE[0] + '22' : undefined,
          points: { show: false },
          spanGaps: true,
        })),
      ],
    };
    plot.current = new uPlot(opts, data, box.current);
    const resize = new ResizeObserver(() => {
      if (plot.current && box.current) plot.current.setSize({ width: box.current.clientWidth, height });
    });
    resize.observe(box.current);
    return () => {
      resize.disconnect();
      plot.current.destroy();
      plot.current = null;
    };
  }, [key, height, floor]);

  useEffect(() => {
    if (plot.current) plot.current.setData(data);
  }, [data]);

  return (
    <div class="chart" data-testid={testid}>
      <div class="chart-head">
        <span class="chart-title">{title}</span>
        <span class="chart-values">
          {names.map((n, i) => (
            <span class="chart-value" key={n}>
              <i style={{ background: PALETTE[i % PALETTE.length] }} />
              {n} <b>{format(lastValue(data[i + 1] || []))}</b>
            </span>
          ))}
        </span>
      </div>
      <div ref={box} class="chart-plot" />
      {data[0].length < 2 && <div class="chart-wait">collecting samples…</div>}
    </div>
  );
}
