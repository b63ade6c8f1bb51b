// The frame around every page: the navigation on the left, who is logged
// in (and with which role) at the top.
import { href } from '../router.js';

const NAV = [
  { page: 'overview', label: 'Pipelines' },
  { page: 'nodes', label: 'Nodes', manager: true },
  { page: 'config', label: 'Configuration' },
  { page: 'audit', label: 'Audit log' },
  { page: 'alarms', label: 'Alarms' },
];

export function Layout({ me, page, onLogout, children }) {
  const active = page === 'pipeline' ? 'overview' : page;
  return (
    <div class="shell">
      <nav class="side">
        <a class="brand" href={href('overview')}>
          <img src="/assets/favicon.svg" alt="" width="26" height="26" />
          <span>sluice</span>
        </a>
        <div class="mode">{me.mode === 'manager' ? 'cluster manager' : me.mode === 'node' ? 'node' : 'sluice run'}</div>
        <ul>
          {NAV.filter((n) => !n.manager || me.mode === 'manager').map((n) => (
            <li key={n.page}>
              <a class={active === n.page ? 'active' : ''} href={href(n.page)} data-testid={`nav-${n.page}`}>
                {n.label}
              </a>
            </li>
          ))}
        </ul>
      </nav>
      <div class="main">
        <header class="top">
          <div class="who" data-testid="whoami">
            <span class="user">{me.user}</span>
            <span class={`role role-${me.role}`}>{me.role}</span>
          </div>
          {me.auth && (
            <button class="btn ghost" onClick={onLogout} data-testid="logout">
              Log out
            </button>
          )}
        </header>
        <main class="content">{children}</main>
      </div>
    </div>
  );
}
