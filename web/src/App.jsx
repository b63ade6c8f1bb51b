// Who is logged in, which page is shown, and the pipelines poll that feeds
// the overview, the detail page and their charts.
import { useEffect, useState } from 'preact/hooks';
import { ApiError, get, post, setCsrf, setUnauthorizedHandler } from './api.js';
import { useRoute, goToLogin } from './router.js';
import { usePoll } from './poll.js';
import { record } from './history.js';
import { Layout } from './components/Layout.jsx';
import { Loading, Banner } from './components/Common.jsx';
import { Login } from './pages/Login.jsx';
import { Overview } from './pages/Overview.jsx';
import { Pipeline } from './pages/Pipeline.jsx';
import { Nodes } from './pages/Nodes.jsx';
import { Config } from './pages/Config.jsx';
import { Audit } from './pages/Audit.jsx';
import { Alarms } from './pages/Alarms.jsx';

export const POLL_MS = 1500;

async function whoami() {
  try {
    const me = await get('/api/whoami', { quiet401: true });
    return { ...me, auth: me.user !== 'anonymous' };
  } catch (e) {
    if (e instanceof ApiError && e.status === 401) return null;
    if (e instanceof ApiError && e.status === 404) return { user: 'unknown', role: 'admin', mode: 'run', auth: false };
    throw e;
  }
}

function Pages({ me, route }) {
  const pipelines = usePoll(async () => {
    const list = await get('/api/pipelines');
    record(list);
    return list;
  }, POLL_MS);
  const props = { me, pipelines };
  switch (route.page) {
    case 'pipeline':
      return <Pipeline {...props} name={route.params.name} />;
    case 'nodes':
      return <Nodes me={me} />;
    case 'config':
      return <Config me={me} />;
    case 'audit':
      return <Audit me={me} />;
    case 'alarms':
      return <Alarms me={me} />;
    default:
      return <Overview {...props} />;
  }
}

export function App() {
  const route = useRoute();
  const [me, setMe] = useState(undefined); // undefined: asking; null: not logged in
  const [error, setError] = useState(null);

  useEffect(() => {
    setUnauthorizedHandler(() => {
      setCsrf(null);
      goToLogin();
    });
    whoami().then(setMe, (e) => setError(e.message));
  }, []);

  if (route.page === 'login') return <Login />;
  if (error) return <Banner>{error}</Banner>;
  if (me === undefined) return <Loading />;
  if (me === null) {
    goToLogin();
    return <Loading />;
  }
  const logout = async () => {
    try {
      await post('/api/logout');
    } finally {
      setCsrf(null);
      location.assign('/login');
    }
  };
  return (
    <Layout me={me} page={route.page} onLogout={logout}>
      <Pages me={me} route={route} />
    </Layout>
  );
}
