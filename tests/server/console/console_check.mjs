// The console in a real browser (Debian's Chromium, headless), against a
// running `sluice run` with auth: and audit: that console_itest.cc started.
// Prints each step; exits 1 naming the step that failed.
//
// Environment:
//   SLUICE_URL           http://127.0.0.1:PORT
//   SLUICE_PIPELINE      the pipeline's name
//   SLUICE_ADMIN         a user with role admin; SLUICE_VIEWER one with role viewer
//   SLUICE_PASSWORD      their password
//   SLUICE_WRITE_ARGV    JSON argv of a command that writes rows to the pipeline's source
//   SLUICE_CONSOLE_SCREENSHOTS   a directory: save a PNG of each page there (optional)
//   CHROMIUM             the browser (default /usr/bin/chromium)
import { execFileSync } from 'node:child_process';
import { apiAs, env, expect, log, login as loginAs, runCheck, shot } from './check_lib.mjs';

const base = env('SLUICE_URL');
const pipeline = env('SLUICE_PIPELINE');
const admin = env('SLUICE_ADMIN');
const viewer = env('SLUICE_VIEWER');
const password = env('SLUICE_PASSWORD');
const writeArgv = JSON.parse(env('SLUICE_WRITE_ARGV'));
const shots = process.env.SLUICE_CONSOLE_SCREENSHOTS;

const api = (path) => apiAs(base, viewer, password, path);
const status = () => api(`/api/pipelines/${encodeURIComponent(pipeline)}/status`);
const row = `[data-testid="pipeline-row-${pipeline}"]`;
const pageRows = (page) => page.evaluate(`Number(document.querySelector('${row} [data-testid="pipeline-rows"]')?.dataset.value ?? -1)`);
const login = (page, user, pw) => loginAs(page, base, user, pw);

