// One pipeline: per-target state, position, delay, rows and rows/s with
// live charts, rows per target table, snapshot progress per table, the consistency check, and the
// actions the logged-in role may run, and the recent events.
import { Chart } from '../components/Chart.jsx';
import { Badge, Banner, ErrorText, Head, Loading, Panel, PollError } from '../components/Common.jsx';
import { formatCount, formatDelay, formatDuration, formatRate, formatTime } from '../format.js';
import { latestRate, seriesData, targetKey } from '../history.js';
import { href } from '../router.js';
import { Actions } from './PipelineActions.jsx';

function Targets({ p }) {
  if (!p.targets?.length) {
    return (
      <div class="empty muted" data-testid="targets-empty">
        No target status{p.state === 'unowned' ? ': no node runs this pipeline right now' : ''}.
      </div>
    );
  }
  return (
    <table class="grid" data-testid="targets-table">
      <Head columns={['Target', 'State', 'Applied position', '#Delay', '#Rows applied', '#Rows/s', 'Last error']} />
      <tbody>
        {p.targets.map((t) => (
          <tr key={t.name} data-testid={`target-row-${t.name}`}>
            <td>{t.name}</td>
            <td>
              <Badge state={t.state} />
            </td>
            <td class="mono">
              {t.applied_position || '–'}
              {t.applied_gtid && (
                <div class="muted" data-testid="target-gtid" title="the source's GTID state there (a failover resumes from it)">
                  GTID {t.applied_gtid}
                </div>
              )}
            </td>
            <td class="num">{formatDelay(t.delay_ms)}</td>
            <td class="num" data-testid="target-rows">
              {formatCount(t.rows_applied)}
            </td>
            <td class="num">{formatRate(t.rows_per_second ?? latestRate(targetKey(p.name, t.name)))}</td>
            <td class="wide">
              <ErrorText text={t.last_error} />
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

// Rows applied per target table and operation, and each table's delay.
function Tables({ p }) {
  const rows = (p.targets ?? []).flatMap((t) => (t.tables ?? []).map((tb) => ({ target: t.name, ...tb })));
  if (!rows.length) return <div class="empty muted">No row applied yet.</div>;
  return (
    <table class="grid" data-testid="tables-table">
      <Head columns={['Target', 'Table', '#Inserts', '#Updates', '#Deletes', '#Delay']} />
      <tbody>
        {rows.map((r) => (
          <tr key={`${r.target}/${r.table}`} data-testid={`table-row-${r.target}-${r.table}`}>
            <td>{r.target}</td>
            <td class="mono">{r.table}</td>
            <td class="num">{formatCount(r.inserts)}</td>
            <td class="num">{formatCount(r.updates)}</td>
            <td class="num">{formatCount(r.deletes)}</td>
            <td class="num">{formatDelay(r.delay_ms)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function Snapshot({ s }) {
  return (
    <Panel title={`Snapshot: ${s.phase}`} testid="snapshot">
      {s.error && <Banner>{s.error}</Banner>}
      <table class="grid">
        <Head columns={['Source table', 'Target table', 'Progress', '#Rows copied', '#Rows/s', '#ETA']} />
        <tbody>
          {s.tables.map((t) => {
            const pct = t.finished
              ? 100
              : t.chunks_total > 0
                ? (100 * t.chunks_done) / t.chunks_total
                : t.rows_estimate > 0
                  ? Math.min(99, (100 * t.rows_copied) / t.rows_estimate)
                  : 0;
            return (
              <tr key={t.source}>
                <td>{t.source}</td>
                <td>{t.target}</td>
                <td>
                  <div class="bar">
                    <div class="bar-fill" style={{ width: `${pct}%` }} />
                  </div>
                  <span class="small muted">{t.finished ? 'done' : `${pct.toFixed(0)}%`}</span>
                </td>
                <td class="num">
                  {formatCount(t.rows_copied)} <span class="muted">/ ~{formatCount(t.rows_estimate)}</span>
                </td>
                <td class="num">{formatRate(t.rows_per_second)}</td>
                <td class="num">{t.finished ? '–' : formatDuration(t.eta_seconds)}</td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </Panel>
  );
}

function Check({ c }) {
  const items = [
    ['State', <Badge state={c.state} />],
    ['Runs', formatCount(c.runs)],
    ['Last finished', formatTime(c.last_finished_ms)],
    ['Took', formatDuration(c.last_duration_s)],
    ['Missing', formatCount(c.missing)],
    ['Extra', formatCount(c.extra)],
    ['Different', formatCount(c.different)],
    ['Repaired rows', formatCount(c.repaired_rows)],
  ];
  return (
    <Panel title="Consistency check" testid="check">
      {c.error && <Banner>{c.error}</Banner>}
      <dl class="facts">
        {items.map(([k, v]) => (
          <div key={k}>
            <dt>{k}</dt>
            <dd>{v}</dd>
          </div>
        ))}
      </dl>
    </Panel>
  );
}

// The pipeline's recent history (status "events", newest first): state
// changes of the pipeline and of each target with their errors, checks and
// snapshots.
const BAD_STATES = new Set(['retrying', 'failed', 'fenced', 'paused']);

function Events({ events }) {
  if (!events?.length) return null;
  return (
    <Panel title="Recent events" testid="events">
      <table class="grid" data-testid="events-table">
        <Head columns={['Time', 'Target', 'Event', 'Message']} />
        <tbody>
          {events.map((e, i) => (
            <tr key={`${e.time_ms}-${i}`}>
              <td class="mono">{formatTime(e.time_ms)}</td>
              <td>{e.target ?? '–'}</td>
              <td>
                {e.what === 'check' || e.what === 'snapshot' ? e.what : <Badge state={e.what} />}
              </td>
              <td>
                {!e.message ? '–' : BAD_STATES.has(e.what) ? <ErrorText text={e.message} /> : e.message}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </Panel>
  );
}

export function Pipeline({ me, pipelines, name }) {
  const { data, error, loaded, refresh } = pipelines;
  if (!loaded) return <Loading />;
  const p = (data ?? []).find((x) => x.name === name);
  if (!p) {
    return (
      <>
        <PollError error={error} what="Pipelines" />
        <Banner>
          No pipeline named “{name}”. <a href={href('overview')}>All pipelines</a>
        </Banner>
      </>
    );
  }
  const targets = (p.targets ?? []).map((t) => t.name);
  const keys = targets.map((t) => targetKey(p.name, t));
  return (
    <>
      <div class="title-row">
        <h1>
          <a class="crumb" href={href('overview')}>
            Pipelines
          </a>{' '}
          / <span data-testid="pipeline-name">{p.name}</span>
        </h1>
        <Badge state={p.state} testid="detail-state" />
      </div>
      <PollError error={error} what="Pipelines" />
      {p.last_error && <Banner>{p.last_error}</Banner>}
      <Actions me={me} p={p} refresh={refresh} />
      <dl class="facts wide-facts">
        <div>
          <dt>Source position</dt>
          <dd class="mono">{p.source_position || '–'}</dd>
        </div>
        <div>
          <dt>Applied position</dt>
          <dd class="mono" data-testid="applied-position">
            {p.applied_position || '–'}
          </dd>
        </div>
        <div>
          <dt>Delay</dt>
          <dd>{formatDelay(p.delay_ms)}</dd>
        </div>
        <div>
          <dt>Rows applied</dt>
          <dd data-testid="detail-rows">{formatCount(p.rows_applied)}</dd>
        </div>
        {'owner' in p && (
          <div>
            <dt>Owner</dt>
            <dd>
              {p.owner ?? 'unowned'} <span class="muted">epoch {p.epoch}</span>
            </dd>
          </div>
        )}
      </dl>
      <div class="charts two">
        <Chart title="Delay per target" names={targets} data={seriesData('delay', keys)} format={formatDelay} floor={1000} testid="chart-target-delay" />
        <Chart title="Rows/s per target" names={targets} data={seriesData('rate', keys)} format={formatRate} floor={10} testid="chart-target-rate" />
      </div>
      <Panel title="Targets">
        <Targets p={p} />
      </Panel>
      <Panel title="Tables" testid="tables">
        <Tables p={p} />
      </Panel>
      {p.snapshot && <Snapshot s={p.snapshot} />}
      {p.check && <Check c={p.check} />}
      <Events events={p.events} />
    </>
  );
}
