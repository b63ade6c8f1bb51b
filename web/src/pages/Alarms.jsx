// Alarms (GET /api/alarms): the rules of the configuration and the alarms
// firing now or resolved lately.
import { get } from '../api.js';
import { Badge, Head, Loading, Panel, PollError } from '../components/Common.jsx';
import { formatDuration, formatTime } from '../format.js';
import { usePoll } from '../poll.js';

function ruleText(r) {
  if (typeof r === 'string') return r;
  return [r.when, r.for_s ? `for ${formatDuration(r.for_s)}` : ''].filter(Boolean).join(' ');
}

export function Alarms() {
  const alarms = usePoll(() => get('/api/alarms'), 2000);
  if (!alarms.loaded) return <Loading />;
  if (alarms.error) {
    return (
      <>
        <h1>Alarms</h1>
        <PollError error={alarms.error} what="Alarms" why="This sluice does not serve GET /api/alarms (no alarms: section, or a version without alarms)." />
      </>
    );
  }
  const rules = alarms.data?.rules ?? [];
  const list = alarms.data?.alarms ?? [];
  const firing = list.filter((a) => a.state === 'firing');
  return (
    <>
      <h1>Alarms</h1>
      <div class="cards">
        <div class="card">
          <div class="card-label">Firing</div>
          <div class={`card-value ${firing.length ? 'bad-text' : ''}`}>{firing.length}</div>
        </div>
        <div class="card">
          <div class="card-label">Rules</div>
          <div class="card-value">{rules.length}</div>
        </div>
      </div>
      <Panel title="Alarms">
        {list.length === 0 ? (
          <div class="empty muted">Nothing is firing.</div>
        ) : (
          <table class="grid" data-testid="alarms-table">
            <Head columns={['State', 'Rule', 'Pipeline', 'Target', '#Value', 'Since', 'Message']} />
            <tbody>
              {list.map((a, i) => (
                <tr key={i}>
                  <td>
                    <Badge state={a.state} />
                  </td>
                  <td>{a.rule}</td>
                  <td>{a.pipeline ?? (a.node ? `node ${a.node}` : '–')}</td>
                  <td>{a.target ?? '–'}</td>
                  <td class="num">{a.value ?? '–'}</td>
                  <td class="nowrap">{formatTime(a.since)}</td>
                  <td class="wide">{a.message}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </Panel>
      <Panel title="Rules">
        <table class="grid">
          <Head columns={['Name', 'When']} />
          <tbody>
            {rules.map((r, i) => (
              <tr key={i}>
                <td>{r.name ?? '–'}</td>
                <td class="mono">{ruleText(r)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </Panel>
    </>
  );
}
