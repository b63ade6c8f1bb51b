// Every pipeline at a glance: state, owner (clustered), delay and rows/s
// with live charts, last error. Values update with each poll.
import { Chart } from '../components/Chart.jsx';
import { Badge, ErrorText, Head, Loading, Panel, PollError } from '../components/Common.jsx';
import { formatCount, formatDelay, formatRate } from '../format.js';
import { latestRate, pipelineKey, seriesData } from '../history.js';
import { href } from '../router.js';

function Summary({ list }) {
  const count = (s) => list.filter((p) => p.state === s).length;
  const worst = list.reduce((m, p) => Math.max(m, p.delay_ms ?? 0), 0);
  const cards = [
    ['Pipelines', list.length, 'summary-total'],
    ['Running', count('running'), 'summary-running'],
    ['Failed', count('failed'), 'summary-failed'],
    ['Worst delay', formatDelay(worst), 'summary-delay'],
  ];
  return (
    <div class="cards">
      {cards.map(([label, value, id]) => (
        <div class="card" key={id} data-testid={id}>
          <div class="card-label">{label}</div>
          <div class="card-value">{value}</div>
        </div>
      ))}
    </div>
  );
}

export function Overview({ pipelines }) {
  const { data, error, loaded } = pipelines;
  if (!loaded) return <Loading />;
  const list = data ?? [];
  const clustered = list.some((p) => 'owner' in p);
  const names = list.map((p) => p.name);
  const keys = names.map(pipelineKey);
  return (
    <>
      <h1>Pipelines</h1>
      <PollError error={error} what="Pipelines" />
      <Summary list={list} />
      <div class="charts two">
        <Chart title="Delay" names={names} data={seriesData('delay', keys)} format={formatDelay} floor={1000} testid="chart-delay" />
        <Chart title="Rows applied per second" names={names} data={seriesData('rate', keys)} format={formatRate} floor={10} testid="chart-rate" />
      </div>
      <Panel title="All pipelines">
        {list.length === 0 ? (
          <div class="empty muted">No pipelines in the configuration.</div>
        ) : (
          <table class="grid" data-testid="pipelines-table">
            <Head columns={['Name', 'State', clustered && 'Owner', '#Delay', '#Rows applied', '#Rows/s', 'Last error']} />
            <tbody>
              {list.map((p) => (
                <tr key={p.name} data-testid={`pipeline-row-${p.name}`}>
                  <td>
                    <a href={href('pipelines', p.name)} data-testid="pipeline-link">
                      {p.name}
                    </a>
                  </td>
                  <td>
                    <Badge state={p.state} testid="pipeline-state" />
                  </td>
                  {clustered && (
                    <td data-testid="pipeline-owner">
                      {p.owner ?? <span class="muted">unowned</span>}
                      {p.epoch !== undefined && <span class="muted small"> · epoch {p.epoch}</span>}
                    </td>
                  )}
                  <td class="num" data-testid="pipeline-delay" data-value={p.delay_ms}>
                    {formatDelay(p.delay_ms)}
                  </td>
                  <td class="num" data-testid="pipeline-rows" data-value={p.rows_applied}>
                    {formatCount(p.rows_applied)}
                  </td>
                  <td class="num">{formatRate(latestRate(pipelineKey(p.name)))}</td>
                  <td class="wide">
                    <ErrorText text={p.last_error} />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </Panel>
    </>
  );
}
