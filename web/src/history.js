// Time series kept in the browser from polling /api/pipelines: sluice
// serves current values only, so the console remembers the last
// HISTORY_SECONDS of delay and computes rows/s from the growth of
// rows_applied between two polls. One sample per poll; every series of a
// sample shares its time, which is what uPlot wants (aligned arrays).

export const HISTORY_SECONDS = 15 * 60;

const samples = []; // {t: seconds since epoch, delay: {key: ms}, rows: {key: count}, rate: {key: rows/s}}

export const pipelineKey = (p) => p;
export const targetKey = (p, t) => `${p}\u0000${t}`;

function rate(prev, key, rows, t) {
  if (!prev || prev.rows[key] === undefined) return null;
  const dt = t - prev.t;
  const dr = rows - prev.rows[key];
  if (dt <= 0 || dr < 0) return null; // a restart counts from 0 again
  return dr / dt;
}

export function record(pipelines, now = Date.now() / 1000) {
  const prev = samples[samples.length - 1];
  const s = { t: now, delay: {}, rows: {}, rate: {} };
  for (const p of pipelines) {
    const pk = pipelineKey(p.name);
    s.delay[pk] = p.delay_ms;
    s.rows[pk] = p.rows_applied;
    s.rate[pk] = rate(prev, pk, p.rows_applied, now);
    for (const t of p.targets || []) {
      const tk = targetKey(p.name, t.name);
      s.delay[tk] = t.delay_ms;
      s.rows[tk] = t.rows_applied;
      s.rate[tk] = rate(prev, tk, t.rows_applied, now);
    }
  }
  samples.push(s);
  while (samples.length && samples[0].t < now - HISTORY_SECONDS) samples.shift();
}

// uPlot data for `keys` of `field` ("delay" or "rate"): [times, ...series].
export function seriesData(field, keys) {
  const data = [samples.map((s) => s.t)];
  for (const k of keys) data.push(samples.map((s) => (s[field][k] === undefined ? null : s[field][k])));
  return data;
}

// The latest rows/s of a key (null before two polls).
export function latestRate(key) {
  for (let i = samples.length - 1; i >= 0; --i) {
    const v = samples[i].rate[key];
    if (v !== undefined) return v;
  }
  return null;
}
