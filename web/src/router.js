// The console's pages live in the URL's #fragment (#/pipelines/NAME), so
// that sluice serves one page at / and a reload or a shared link keeps the
// page. /login is a page of its own (public: no credentials needed).
import { useEffect, useState } from 'preact/hooks';

export function currentRoute() {
  if (location.pathname === '/login') return { page: 'login', params: {} };
  const parts = location.hash.replace(/^#\/?/, '').split('/').filter(Boolean).map(decodeURIComponent);
  const [page = 'overview', ...rest] = parts;
  if (page === 'pipelines' && rest[0]) return { page: 'pipeline', params: { name: rest[0] } };
  return { page, params: {} };
}

export function useRoute() {
  const [route, setRoute] = useState(currentRoute());
  useEffect(() => {
    const update = () => setRoute(currentRoute());
    addEventListener('hashchange', update);
    addEventListener('popstate', update);
    return () => {
      removeEventListener('hashchange', update);
      removeEventListener('popstate', update);
    };
  }, []);
  return route;
}

export const href = (page, param) => (param ? `/#/${page}/${encodeURIComponent(param)}` : `/#/${page}`);

export function goToLogin() {
  if (location.pathname !== '/login') location.assign('/login');
}
