// The audit trail (GET /api/audit), newest first, filtered by the server on
// who, action and object; refreshed while shown.
import { useState } from 'preact/hooks';
import { get } from '../api.js';
import { Head, Loading, Panel, PollError } from '../components/Common.jsx';
import { formatTime } from '../format.js';
import { usePoll } from '../poll.js';

function Change({ before, after }) {
  if (before == null && after == null) return <span class="muted">–</span>;
  const short = (v) => {
    const s = v == null ? '–' : typeof v === 'object' ? (v.state ?? JSON.stringify(v)) : String(v);
    return s.length > 40 ? s.slice(0, 39) + '…' : s;
  };
  return (
    <span class="mono small nowrap" title={`${JSON.stringify(before)} → ${JSON.stringify(after)}`}>
      {short(before)} → {short(after)}
    </span>
  );
}

export function Audit() {
  const [filter, setFilter] = useState({ who: '', action: '', object: '', limit: '200' });
  const query = new URLSearchParams(Object.entries(filter).filter(([, v]) => v)).toString();
  const lines = usePoll(() => get(`/api/audit?${query}`), 2000, [query]);
  const field = (name, placeholder) => (
    <input
      placeholder={placeholder}
      value={filter[name]}
      onInput={(e) => setFilter({ ...filter, [name]: e.target.value })}
      data-testid={`audit-${name}`}
    />
  );
  return (
    <>
      <h1>Audit log</h1>
      <div class="filters">
        {field('who', 'who')}
        {field('action', 'action, e.g. pipeline.stop')}
        {field('object', 'object, e.g. pipeline/orders')}
        <select value={filter.limit} onChange={(e) => setFilter({ ...filter, limit: e.target.value })}>
          {['50', '200', '1000'].map((n) => (
            <option key={n} value={n}>
              last {n}
            </option>
          ))}
        </select>
      </div>
      {!lines.loaded ? (
        <Loading />
      ) : lines.error ? (
        <PollError error={lines.error} what="The audit log" why="This sluice has no audit: section in its configuration." />
      ) : (
        <Panel>
          <table class="grid" data-testid="audit-table">
            <Head columns={['Time', 'Who', 'Role', 'Action', 'Object', 'Before → after', 'Result']} />
            <tbody>
              {(lines.data?.lines ?? []).map((l, i) => (
                <tr key={i} data-testid="audit-line">
                  <td class="nowrap">{formatTime(l.time)}</td>
                  <td data-testid="audit-who">{l.who || <span class="muted">–</span>}</td>
                  <td>{l.role || <span class="muted">–</span>}</td>
                  <td class="mono nowrap" data-testid="audit-action">
                    {l.action}
                  </td>
                  <td class="mono" data-testid="audit-object">
                    {l.object || '–'}
                  </td>
                  <td>
                    <Change before={l.before} after={l.after} />
                  </td>
                  <td
                    class={`clip ${String(l.result).startsWith('ok') ? 'ok-text' : 'bad-text'}`}
                    title={l.result}
                    data-testid="audit-result"
                  >
                    {l.result}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
          {(lines.data?.lines ?? []).length === 0 && <div class="empty muted">No audit lines match.</div>}
        </Panel>
      )}
    </>
  );
}
