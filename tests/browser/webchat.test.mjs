// Real-browser test of the web chat: Debian's Chromium, driven by playwright-core, against the
// real server (started, with a fake LLM, by test_browser). Usage:
//   node webchat.test.mjs <page url> <screenshot dir>
import { chromium } from "playwright-core";
import { mkdirSync } from "node:fs";
import assert from "node:assert/strict";

const [url, shots] = process.argv.slice(2);
mkdirSync(shots, { recursive: true });
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM_PATH || "/usr/bin/chromium",
  headless: true,
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-quic",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
let failed = false;
try {
  // Phone-sized, as most users will see it.
  const context = await browser.newContext({ viewport: { width: 390, height: 760 } });
  const page = await context.newPage();
  const pageErrors = [];
  page.on("pageerror", (error) => pageErrors.push(String(error)));

  await page.goto(url);
  await page.waitForSelector("#status.online", { timeout: 15000 });
  assert.equal(await page.title(), "contactbot");

  // Type, press Enter, and watch the reply grow token by token.
  await page.fill("#input", "hello from the browser");
  await page.press("#input", "Enter");
  const reply = page.locator(".msg.assistant:not(.greeting)").last();
  const expected = "echo: hello from the browser";
  const states = [];
  const deadline = Date.now() + 20000;
  for (;;) {
    const text = await reply.textContent();
    const classes = await reply.getAttribute("class");
    if (!states.length || states.at(-1).text !== text || states.at(-1).classes !== classes) {
      states.push({ text, classes });
    }
    if (text === expected && !classes.includes("thinking")) break;
    assert.ok(Date.now() < deadline, "no complete reply; saw " + JSON.stringify(states));
    await sleep(5);
  }
  assert.ok(states[0].classes.includes("thinking"), "a thinking state was shown first");
  const partial = states.filter((s) => s.text.length > 0 && s.text.length < expected.length);
  assert.ok(partial.length >= 2, "the reply streamed in pieces: " + JSON.stringify(states));
  for (const s of partial) assert.ok(expected.startsWith(s.text), "pieces arrive in order");
  assert.equal(await page.locator(".msg.user").last().textContent(), "hello from the browser");
  await page.screenshot({ path: `${shots}/webchat-reply.png` });

  // A second turn, then a reload: the conversation is still there.
  await page.fill("#input", "second message");
  await page.keyboard.press("Enter");
  await page.waitForFunction(() => {
    const bubbles = document.querySelectorAll(".msg.assistant:not(.greeting)");
    const last = bubbles[bubbles.length - 1];
    return last && last.textContent === "echo: second message" && !last.classList.contains("thinking");
  }, null, { timeout: 15000 });

  await page.reload();
  await page.waitForSelector("#status.online", { timeout: 15000 });
  const history = await page.locator(".msg").allTextContents();
  assert.deepEqual(history, ["hello from the browser", expected, "second message", "echo: second message"]);
  await page.screenshot({ path: `${shots}/webchat-history.png` });

  // A second browser (another profile) is another person: it sees none of it.
  const stranger = await (await browser.newContext()).newPage();
  await stranger.goto(url);
  await stranger.waitForSelector("#status.online", { timeout: 15000 });
  const theirs = await stranger.locator(".msg").allTextContents();
  assert.equal(theirs.length, 1, "only the greeting: " + JSON.stringify(theirs));

  // Replies render as markdown, and nothing in one runs or loads: the fake LLM echoes the
  // message, so this HTML, these javascript: links and images come back as the LLM's reply.
  const loads = [];
  page.on("request", (request) => loads.push(request.url()));
  const hostile = [
    "**bold** and `code` and [safe](https://example.com/page)",
    "",
    "- one",
    "- two",
    "",
    "| a | b |",
    "|---|---|",
    "| 1 | 2 |",
    "",
    '<img src="/pixel.png" onerror="window.__ran = 1"> <script>window.__ran = 2</script>',
    "[click](javascript:window.__ran=3) ![tracker](/tracker.png) ![remote](http://127.0.0.1:9/remote.png)",
    '<iframe src="/frame"></iframe> <a href="javascript:window.__ran=4">x</a> <svg onload="window.__ran=5">',
  ].join("\n");
  await page.fill("#input", hostile);
  await page.press("#input", "Enter");
  await page.waitForFunction(() => {
    const bubbles = document.querySelectorAll(".msg.assistant:not(.greeting)");
    const last = bubbles[bubbles.length - 1];
    return last && last.classList.contains("md") && last.textContent.includes("svg onload");
  }, null, { timeout: 15000 });
  await sleep(500);  // time for anything that would load or run
  const rendered = page.locator(".msg.assistant.md").last();
  assert.equal(await rendered.locator("strong").textContent(), "bold");
  assert.equal(await rendered.locator("code").textContent(), "code");
  assert.deepEqual(await rendered.locator("li").allTextContents(), ["one", "two"]);
  assert.deepEqual(await rendered.locator("td").allTextContents(), ["1", "2"]);
  assert.equal(await page.locator("#messages :is(img, script, iframe, svg, object, embed)").count(), 0);
  assert.equal(await page.evaluate(() => window.__ran), undefined, "a reply ran script");
  const anchors = await page.locator("#messages a").evaluateAll((all) =>
    all.map((a) => ({ href: a.getAttribute("href"), rel: a.rel, text: a.textContent })));
  assert.deepEqual(anchors, [
    { href: "https://example.com/page", rel: "noopener noreferrer nofollow", text: "safe" },
    { href: "http://127.0.0.1:9/remote.png", rel: "noopener noreferrer nofollow", text: "remote" },
  ]);
  const text = await rendered.textContent();
  assert.ok(text.includes("<script>window.__ran = 2</script>"), "HTML shows as text: " + text);
  assert.ok(text.includes("click (javascript:window.__ran=3)"), "a javascript: link is text: " + text);
  const fetched = loads.filter((u) => /pixel|tracker|remote|frame|example\.com/.test(u));
  assert.deepEqual(fetched, [], "a reply made the page load something");
  await page.screenshot({ path: `${shots}/webchat-markdown.png` });

  assert.deepEqual(pageErrors, []);
  console.log("browser test passed; screenshots in " + shots);
} catch (error) {
  failed = true;
  console.error("browser test failed:", error);
} finally {
  await browser.close();
}
process.exit(failed ? 1 : 0);
