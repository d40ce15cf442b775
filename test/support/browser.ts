/**
 * Debian's headless Chromium, driven by playwright-core (no browser download):
 * the report and dashboard tests open their pages here. A page records every
 * console error and uncaught exception, so that a test can fail on any.
 * Screenshots go under `artifacts/screenshots/` (CI keeps the folder).
 */
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import type { Browser, Page } from 'playwright-core';
import { prerequisite } from './prerequisite';

export const CHROMIUM_PATH = '/usr/bin/chromium';
export const SCREENSHOT_DIR = join(__dirname, '..', '..', '..', 'artifacts', 'screenshots');

/** Whether Chromium is installed; missing, a loud skip (a failure under CI=true). */
export function requireChromium(): boolean {
  return prerequisite('Chromium (/usr/bin/chromium)', existsSync(CHROMIUM_PATH), 'apt-get install chromium');
}

export async function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    headless: true,
    // Root in a container has no user namespace for the sandbox; nothing may reach the network beyond loopback.
    args: ['--no-sandbox', '--disable-background-networking', '--disable-component-update', '--disable-sync',
      '--no-first-run', '--disable-default-apps', '--disable-domain-reliability', '--metrics-recording-only'],
  });
}

export interface WatchedPage {
  readonly page: Page;
  /** Console errors, uncaught exceptions and failed requests, in order. */
  readonly errors: string[];
  /** Every URL the page asked for (a self-contained report asks for none but its own). */
  readonly requests: string[];
}

export async function watchedPage(browser: Browser, viewport = { width: 1280, height: 900 }): Promise<WatchedPage> {
  const page = await browser.newPage({ viewport });
  const errors: string[] = [];
  const requests: string[] = [];
  page.on('console', (message) => { if (message.type() === 'error') errors.push(`console: ${message.text()}`); });
  page.on('pageerror', (error) => { errors.push(`exception: ${error.message}`); });
  page.on('requestfailed', (request) => { errors.push(`request failed: ${request.url()} ${request.failure()?.errorText ?? ''}`); });
  page.on('request', (request) => { requests.push(request.url()); });
  return { page, errors, requests };
}

/** Saves a full-page screenshot as `artifacts/screenshots/<name>.png` and returns its path. */
export async function screenshot(page: Page, name: string): Promise<string> {
  mkdirSync(SCREENSHOT_DIR, { recursive: true });
  const path = join(SCREENSHOT_DIR, `${name}.png`);
  await page.screenshot({ path, fullPage: true });
  return path;
}
