// Display formats shared by the pages.

export function formatDelay(ms) {
  if (ms === null || ms === undefined || Number.isNaN(ms)) return '–';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60000) return `${(ms / 1000).toFixed(ms < 10000 ? 2 : 1)} s`;
  if (ms < 3600000) return `${Math.floor(ms / 60000)} m ${Math.round((ms % 60000) / 1000)} s`;
  return `${(ms / 3600000).toFixed(1)} h`;
}

export function formatCount(n) {
  if (n === null || n === undefined || Number.isNaN(n)) return '–';
  return Math.round(n).toLocaleString('en-US');
}

export function formatRate(r) {
  if (r === null || r === undefined || Number.isNaN(r)) return '–';
  if (r >= 100000) return `${(r / 1000).toFixed(0)}k/s`;
  if (r >= 10000) return `${(r / 1000).toFixed(1)}k/s`;
  return `${r < 10 ? r.toFixed(1) : Math.round(r)}/s`;
}

export function formatTime(value) {
  if (value === null || value === undefined || value === '') return '–';
  const d = typeof value === 'number' ? new Date(value) : new Date(value);
  if (Number.isNaN(d.getTime())) return String(value);
  return d.toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z');
}

export function formatDuration(seconds) {
  if (seconds === null || seconds === undefined || seconds < 0) return '–';
  if (seconds < 60) return `${Math.round(seconds)} s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)} m ${Math.round(seconds % 60)} s`;
  return `${Math.floor(seconds / 3600)} h ${Math.round((seconds % 3600) / 60)} m`;
}

// Roles are ordered: a higher one may do all a lower one may.
const RANK = { none: 0, viewer: 1, operator: 2, admin: 3 };
export const can = (role, needed) => (RANK[role] ?? 0) >= RANK[needed];
