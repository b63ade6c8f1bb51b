// What the console's browser checks (console_check.mjs,
// ../../cluster/console/manager_console_check.mjs) share: their
// environment, step log, the API as the test sees it, screenshots, the
// login form, and running a check in a fresh Chromium.
import { join } from 'node:path';
import { Browser } from './cdp.mjs';

export function env(name) {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set`);
  return v;
}

let step = 'start';
export function log(s) {
  step = s;
  console.log(`console check: ${s}`);
}

export function expect(cond, message) {
  if (!cond) throw new Error(message);
}

// GET through the API with Basic auth, outside the browser.
export async function apiAs(base, user, password, path) {
  const auth = 'Basic ' + Buffer.from(`${user}:${password}`).toString('base64');
  const r = await fetch(base + path, { headers: { Authorization: auth } });
  if (!r.ok) throw new Error(`GET ${path}: ${r.status} ${await r.text()}`);
  return r.json();
}

// A PNG of the page into SLUICE_CONSOLE_SCREENSHOTS, when set.
export async function shot(page, name) {
  const dir = process.env.SLUICE_CONSOLE_SCREENSHOTS;
  if (dir) await page.screenshot(join(dir, `${name}.png`));
}

// Opens the console: without a session it sends the browser to its login
// page, where this fills in and submits the form.
export async function login(page, base, user, password) {
  await page.goto(`${base}/`);
  await page.waitFor(`location.pathname === '/login' && !!document.querySelector('[data-testid="login-form"]')`, 'the login page');
  await page.type('input[name="user"]', user);
  await page.type('input[name="password"]', password);
  await page.click('[data-testid="login-submit"]');
}

// Runs `check(browser)` in a fresh headless Chromium and exits: 0 after
// "console check: ok", 1 naming the step that failed. Uncaught page errors
// fail the check too.
export async function runCheck(check) {
  let browser;
  try {
    browser = await Browser.launch({ executable: process.env.CHROMIUM || '/usr/bin/chromium' });
    const pages = await check(browser);
    const errors = pages.flatMap((p) => p.errors);
    expect(errors.length === 0, `the page reported errors: ${errors.join(' | ')}`);
    console.log('console check: ok');
  } catch (e) {
    console.error(`console check FAILED at "${step}": ${e.message}`);
    process.exitCode = 1;
  } finally {
    if (browser) await browser.close();
  }
}
