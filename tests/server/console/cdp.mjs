// A small driver of Debian's Chromium over the DevTools protocol, for the
// console's browser test (console_check.mjs). No npm package: Node 18
// (Debian 12's) suffices, and no browser is ever downloaded.
//
// Chromium runs headless with --remote-debugging-pipe (the protocol on its
// descriptors 3 and 4, NUL-separated JSON), as a plain child of this
// process: it stays in the process group the test gave this script, so the
// test ends Chromium and its helpers by ending that group.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export class Browser {
  static async launch({ executable = '/usr/bin/chromium', width = 1400, height = 900 } = {}) {
    const profile = mkdtempSync(join(tmpdir(), 'sluice-chromium-'));
    const child = spawn(
      executable,
      [
        '--headless=new',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-dev-shm-usage',
        '--no-first-run',
        '--no-default-browser-check',
        '--disable-extensions',
        '--disable-background-networking',
        '--remote-debugging-pipe',
        `--user-data-dir=${profile}`,
        `--window-size=${width},${height}`,
        // Everything but this machine's loopback fails: the console needs no CDN.
        '--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1',
        'about:blank',
      ],
      { stdio: ['ignore', 'ignore', 'pipe', 'pipe', 'pipe'] },
    );
    const browser = new Browser(child, profile, width, height);
    await new Promise((resolve, reject) => {
      child.once('spawn', resolve);
      child.once('error', (e) => reject(new Error(`cannot start ${executable}: ${e.message}`)));
    });
    await browser.send('Browser.getVersion');
    return browser;
  }

  constructor(child, profile, width, height) {
    this.child = child;
    this.profile = profile;
    this.width = width;
    this.height = height;
    this.nextId = 1;
    this.pending = new Map();
    this.listeners = [];
    this.stderr = '';
    let buffer = Buffer.alloc(0);
    child.stderr.on('data', (d) => {
      this.stderr = (this.stderr + d.toString()).slice(-4000);
    });
    child.stdio[4].on('data', (chunk) => {
      buffer = Buffer.concat([buffer, chunk]);
      for (let end; (end = buffer.indexOf(0)) >= 0; ) {
        const message = JSON.parse(buffer.subarray(0, end).toString());
        buffer = buffer.subarray(end + 1);
        this.dispatch(message);
      }
    });
    child.once('exit', (code, signal) => {
      for (const { reject } of this.pending.values()) {
        reject(new Error(`chromium exited (${signal ?? code}): ${this.stderr.slice(-1500)}`));
      }
      this.pending.clear();
    });
  }

  dispatch(message) {
    if (message.id !== undefined) {
      const p = this.pending.get(message.id);
      if (!p) return;
      this.pending.delete(message.id);
      if (message.error) p.reject(new Error(`${p.method}: ${message.error.message}`));
      else p.resolve(message.result);
      return;
    }
    for (const l of this.listeners) l(message);
  }

  send(method, params = {}, sessionId) {
    const id = this.nextId++;
    const message = { id, method, params };
    if (sessionId) message.sessionId = sessionId;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject, method });
      this.child.stdio[3].write(JSON.stringify(message) + '\0');
    });
  }

  // A page in a context of its own (cookies and storage apart from other
  // contexts: one per user).
  async newPage() {
    const { browserContextId } = await this.send('Target.createBrowserContext');
    const { targetId } = await this.send('Target.createTarget', { url: 'about:blank', browserContextId });
    const { sessionId } = await this.send('Target.attachToTarget', { targetId, flatten: true });
    const page = new Page(this, sessionId);
    await page.send('Page.enable');
    await page.send('Runtime.enable');
    await page.send('Emulation.setDeviceMetricsOverride', {
      width: this.width,
      height: this.height,
      deviceScaleFactor: 1,
      mobile: false,
    });
    this.listeners.push((m) => {
      if (m.sessionId !== sessionId) return;
      if (m.method === 'Runtime.exceptionThrown') page.errors.push(m.params.exceptionDetails.exception?.description ?? m.params.exceptionDetails.text);
      if (m.method === 'Runtime.consoleAPICalled' && m.params.type === 'error') {
        page.errors.push(m.params.args.map((a) => a.value ?? a.description).join(' '));
      }
    });
    return page;
  }

  async close() {
    const exited = new Promise((r) => (this.child.exitCode !== null || this.child.signalCode !== null ? r() : this.child.once('exit', r)));
    this.send('Browser.close').catch(() => {}); // answered, or not, as it exits
    await Promise.race([exited, new Promise((r) => setTimeout(r, 3000))]);
    this.child.kill('SIGKILL'); // its helpers are in our process group: the test ends that
    await exited;
    rmSync(this.profile, { recursive: true, force: true, maxRetries: 5, retryDelay: 100 });
  }
}

