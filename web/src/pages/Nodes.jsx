// The cluster's live nodes (manager: GET /api/nodes), with the pipelines
// each owns and a drain button for operators.
import { useState } from 'preact/hooks';
import { get, post } from '../api.js';
import { Badge, Banner, Head, Loading, Panel, PollError } from '../components/Common.jsx';
import { can } from '../format.js';
import { usePoll } from '../poll.js';
import { href } from '../router.js';

export function Nodes({ me }) {
  const nodes = usePoll(() => get('/api/nodes'), 2000);
  const [result, setResult] = useState(null);
  if (me.mode !== 'manager') {
    return (
      <>
        <h1>Nodes</h1>
        <div class="empty">
          <h3>Nodes exist in cluster mode only</h3>
          <p>This is a `sluice run`: it runs every pipeline itself.</p>
        </div>
      </>
    );
  }
  if (!nodes.loaded) return <Loading />;
  const drain = async (id) => {
    try {
      await post(`/api/nodes/${encodeURIComponent(id)}/drain`);
      setResult({ tone: 'ok', text: `Node ${id} is draining.` });
    } catch (e) {
      setResult({ tone: 'bad', text: `Drain ${id}: ${e.message}` });
    }
    nodes.refresh();
  };
  const list = nodes.data ?? [];
  return (
    <>
      <h1>Nodes</h1>
      <PollError error={nodes.error} what="Nodes" />
      {result && <Banner tone={result.tone}>{result.text}</Banner>}
      <Panel title={`${list.length} live node${list.length === 1 ? '' : 's'}`}>
        <table class="grid" data-testid="nodes-table">
          <Head columns={['Node', 'State', 'Labels', 'Pipelines', 'HTTP', can(me.role, 'operator') && '']} />
          <tbody>
            {list.map((n) => (
              <tr key={n.id}>
                <td>{n.id}</td>
                <td>
                  <Badge state={n.state} />
                </td>
                <td>{(n.labels ?? []).map((l) => <span class="tag" key={l}>{l}</span>)}</td>
                <td>
                  {(n.pipelines ?? []).map((p) => {
                    const name = typeof p === 'string' ? p : p.name;
                    return (
                      <a class="tag link" key={name} href={href('pipelines', name)}>
                        {name}
                      </a>
                    );
                  })}
                </td>
                <td class="mono">{n.http || '–'}</td>
                {can(me.role, 'operator') && (
                  <td>
                    <button class="btn small" disabled={n.state === 'draining'} onClick={() => drain(n.id)}>
                      Drain
                    </button>
                  </td>
                )}
              </tr>
            ))}
          </tbody>
        </table>
      </Panel>
    </>
  );
}
