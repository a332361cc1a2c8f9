// Real-browser test of the WeChat iLink self-service binding page (adapters/wechat_ilink/
// bind_page.html): Debian's Chromium, driven by playwright-core, against the real server and a
// FakeIlink that test_browser scripts as wait, need_verifycode (the right number is 1234),
// scaned, confirmed. Usage:
//   node bind_page.test.mjs <page url> <screenshot dir>
import { chromium } from "playwright-core";
import { mkdirSync } from "node:fs";
import assert from "node:assert/strict";

const [url, shots] = process.argv.slice(2);
mkdirSync(shots, { recursive: true });
const step = { timeout: 15000 };

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM_PATH || "/usr/bin/chromium",
  headless: true,
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-quic",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
let failed = false;
try {
  // Phone-sized: the page is opened on the phone that will scan (or from a computer next to it).
  const context = await browser.newContext({ viewport: { width: 390, height: 760 } });
  const page = await context.newPage();
  const problems = [];  // console errors, uncaught exceptions and CSP violations
  page.on("console", (message) => {
    // Chromium asks for /favicon.ico by itself; the server has none. Not the page's doing.
    const favicon = /\/favicon\.ico$/.test(message.location().url || "");
    if (message.type() === "error" && !favicon) {
      problems.push(`console: ${message.text()} (${message.location().url || "page"})`);
    }
  });
  page.on("pageerror", (error) => problems.push("pageerror: " + String(error)));
  const answers = [];  // the bind API's answers, read as they come: no token may be in one
  page.on("response", (response) => {
    if (new URL(response.url()).pathname.includes("/bind/")) {
      answers.push(response.text().then((body) => ({ url: response.url(), body }),
                                        () => ({ url: response.url(), body: "" })));
    }
  });
  await page.addInitScript(() => {
    // CSP violations also reach the console, but not every kind does: report them all.
    document.addEventListener("securitypolicyviolation", (event) =>
      console.error(`CSP violation: ${event.violatedDirective} blocked ${event.blockedURI}`));
    // Every text the status line shows, in order (the page polls, so states pass by).
    window.statusTexts = [];
    document.addEventListener("DOMContentLoaded", () => {
      const status = document.getElementById("status");
      new MutationObserver(() => window.statusTexts.push(status.textContent))
        .observe(status, { childList: true, characterData: true, subtree: true });
    });
  });
  const statusText = () => page.locator("#status").textContent();
  const waitForStatus = (part) =>
    page.waitForFunction((part) => document.getElementById("status").textContent.includes(part),
                         part, step).catch(async (error) => {
      throw new Error(`the status never said "${part}"; it says "${await statusText()}"`,
                      { cause: error });
    });

  const response = await page.goto(url);
  assert.equal(response.status(), 200);
  assert.equal(await page.title(), "Connect WeChat · contactbot");

  // The QR code: an <img> with the server's SVG as a data: URL, which the browser can draw.
  await page.waitForSelector("#qr-box:not([hidden]) #qr", { state: "visible", ...step });
  const qr = await page.locator("#qr").getAttribute("src");
  assert.ok(qr.startsWith("data:image/svg+xml;base64,"), "QR source: " + qr.slice(0, 60));
  assert.ok(Buffer.from(qr.split(",")[1], "base64").toString().includes("<svg"), "an SVG");
  await page.waitForFunction(() => {
    const image = document.getElementById("qr");
    return image.complete && image.naturalWidth > 0;
  }, null, step);
  assert.match(await statusText(), /Scan the QR code with WeChat/);
  assert.ok(await page.locator("#code-form").isHidden(), "no number asked for yet");
  assert.ok(await page.locator("#done").isHidden(), "not done yet");
  await page.screenshot({ path: `${shots}/bind-qr.png` });

  // Scanned: the phone shows a number. The QR code goes, the input comes, with the focus.
  await page.waitForSelector("#code", { state: "visible", ...step });
  await waitForStatus("Enter the number shown on your phone");
  assert.ok(await page.locator("#qr-box").isHidden(), "the QR code is gone");
  assert.equal(await page.evaluate(() => document.activeElement.id), "code");

  // A wrong number first. Its answer is held back until the page has already shown the
  // server's verdict (a slow network): the late answer must not paint over it.
  await page.route((address) => address.pathname.endsWith("/bind/code"), async (route) => {
    const answer = await route.fetch();
    await page.waitForFunction(
      () => document.getElementById("status").textContent.includes("That number was wrong"),
      null, step).catch(() => {});
    await route.fulfill({ response: answer });
  }, { times: 1 });
  await page.fill("#code", "1111");
  await page.press("#code", "Enter");
  await waitForStatus("That number was wrong");
  await page.waitForFunction(() => !document.getElementById("code-send").disabled, null, step);
  assert.match(await statusText(), /That number was wrong/, "still says so after the answer");
  assert.equal(await page.inputValue("#code"), "", "the wrong number was cleared");
  assert.ok(await page.locator("#code").isVisible(), "the input stays for another try");
  await page.screenshot({ path: `${shots}/bind-wrong-code.png` });

  // The right number, with the button this time: checking, scanned, done.
  await page.fill("#code", "1234");
  await page.click("#code-send");
  await page.waitForSelector("#done", { state: "visible", ...step });
  await waitForStatus("Done: the bot is now a contact in your WeChat");
  assert.ok(!(await page.locator("#status").getAttribute("class")).includes("error"));
  for (const part of ["#qr-box", "#code-form", "#start"]) {
    assert.ok(await page.locator(part).isHidden(), part + " is hidden when done");
  }
  const texts = await page.evaluate(() => window.statusTexts);
  const order = ["Scan the QR code", "Enter the number", "That number was wrong", "Checking",
                 "Scanned", "Done"].map((part) => texts.findIndex((text) => text.includes(part)));
  assert.ok(order.every((at, i) => at >= 0 && (i === 0 || at > order[i - 1])),
            "the states in order: " + JSON.stringify(texts));
  // Finished: a reload would start a new binding rather than show this one again.
  assert.equal(await page.evaluate(() => sessionStorage.length), 0);
  await page.screenshot({ path: `${shots}/bind-done.png` });

  // The bot's credentials never reach the browser.
  assert.ok(!(await page.content()).includes("tok-"), "a bot token in the page");
  const bodies = await Promise.all(answers);
  assert.ok(bodies.some((answer) => answer.body.includes("qr_svg")), "status answers were seen");
  for (const answer of bodies) {
    assert.ok(!answer.body.includes("tok-"), `a bot token in the answer of ${answer.url}`);
  }

  assert.deepEqual(problems, []);
  console.log("binding page test passed; screenshots in " + shots);
} catch (error) {
  failed = true;
  console.error("binding page test failed:", error);
} finally {
  await browser.close();
}
process.exit(failed ? 1 : 0);
