// Real-browser test of the web chat's Share button and the shared page (issue 24): the button
// sends /share, the answer links to a read-only page that shows the conversation, escaped, with
// no script running. Usage (started by test_browser):
//   node share.test.mjs <page url> <screenshot dir>
// The server's public_url is https://bot.example.test; links are opened on the page's origin.
import { chromium } from "playwright-core";
import { mkdirSync } from "node:fs";
import assert from "node:assert/strict";

const [url, shots] = process.argv.slice(2);
mkdirSync(shots, { recursive: true });

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM_PATH || "/usr/bin/chromium",
  headless: true,
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-quic",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
let failed = false;
try {
  const context = await browser.newContext({ viewport: { width: 390, height: 760 } });
  const page = await context.newPage();
  const pageErrors = [];
  page.on("pageerror", (error) => pageErrors.push(String(error)));
  await page.goto(url);
  await page.waitForSelector("#status.online", { timeout: 15000 });
  assert.ok(await page.locator("#share").isVisible(), "the share button is shown");

  const hostile = "<img src=x onerror=\"window.__ran=1\"><script>window.__ran=2</script> hi";
  await page.fill("#input", hostile);
  await page.press("#input", "Enter");
  await page.waitForFunction(() => {
    const bubbles = document.querySelectorAll(".msg.assistant:not(.greeting)");
    const last = bubbles[bubbles.length - 1];
    return last && last.textContent.startsWith("echo: ") && !last.classList.contains("thinking");
  }, null, { timeout: 15000 });

  await page.click("#share");
  const link = page.locator('.msg.assistant a[href*="/share/"]').last();
  await link.waitFor({ timeout: 15000 });
  const href = await link.getAttribute("href");
  assert.match(href, /^https:\/\/bot\.example\.test\/share\/[0-9a-f]{48}$/);
  await page.screenshot({ path: `${shots}/share-button.png` });

  const shared = await context.newPage();
  const loads = [];
  shared.on("request", (request) => loads.push(request.url()));
  const sharedErrors = [];
  shared.on("pageerror", (error) => sharedErrors.push(String(error)));
  const local = new URL(new URL(href).pathname, url).toString();
  const response = await shared.goto(local);
  assert.equal(response.status(), 200);
  assert.equal(response.headers()["x-robots-tag"], "noindex, nofollow");
  assert.equal(await shared.getAttribute('meta[name="robots"]', "content"), "noindex, nofollow");
  const text = await shared.locator("main").textContent();
  assert.ok(text.includes(hostile), "the message is shown as text: " + text);
  assert.ok(text.includes("echo: "), "the reply is shown");
  assert.equal(await shared.evaluate(() => window.__ran), undefined, "nothing ran");
  assert.equal(await shared.locator("main img, main script").count(), 0);
  assert.deepEqual(loads, [local], "the page loads nothing else");
  assert.deepEqual(sharedErrors, []);
  await shared.screenshot({ path: `${shots}/shared-page.png` });
  assert.deepEqual(pageErrors, []);
} catch (error) {
  console.error(error);
  failed = true;
} finally {
  await browser.close();
}
process.exit(failed ? 1 : 0);
