// The configuration as YAML (secrets masked by the server), edited in the
// browser, validated by the server (the error names file:line:key), shown
// as a diff against the current text before it is applied. The manager
// keeps revisions: apply (PUT /api/config) and roll back. `sluice run`'s
// configuration is its file: the console validates, the file is edited
// and reloaded (SIGHUP) on the machine.
import { useEffect, useState } from 'preact/hooks';
import { get, post, put } from '../api.js';
import { Banner, Head, Loading, Panel, PollError } from '../components/Common.jsx';
import { can, formatTime } from '../format.js';
import { diffLines, withContext } from '../diff.js';

function Diff({ before, after }) {
  const lines = withContext(diffLines(before, after));
  if (!lines.some((l) => l.op === '+' || l.op === '-')) return <div class="muted">No changes.</div>;
  return (
    <pre class="diff" data-testid="config-diff">
      {lines.map((l, i) => (
        <div class={`diff-line op-${l.op === ' ' ? 'same' : l.op === '+' ? 'add' : l.op === '-' ? 'del' : 'gap'}`} key={i}>
          <span class="ln">{l.a ?? ''}</span>
          <span class="ln">{l.b ?? ''}</span>
          <span class="op">{l.op === '…' ? '' : l.op}</span>
          {l.op === '…' ? '⋯' : l.text}
        </div>
      ))}
    </pre>
  );
}

function Revisions({ me, current, onChange }) {
  const [list, setList] = useState(null);
  const [error, setError] = useState(null);
  const load = () => get('/api/config/revisions').then(setList, setError);
  useEffect(() => {
    load();
  }, [current]);
  const rollback = async (n) => {
    try {
      await post('/api/config/rollback', { revision: n, comment: `rollback to ${n} from the console` });
      onChange(`Rolled back to revision ${n}.`);
    } catch (e) {
      setError(e);
    }
  };
  if (error) return <PollError error={error} what="Revisions" />;
  if (!list) return <Loading />;
  return (
    <table class="grid" data-testid="revisions-table">
      <Head columns={['#Revision', 'Created', 'Author', 'Comment', '']} />
      <tbody>
        {[...list].reverse().map((r) => (
          <tr key={r.revision}>
            <td class="num">{r.revision}</td>
            <td>{formatTime(r.created_ms)}</td>
            <td>{r.author}</td>
            <td>{r.comment}</td>
            <td>
              {r.current ? (
                <span class="tag">current</span>
              ) : (
                can(me.role, 'admin') && (
                  <button class="btn small" onClick={() => rollback(r.revision)} data-testid={`rollback-${r.revision}`}>
                    Roll back to {r.revision}
                  </button>
                )
              )}
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

export function Config({ me }) {
  const [current, setCurrent] = useState(null);
  const [error, setError] = useState(null);
  const [text, setText] = useState('');
  const [check, setCheck] = useState(null); // {tone, text}
  const [showDiff, setShowDiff] = useState(false);
  const [comment, setComment] = useState('');
  const manager = me.mode === 'manager';
  const admin = can(me.role, 'admin');

  const load = async (note) => {
    try {
      const c = await get('/api/config');
      setCurrent(c);
      setText(c.yaml);
      setShowDiff(false);
      setCheck(note ? { tone: 'ok', text: note } : null);
    } catch (e) {
      setError(e);
    }
  };
  useEffect(() => {
    load();
  }, []);

  if (error) return <><h1>Configuration</h1><PollError error={error} what="The configuration" why="This sluice does not serve GET /api/config." /></>;
  if (!current) return <Loading />;

  const validate = async () => {
    try {
      const r = await post('/api/config/validate', text, { contentType: 'application/yaml' });
      setCheck({ tone: 'ok', text: `Valid: ${r.pipelines} pipeline${r.pipelines === 1 ? '' : 's'}.` });
      return true;
    } catch (e) {
      setCheck({ tone: 'bad', text: e.message });
      return false;
    }
  };
  const apply = async () => {
    try {
      // author: shown in the revisions list (the audit trail records the user itself).
      const q = new URLSearchParams({ author: me.user, ...(comment ? { comment } : {}) });
      const r = await put(`/api/config?${q}`, text, { contentType: 'application/yaml' });
      setComment('');
      await load(r.created ? `Applied as revision ${r.revision}.` : `Unchanged: revision ${r.revision} already says this.`);
    } catch (e) {
      setCheck({ tone: 'bad', text: e.message });
    }
  };
  const changed = text !== current.yaml;

  return (
    <>
      <h1>Configuration</h1>
      <Panel
        title={manager ? `Revision ${current.revision}` : current.path}
        actions={
          <span class="muted small mono" title="SHA-256 of the file">
            {manager ? `published ${current.published ?? '–'}` : `revision ${String(current.revision).slice(0, 12)}`}
          </span>
        }
      >
        {!manager && (
          <p class="muted small">
            `sluice run` reads this file; validate an edit here, then change the file and send SIGHUP to reload it.
            Secrets are shown masked.
          </p>
        )}
        <textarea
          class="yaml"
          spellcheck={false}
          value={text}
          onInput={(e) => {
            setText(e.target.value);
            setShowDiff(false);
          }}
          readOnly={!admin}
          data-testid="config-text"
        />
        {check && (
          <Banner tone={check.tone} testid="config-check">
            {check.text}
          </Banner>
        )}
        {admin && (
          <div class="action-row">
            <button class="btn" onClick={validate} data-testid="config-validate">
              Validate
            </button>
            <button class="btn" disabled={!changed} onClick={() => setShowDiff(true)} data-testid="config-show-diff">
              Review changes
            </button>
            <button class="btn ghost" disabled={!changed} onClick={() => load()}>
              Discard edits
            </button>
          </div>
        )}
        {showDiff && (
          <div class="review">
            <h3>Changes against the current configuration</h3>
            <Diff before={current.yaml} after={text} />
            {manager && admin && (
              <div class="action-row">
                <input placeholder="comment (optional)" value={comment} onInput={(e) => setComment(e.target.value)} />
                <button class="btn primary" onClick={async () => (await validate()) && apply()} data-testid="config-apply">
                  Validate and apply
                </button>
              </div>
            )}
          </div>
        )}
      </Panel>
      {manager && (
        <Panel title="Revisions">
          <Revisions me={me} current={current.revision} onChange={(note) => load(note)} />
        </Panel>
      )}
    </>
  );
}
