// The console of `sluice manager` in a real browser (Debian's Chromium,
// headless), against the manager that manager_console_itest.cc started
// (auth:, audit:, one pipeline, no node yet). Prints each step; exits 1
// naming the step that failed.
//
// Environment:
//   SLUICE_URL           http://127.0.0.1:PORT of the leading manager
//   SLUICE_PIPELINE      the pipeline's name
//   SLUICE_ADMIN         a user with role admin; SLUICE_VIEWER one with role viewer
//   SLUICE_PASSWORD      their password
//   SLUICE_CONSOLE_SCREENSHOTS   a directory: save a PNG of each page there (optional)
//   CHROMIUM             the browser (default /usr/bin/chromium)
import { apiAs, env, expect, log, login as loginAs, runCheck, shot } from '../../server/console/check_lib.mjs';

const base = env('SLUICE_URL');
const pipeline = env('SLUICE_PIPELINE');
const admin = env('SLUICE_ADMIN');
const viewer = env('SLUICE_VIEWER');
const password = env('SLUICE_PASSWORD');

const api = (path) => apiAs(base, viewer, password, path);
const row = `[data-testid="pipeline-row-${pipeline}"]`;
async function login(page, user) {
  await loginAs(page, base, user, password);
  await page.waitFor(`!!document.querySelector('${row}')`, 'the pipeline on the overview');
}

runCheck(async (browser) => {
  const page = await browser.newPage();

  log(`${admin} logs in to the manager: the overview has the owner column`);
  await login(page, admin);
  const owner = await page.waitFor(`document.querySelector('${row} [data-testid="pipeline-owner"]')?.textContent`, 'the owner cell');
  const listed = (await api('/api/pipelines')).find((p) => p.name === pipeline);
  expect(owner.startsWith(listed.owner ?? 'unowned'), `the owner cell says "${owner}", the API ${listed.owner}`);

  log('the nodes page lists what GET /api/nodes lists');
  await page.click('[data-testid="nav-nodes"]');
  await page.waitFor(`!!document.querySelector('[data-testid="nodes-table"]')`, 'the nodes table');
  const nodes = await api('/api/nodes');
  await page.waitFor(
    `document.querySelectorAll('[data-testid="nodes-table"] tbody tr').length === ${nodes.length}`,
    `${nodes.length} node rows`,
  );
  await shot(page, 'nodes');

  log('the configuration: an edit, its diff, applied as a new revision');
  const before = await api('/api/config');
  await page.click('[data-testid="nav-config"]');
  await page.waitFor(`!!document.querySelector('[data-testid="revisions-table"] tbody tr')`, 'the revisions table');
  await page.click('[data-testid="config-text"]');
  await page.evaluate(`(() => { const t = document.querySelector('[data-testid="config-text"]');
                                 t.setSelectionRange(t.value.length, t.value.length); })()`);
  await page.send('Input.insertText', { text: '# edited in the console\n' });
  await page.click('[data-testid="config-show-diff"]');
  const diff = await page.waitFor(`document.querySelector('[data-testid="config-diff"]')?.textContent`, 'the diff');
  expect(diff.includes('# edited in the console'), `the diff shows "${diff}"`);
  await shot(page, 'config-manager');
  await page.click('[data-testid="config-apply"]');
  // The banner says "Valid: ..." first, then what the PUT answered.
  const applied = await page.waitFor(
    `(() => { const t = document.querySelector('[data-testid="config-check"]')?.textContent;
              return t && !t.startsWith('Valid') ? t : null; })()`,
    'the apply answer',
  );
  expect(applied.includes(`revision ${before.revision + 1}`), `applying says "${applied}"`);
  const after = await api('/api/config');
  expect(after.revision === before.revision + 1 && after.yaml.includes('# edited in the console'), `the API has revision ${after.revision}`);
  expect(!/\$argon2/.test(after.yaml), 'a password hash is in the configuration the API shows');

  log('rollback to the first revision from the revisions list');
  await page.click(`[data-testid="rollback-${before.revision}"]`);
  await page.waitFor(`document.querySelector('[data-testid="config-check"]')?.textContent.includes('Rolled back')`, 'the rollback answer');
  const rolled = await api('/api/config');
  expect(rolled.revision === before.revision + 2 && !rolled.yaml.includes('# edited in the console'), `after the rollback the API has revision ${rolled.revision}`);
  await page.waitFor(
    `document.querySelectorAll('[data-testid="revisions-table"] tbody tr').length === ${before.revision + 2}`,
    'three revisions listed',
  );

  log(`${viewer} (viewer) may read the configuration but not change it`);
  const vpage = await browser.newPage();
  await login(vpage, viewer);
  await vpage.click('[data-testid="nav-config"]');
  await vpage.waitFor(`!!document.querySelector('[data-testid="revisions-table"] tbody tr')`, 'the revisions as viewer');
  expect(await vpage.evaluate(`document.querySelector('[data-testid="config-text"]').readOnly`), 'the viewer may edit the text');
  expect(!(await vpage.exists('[data-testid="config-validate"], [data-testid^="rollback-"]')), 'the viewer is shown validate or rollback');
  await vpage.click('[data-testid="nav-overview"]');
  await vpage.click(`${row} [data-testid="pipeline-link"]`);
  await vpage.waitFor(`!!document.querySelector('[data-testid="detail-state"]')`, 'the pipeline page as viewer');
  expect(!(await vpage.exists('button[data-testid^="action-"]')), 'a viewer is shown an action button');

  return [page, vpage];
});
