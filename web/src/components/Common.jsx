// Small pieces every page uses: state badges, panels, empty and
// unavailable states, error banners.

const STATE_TONE = {
  running: 'ok',
  online: 'ok',
  resolved: 'ok',
  starting: 'info',
  snapshotting: 'info',
  check: 'info',
  draining: 'warn',
  unowned: 'warn',
  retrying: 'warn',
  paused: 'warn',
  stopped: 'muted',
  failed: 'bad',
  fenced: 'bad',
  firing: 'bad',
};

export function Badge({ state, testid }) {
  const s = state ?? 'unknown';
  return (
    <span class={`badge tone-${STATE_TONE[s] ?? 'muted'}`} data-testid={testid}>
      <i />
      {s}
    </span>
  );
}

export function Panel({ title, actions, children, testid }) {
  return (
    <section class="panel" data-testid={testid}>
      {(title || actions) && (
        <header class="panel-head">
          <h2>{title}</h2>
          <div class="panel-actions">{actions}</div>
        </header>
      )}
      <div class="panel-body">{children}</div>
    </section>
  );
}

export function ErrorText({ text }) {
  if (!text) return <span class="muted">–</span>;
  return (
    <span class="error-text" title={text}>
      {text}
    </span>
  );
}

export function Banner({ tone = 'bad', children, testid = 'banner' }) {
  return (
    <div class={`banner tone-${tone}`} role="alert" data-testid={testid}>
      {children}
    </div>
  );
}

// A page whose API route this sluice does not serve (404): said plainly.
export function Unavailable({ what, why }) {
  return (
    <div class="empty" data-testid="unavailable">
      <h3>{what} not available</h3>
      <p>{why}</p>
    </div>
  );
}

export function Loading() {
  return <div class="empty muted">Loading…</div>;
}

// The answer of a failed poll: 404 is "not here", anything else an error.
export function PollError({ error, what, why }) {
  if (!error) return null;
  if (error.status === 404) return <Unavailable what={what} why={why ?? error.message} />;
  return <Banner>{error.message}</Banner>;
}

// A table's header row: a label per column, "#Label" for a right-aligned
// number column; false or null leaves a column out.
export function Head({ columns }) {
  return (
    <thead>
      <tr>
        {columns
          .filter((c) => c !== false && c !== null)
          .map((c, i) => (c.startsWith('#') ? <th key={i} class="num">{c.slice(1)}</th> : <th key={i}>{c}</th>))}
      </tr>
    </thead>
  );
}
