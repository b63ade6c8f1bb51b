// Polls a loader every `ms` milliseconds while the component is shown; the
// page updates in place (no reload). Overlapping calls are skipped.
import { useEffect, useRef, useState } from 'preact/hooks';

export function usePoll(load, ms, deps = []) {
  const [state, setState] = useState({ data: null, error: null, loaded: false });
  const busy = useRef(false);
  const tick = useRef(0);
  useEffect(() => {
    let alive = true;
    const run = async () => {
      if (busy.current) return;
      busy.current = true;
      try {
        const data = await load();
        if (alive) setState({ data, error: null, loaded: true });
      } catch (error) {
        if (alive) setState((s) => ({ data: s.data, error, loaded: true }));
      } finally {
        busy.current = false;
      }
    };
    run();
    const id = setInterval(run, ms);
    tick.current = run;
    return () => {
      alive = false;
      clearInterval(id);
    };
  }, deps);
  return { ...state, refresh: () => tick.current && tick.current() };
}
