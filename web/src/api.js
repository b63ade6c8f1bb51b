// Calls to sluice's HTTP API from the console. The session cookie is
// HttpOnly (the browser sends it); mutations also send the CSRF token from
// the login answer, kept for this tab in sessionStorage so a reload keeps it.

const CSRF_KEY = 'sluice.csrf';
let onUnauthorized = () => {};

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

export function setUnauthorizedHandler(fn) {
  onUnauthorized = fn;
}

export function setCsrf(token) {
  if (token) sessionStorage.setItem(CSRF_KEY, token);
  else sessionStorage.removeItem(CSRF_KEY);
}

// fetch + JSON: resolves to the parsed body, rejects with ApiError (status,
// the server's "error" text). A 401 also tells the app to show the login.
export async function api(method, path, body, { contentType = 'application/json', quiet401 = false } = {}) {
  // X-Requested-With: the server then answers 401 without a Basic challenge
  // (which would make the browser ask for a password itself).
  const headers = { 'X-Requested-With': 'sluice-console' };
  if (method !== 'GET' && method !== 'HEAD') {
    const csrf = sessionStorage.getItem(CSRF_KEY);
    if (csrf) headers['X-Sluice-CSRF'] = csrf;
  }
  let payload;
  if (body !== undefined) {
    headers['Content-Type'] = contentType;
    payload = typeof body === 'string' ? body : JSON.stringify(body);
  }
  let res;
  try {
    res = await fetch(path, { method, headers, body: payload, credentials: 'same-origin', cache: 'no-store' });
  } catch (e) {
    throw new ApiError(0, `sluice did not answer (${e.message})`);
  }
  const text = await res.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = text;
  }
  if (!res.ok) {
    if (res.status === 401 && !quiet401) onUnauthorized();
    const message = data && typeof data === 'object' && data.error ? data.error : `${res.status} ${res.statusText}`;
    throw new ApiError(res.status, message);
  }
  return data;
}

export const get = (path, opts) => api('GET', path, undefined, opts);
export const post = (path, body, opts) => api('POST', path, body, opts);
export const put = (path, body, opts) => api('PUT', path, body, opts);

export const pipelinePath = (name, action) => `/api/pipelines/${encodeURIComponent(name)}/${action}`;