export class Page {
  constructor(browser, sessionId) {
    this.browser = browser;
    this.sessionId = sessionId;
    this.errors = []; // uncaught exceptions and console.error of the page
  }

  send(method, params) {
    return this.browser.send(method, params, this.sessionId);
  }

  async goto(url) {
    await this.send('Page.navigate', { url });
    await this.waitFor(`document.readyState === 'complete' && location.href !== 'about:blank'`, `load ${url}`);
  }

  // The value of a JavaScript expression in the page (promises awaited).
  async evaluate(expression) {
    const r = await this.send('Runtime.evaluate', { expression, awaitPromise: true, returnByValue: true });
    if (r.exceptionDetails) {
      throw new Error(`${expression}: ${r.exceptionDetails.exception?.description ?? r.exceptionDetails.text}`);
    }
    return r.result.value;
  }

  // Polls `expression` until it is truthy; its value. Fails after
  // `timeoutMs` naming `what` and the last value.
  async waitFor(expression, what, timeoutMs = 15000) {
    const deadline = Date.now() + timeoutMs;
    let last;
    for (;;) {
      try {
        last = await this.evaluate(expression);
        if (last) return last;
      } catch (e) {
        last = e.message;
      }
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what} (last: ${JSON.stringify(last)})`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  // The text of the first element matching `selector`, or null.
  text(selector) {
    return this.evaluate(`document.querySelector(${JSON.stringify(selector)})?.textContent ?? null`);
  }

  exists(selector) {
    return this.evaluate(`!!document.querySelector(${JSON.stringify(selector)})`);
  }

  // A real mouse click in the middle of the element.
  async click(selector) {
    const box = await this.waitFor(
      `(() => { const e = document.querySelector(${JSON.stringify(selector)});
                if (!e || e.disabled) return null;
                e.scrollIntoView({block: 'center'});
                const r = e.getBoundingClientRect();
                return r.width > 0 ? {x: r.x + r.width / 2, y: r.y + r.height / 2} : null; })()`,
      `a clickable ${selector}`,
    );
    for (const type of ['mouseMoved', 'mousePressed', 'mouseReleased']) {
      await this.send('Input.dispatchMouseEvent', { type, x: box.x, y: box.y, button: 'left', clickCount: 1 });
    }
  }

  // Focuses the field, selects what it holds, and types `text` over it.
  async type(selector, text) {
    await this.click(selector);
    await this.evaluate(`document.querySelector(${JSON.stringify(selector)}).select()`);
    for (const type of ['keyDown', 'keyUp']) {
      await this.send('Input.dispatchKeyEvent', { type, key: 'Backspace', code: 'Backspace', windowsVirtualKeyCode: 8 });
    }
    if (text) await this.send('Input.insertText', { text });
  }

  async screenshot(path, fullPage = true) {
    let clip;
    if (fullPage) {
      const size = await this.evaluate(`({w: document.documentElement.scrollWidth, h: document.documentElement.scrollHeight})`);
      clip = { x: 0, y: 0, width: size.w, height: Math.min(size.h, 2400), scale: 1 };
    }
    await this.evaluate('window.scrollTo(0, 0)');
    const { data } = await this.send('Page.captureScreenshot', { format: 'png', clip, captureBeyondViewport: fullPage });
    writeFileSync(path, Buffer.from(data, 'base64'));
  }
}