runCheck(async (browser) => {
  const page = await browser.newPage();

  log('a wrong password shows an error on the login page');
  await login(page, admin, password + '-wrong');
  const error = await page.waitFor(`document.querySelector('[data-testid="login-error"]')?.textContent`, 'the login error');
  expect(/wrong user name or password/i.test(error), `login error says "${error}"`);
  expect(await page.evaluate(`location.pathname`) === '/login', 'a failed login left the login page');
  await shot(page, 'login');

  log(`${admin} logs in and sees the overview`);
  await page.type('input[name="password"]', password);
  await page.click('[data-testid="login-submit"]');
  await page.waitFor(`!!document.querySelector('${row}')`, 'the pipeline on the overview');
  const who = await page.text('[data-testid="whoami"]');
  expect(who.includes(admin), `the header names "${who}", not ${admin}`);

  log('the overview shows the API\'s state and rows_applied');
  const s0 = await status();
  expect(s0.state === 'running', `the API says ${s0.state}`);
  await page.waitFor(`document.querySelector('${row} [data-testid="pipeline-state"]')?.textContent === 'running'`, 'state running on the overview');
  let before = await pageRows(page);
  expect(before >= 0 && before <= (await status()).rows_applied, `the page shows ${before} rows applied`);

  log('rows written to the source show up live in the page');
  execFileSync(writeArgv[0], writeArgv.slice(1), { stdio: 'inherit' });
  const deadline = Date.now() + 20000;
  let shown = before;
  let apiRows = before;
  for (;;) {
    apiRows = (await status()).rows_applied;
    shown = await pageRows(page);
    if (apiRows > before && shown === apiRows) break;
    expect(Date.now() < deadline, `the page shows ${shown} rows, the API ${apiRows}, before the write ${before}`);
    await new Promise((r) => setTimeout(r, 200));
  }
  const text = await page.text(`${row} [data-testid="pipeline-rows"]`);
  expect(Number(text.replace(/,/g, '')) === apiRows, `the cell reads "${text}", the API ${apiRows}`);
  if (shots) {
    // A few more writes, spread out, so the charts show a history.
    for (let i = 0; i < 12; i++) {
      for (let k = 0; k < 1 + (i % 4); k++) execFileSync(writeArgv[0], writeArgv.slice(1), { stdio: 'inherit' });
      await new Promise((r) => setTimeout(r, 600));
    }
    await new Promise((r) => setTimeout(r, 400));
  }
  await shot(page, 'overview');

  log('the pipeline page: targets, and Stop makes the pipeline stopped');
  await page.clickUntil(`${row} [data-testid="pipeline-link"]`,
    `!!document.querySelector('[data-testid="targets-table"] tbody tr')`, 'the targets table');
  // Rows per target table, as the API counts them.
  const apiTables = (await status()).targets.flatMap((t) => (t.tables ?? []).map((tb) => ({ target: t.name, ...tb })));
  expect(apiTables.length > 0, 'the API counts rows per table');
  const first = apiTables[0];
  await page.waitFor(
    `(() => { const tr = document.querySelector('[data-testid="table-row-${first.target}-${first.table}"]');
              return !!tr && tr.children[2].textContent.replace(/,/g, '') === '${first.inserts}'; })()`,
    `the tables panel showing ${first.inserts} inserts into ${first.table}`,
  );
  // Each target's applied GTID state (what a source failover resumes from).
  const withGtid = (await status()).targets.find((t) => t.applied_gtid);
  expect(!!withGtid, 'the API gives a target\'s applied GTID state');
  await page.waitFor(
    `[...document.querySelectorAll('[data-testid="target-row-${withGtid.name}"] [data-testid="target-gtid"]')]
       .some((e) => /^GTID \\d+-\\d+-\\d+/.test(e.textContent))`,
    'the targets table showing the applied GTID',
  );
  await shot(page, 'pipeline');
  await page.click('[data-testid="action-stop"]');
  await page.waitFor(`document.querySelector('[data-testid="detail-state"]')?.textContent === 'stopped'`, 'state stopped on the page');
  const stopped = await status();
  expect(stopped.state === 'stopped', `after Stop the API says ${stopped.state}`);
  // The recent events show it too, newest first.
  await page.waitFor(
    `document.querySelector('[data-testid="events-table"] tbody tr')?.textContent.includes('stopped')`,
    'the stop at the top of the recent events',
  );

  log('the audit page shows that stop');
  await page.click('[data-testid="nav-audit"]');
  await page.waitFor(
    `[...document.querySelectorAll('[data-testid="audit-line"]')].some((tr) =>
       tr.querySelector('[data-testid="audit-action"]').textContent === 'pipeline.stop' &&
       tr.querySelector('[data-testid="audit-who"]').textContent === ${JSON.stringify(admin)} &&
       tr.querySelector('[data-testid="audit-object"]').textContent === 'pipeline/${pipeline}' &&
       tr.querySelector('[data-testid="audit-result"]').textContent === 'ok')`,
    'the audit line of the stop',
  );
  await page.type('[data-testid="audit-action"]', 'login');
  await page.waitFor(
    `(() => { const a = [...document.querySelectorAll('[data-testid="audit-line"] [data-testid="audit-action"]')];
              return a.length > 0 && a.every((e) => e.textContent === 'login'); })()`,
    'the audit filtered to logins',
  );
  await page.type('[data-testid="audit-action"]', '');
  await page.waitFor(
    `[...document.querySelectorAll('[data-testid="audit-line"] [data-testid="audit-action"]')].some((e) => e.textContent !== 'login')`,
    'the whole audit log again',
  );
  await shot(page, 'audit');

  log('Start on the pipeline page makes it run again');
  await page.goto(`${base}/#/pipelines/${encodeURIComponent(pipeline)}`);
  await page.click('[data-testid="action-start"]');
  await page.waitFor(`document.querySelector('[data-testid="detail-state"]')?.textContent === 'running'`, 'state running on the page');

  log('the configuration page: masked secrets, server-side validation, a diff before applying');
  await page.click('[data-testid="nav-config"]');
  const yaml = await page.waitFor(`document.querySelector('[data-testid="config-text"]')?.value`, 'the configuration text');
  expect(yaml.includes('pipelines:'), 'the configuration text has no pipelines:');
  expect(!/\$argon2/.test(yaml), 'a password hash is shown in the configuration');
  await page.click('[data-testid="config-text"]');
  await page.evaluate(`(() => { const t = document.querySelector('[data-testid="config-text"]');
                                 t.setSelectionRange(t.value.length, t.value.length); })()`);
  await page.send('Input.insertText', { text: '\nno_such_key: 1\n' });
  await page.click('[data-testid="config-validate"]');
  const verdict = await page.waitFor(`document.querySelector('[data-testid="config-check"]')?.textContent`, 'the validation answer');
  expect(/no_such_key/.test(verdict) && /:\d+/.test(verdict), `validation says "${verdict}"`);
  await page.click('[data-testid="config-show-diff"]');
  const diff = await page.waitFor(`document.querySelector('[data-testid="config-diff"]')?.textContent`, 'the diff');
  expect(diff.includes('no_such_key'), `the diff shows "${diff}"`);
  await shot(page, 'config');

  log('the alarms page answers (or says it is not available)');
  await page.click('[data-testid="nav-alarms"]');
  await page.waitFor(`!!document.querySelector('[data-testid="unavailable"], [data-testid="alarms-table"], .card')`, 'the alarms page');
  await shot(page, 'alarms');

  log(`${viewer} (viewer) sees no actions and is refused a stop`);
  const vpage = await browser.newPage();
  await login(vpage, viewer, password);
  await vpage.waitFor(`!!document.querySelector('${row}')`, 'the overview as viewer');
  await vpage.clickUntil(`${row} [data-testid="pipeline-link"]`, `!!document.querySelector('[data-testid="targets-table"]')`,
    'the pipeline page as viewer');
  expect(!(await vpage.exists('[data-testid="actions"]')), 'a viewer is shown the action buttons');
  expect(!(await vpage.exists('button[data-testid^="action-"]')), 'a viewer is shown an action button');
  const refused = await vpage.evaluate(`fetch('/api/pipelines/${encodeURIComponent(pipeline)}/stop', {method: 'POST',
      headers: {'X-Sluice-CSRF': sessionStorage.getItem('sluice.csrf') ?? ''}}).then((r) => r.status)`);
  expect(refused === 403, `a viewer's stop got ${refused}`);
  expect((await status()).state === 'running', 'the viewer stopped the pipeline');

  return [page, vpage];
});
