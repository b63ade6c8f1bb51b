// The buttons of a pipeline, shown by role: operators and admins start,
// stop, set the position, run a check, a repair or a snapshot, and move the
// pipeline to another node (manager). A viewer sees none: the server
// refuses them anyway (403), the console just does not offer them.
import { useEffect, useState } from 'preact/hooks';
import { get, pipelinePath, post } from '../api.js';
import { Banner } from '../components/Common.jsx';
import { can } from '../format.js';

export function Actions({ me, p, refresh }) {
  const [busy, setBusy] = useState(null);
  const [result, setResult] = useState(null); // {tone, text}
  const [position, setPosition] = useState('');
  const [nodes, setNodes] = useState([]);
  const [node, setNode] = useState('');
  const manager = me.mode === 'manager';

  useEffect(() => {
    if (!manager || !can(me.role, 'operator')) return;
    get('/api/nodes').then(
      (list) => setNodes(list.map((n) => n.id)),
      () => setNodes([]),
    );
  }, [manager, me.role]);

  if (!can(me.role, 'operator')) {
    return <div class="muted small actions-note">Your role ({me.role}) may look but not change pipelines.</div>;
  }

  const run = async (label, action, body) => {
    setBusy(label);
    setResult(null);
    try {
      const after = await post(pipelinePath(p.name, action), body);
      setResult({ tone: 'ok', text: `${label}: done${after && after.state ? `, now ${after.state}` : ''}.` });
    } catch (e) {
      setResult({ tone: 'bad', text: `${label}: ${e.message}` });
    } finally {
      setBusy(null);
      refresh();
    }
  };
  const stopped = p.state === 'stopped' || p.state === 'failed';

  return (
    <div class="actions" data-testid="actions">
      <div class="action-row">
        <button class="btn" disabled={!!busy || !stopped} onClick={() => run('Start', 'start')} data-testid="action-start">
          Start
        </button>
        <button class="btn danger" disabled={!!busy || p.state === 'stopped'} onClick={() => run('Stop', 'stop')} data-testid="action-stop">
          Stop
        </button>
        <button class="btn" disabled={!!busy} onClick={() => run('Check', 'check')} data-testid="action-check">
          Run check
        </button>
        <button class="btn" disabled={!!busy} onClick={() => run('Repair', 'repair')} title="A check that also repairs what differs" data-testid="action-repair">
          Repair
        </button>
        <button class="btn" disabled={!!busy} onClick={() => run('Snapshot', 'snapshot')} data-testid="action-snapshot">
          Snapshot
        </button>
        <form
          class="inline"
          onSubmit={(e) => {
            e.preventDefault();
            run('Set position', 'position', { position });
          }}
        >
          <input
            class="mono"
            placeholder="binlog.000003:4 or 0-1-100"
            value={position}
            onInput={(e) => setPosition(e.target.value)}
            data-testid="position-input"
          />
          <button class="btn" type="submit" disabled={!!busy || !position} title="The pipeline must be stopped" data-testid="action-position">
            Set position
          </button>
        </form>
        {manager && (
          <form
            class="inline"
            onSubmit={(e) => {
              e.preventDefault();
              run('Move', 'move', { node });
            }}
          >
            <select value={node} onChange={(e) => setNode(e.target.value)} data-testid="move-node">
              <option value="">node…</option>
              {nodes.filter((n) => n !== p.owner).map((n) => (
                <option key={n} value={n}>
                  {n}
                </option>
              ))}
            </select>
            <button class="btn" type="submit" disabled={!!busy || !node} data-testid="action-move">
              Move to node
            </button>
          </form>
        )}
      </div>
      {busy && <div class="muted small">{busy}…</div>}
      {result && (
        <Banner tone={result.tone} testid="action-result">
          {result.text}
        </Banner>
      )}
    </div>
  );
}
