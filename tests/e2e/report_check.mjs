// report_check.mjs -- opens an `llmtap report` page in headless Chromium (Debian's, through playwright-core) and says what a user would see.
//
// usage: node report_check.mjs PAGE.html SCREENSHOT.png PROFILE_DIR
// Prints one JSON line: {"console_errors": [...], "page_errors": [...], "requests": [...non-file URLs...],
//   "calls": N (g.call elements), "cards": N, "title": "...", "ready": bool, "svg_width": N}.
import { chromium } from 'playwright-core';

const [page_path, shot, profile] = process.argv.slice(2);
const out = { console_errors: [], page_errors: [], requests: [], calls: -1, cards: -1, ready: false };
const ctx = await chromium.launchPersistentContext(profile, {
	executablePath: '/usr/bin/chromium',
	headless: true,
	args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
		'--disable-component-update', '--disable-sync', '--disable-dev-shm-usage'],
	viewport: { width: 1400, height: 1000 },
});
try {
	const page = await ctx.newPage();
	page.on('console', (m) => { if (m.type() === 'error') out.console_errors.push(m.text()); });
	page.on('pageerror', (e) => out.page_errors.push(String(e)));
	page.on('request', (r) => { if (!r.url().startsWith('file:')) out.requests.push(r.url()); });
	await page.goto('file://' + page_path, { waitUntil: 'load', timeout: 30000 });
	await page.waitForSelector('body[data-ready="1"]', { timeout: 15000 });
	out.ready = true;
	out.calls = await page.locator('#timeline-svg g.call').count();
	out.cards = await page.locator('#cards .card').count();
	out.title = await page.title();
	out.card_text = await page.locator('#cards').innerText();
	out.slowest_rows = await page.locator('#slowest tbody tr').count();
	out.svg_width = await page.locator('#timeline-svg').evaluate((e) => e.getBoundingClientRect().width);
	await page.screenshot({ path: shot, fullPage: true });
} catch (e) {
	out.page_errors.push('driver: ' + String(e));
} finally {
	await ctx.close();
}
console.log(JSON.stringify(out));
