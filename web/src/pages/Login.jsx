// The login page (/login, public): POST /api/login answers a session cookie
// (HttpOnly, the browser keeps it) and the CSRF token mutations must send.
import { useState } from 'preact/hooks';
import { post, setCsrf } from '../api.js';

function message(e) {
  if (e.status === 401) return 'Wrong user name or password.';
  if (e.status === 429) return 'Too many failed logins: wait a little and try again.';
  if (e.status === 404) return 'This sluice has no auth: section, so no login is needed.';
  return e.message;
}

export function Login() {
  const [user, setUser] = useState('');
  const [password, setPassword] = useState('');
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);

  const submit = async (ev) => {
    ev.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const r = await post('/api/login', { user, password }, { quiet401: true });
      setCsrf(r.csrf_token);
      location.assign('/#/');
    } catch (e) {
      setError(e);
      setBusy(false);
    }
  };

  return (
    <div class="login-page">
      <form class="login" onSubmit={submit} data-testid="login-form">
        <div class="brand big">
          <img src="/assets/favicon.svg" alt="" width="34" height="34" />
          <span>sluice</span>
        </div>
        <label>
          User
          <input name="user" autocomplete="username" value={user} onInput={(e) => setUser(e.target.value)} autofocus />
        </label>
        <label>
          Password
          <input
            name="password"
            type="password"
            autocomplete="current-password"
            value={password}
            onInput={(e) => setPassword(e.target.value)}
          />
        </label>
        {error && (
          <div class="banner tone-bad" role="alert" data-testid="login-error">
            {message(error)}
            {error.status === 404 && (
              <>
                {' '}
                <a href="/#/">Open the console</a>
              </>
            )}
          </div>
        )}
        <button class="btn primary" type="submit" disabled={busy || !user} data-testid="login-submit">
          {busy ? 'Logging in…' : 'Log in'}
        </button>
      </form>
    </div>
  );
}
