// Drives the gateway's playground in a real headless Chromium (Debian's), with every address
// but the loopback one unreachable for the browser, as on a machine without internet access.
// Run by tests/api/browser.rs, which starts the gateway with the demo data:
//
//   GATEWAY_URL=http://127.0.0.1:PORT TOKEN=... CONTACT_ID=... OUT_DIR=/tmp/x node console.mjs
//
// It opens `/` (auto mode: GraphiQL's CDN is unreachable, so the built-in console must open
// within a few seconds), runs a query with the demo token and sees its result, starts a
// subscription, makes a change through the API and sees the event arrive; nothing the page
// loads is refused by its Content-Security-Policy. GraphiQL's CDN answering with altered code is
// refused (Subresource Integrity) and the console opens instead. On failure it
// writes failure.png to OUT_DIR; SCREENSHOT (a path) saves the console with its result.

import { chromium } from "playwright-core";

const base = process.env.GATEWAY_URL;
const token = process.env.TOKEN;
const contactId = process.env.CONTACT_ID;
const outDir = process.env.OUT_DIR || ".";
const executablePath = process.env.CHROMIUM || "/usr/bin/chromium";
if (!base || !token || !contactId) {
  console.error("GATEWAY_URL, TOKEN and CONTACT_ID are required");
  process.exit(2);
}

function check(condition, message) {
  if (!condition) {
    throw new Error(message);
  }
}

const browser = await chromium.launch({
  executablePath,
  headless: true,
  // No network but the gateway's: everything not on loopback goes to a proxy that does not
  // exist, so unpkg.com (GraphiQL's CDN) cannot be reached.
  // (Chromium always bypasses the proxy for loopback addresses.)
  args: ["--proxy-server=http://127.0.0.1:9", "--no-sandbox"],
});
const page = await browser.newPage({ viewport: { width: 1400, height: 800 } });
const blocked = [];
page.on("requestfailed", (request) => {
  if (!request.url().startsWith(base)) {
    blocked.push(request.url());
  }
});
const consoleErrors = [];
page.on("pageerror", (error) => consoleErrors.push(String(error)));
// The page's policy must admit everything the console does (its script, style, fetches and
// its WebSocket): Chromium reports a refused load on the console.
page.on("console", (message) => {
  if (/Content Security Policy/i.test(message.text())) {
    consoleErrors.push(message.text());
  }
});

try {
  // 1. The page is usable within a couple of seconds although the CDN is unreachable.
  const opened = Date.now();
  await page.goto(base + "/");
  await page.waitForSelector("body[data-ready=console]", { timeout: 6000 });
  const usableAfter = Date.now() - opened;
  console.log(`the console was usable after ${usableAfter} ms; blocked: ${blocked.join(", ")}`);
  check(usableAfter < 5000, `the page took ${usableAfter} ms to become usable`);
  check(blocked.some((u) => u.includes("unpkg.com")), "the CDN was tried (auto mode) and blocked");

  // 2. A query with the demo token, run with Ctrl-Enter.
  await page.fill("#token", token);
  await page.fill("#document", "query Me {\n  me { name email role }\n}\n");
  await page.fill("#variables", "");
  await page.focus("#document");
  await page.keyboard.press("Control+Enter");
  await page.waitForFunction(
    () => document.getElementById("response").textContent.includes("owner@demo.test"),
    null,
    { timeout: 5000 }
  );
  const status = await page.textContent("#status");
  check(/^200 /.test(status), `the status line says ${status}`);
  if (process.env.SCREENSHOT) {
    await page.screenshot({ path: process.env.SCREENSHOT });
  }

  // 3. The schema browser and the examples come from the gateway.
  await page.click("button[data-tab=schema]");
  await page.fill("#schema-search", "timelineEvents");
  await page.waitForFunction(
    () => document.getElementById("schema-body").textContent.includes("Root.timelineEvents"),
    null,
    { timeout: 5000 }
  );
  await page.click("button[data-tab=examples]");
  await page.waitForSelector("#examples .item", { timeout: 5000 });

  // 4. A subscription, and an event written through the API arrives.
  await page.fill(
    "#document",
    "subscription Live($id: ID!) {\n  timelineEvents(contactId: $id) { kind summary }\n}\n"
  );
  await page.fill("#variables", JSON.stringify({ id: contactId }));
  await page.click("#run");
  await page.waitForFunction(
    () => document.getElementById("status").textContent.startsWith("Subscribed"),
    null,
    { timeout: 5000 }
  );
  // The server registers the subscription just after acknowledging the connection: write
  // until an event arrives (each attempt is a new note), rather than guess how long that takes.
  let arrived = false;
  for (let attempt = 0; attempt < 10 && !arrived; attempt++) {
    const created = await fetch(base + "/graphql", {
      method: "POST",
      headers: { "Content-Type": "application/json", Authorization: "Bearer " + token },
      body: JSON.stringify({
        query: "mutation ($c: ID!, $s: String!) { createNote(input: { contactId: $c, subject: $s }) { id } }",
        variables: { c: contactId, s: "Seen in the browser " + attempt },
      }),
    }).then((r) => r.json());
    check(!created.errors, "createNote failed: " + JSON.stringify(created));
    arrived = await page
      .waitForFunction(
        () => document.getElementById("response").textContent.includes("Seen in the browser"),
        null,
        { timeout: 1000 }
      )
      .then(() => true, () => false);
  }
  check(arrived, "no event reached the console's subscription");
  check(consoleErrors.length === 0, "script errors: " + consoleErrors.join("; "));
  await page.click("#stop");

  // 5. Auto mode trusts the CDN with nothing: GraphiQL's files are pinned with their hashes
  // (Subresource Integrity), so a CDN answering with other code (a stand-in here, through
  // Playwright's routing: the browser has no internet) is refused and the built-in console
  // opens. While GraphiQL is awaited only the loading line shows, not the unwired console.
  const tampered = await browser.newPage({ viewport: { width: 1400, height: 800 } });
  const served = [];
  let release;
  const held = new Promise((resolve) => (release = resolve));
  await tampered.route("https://unpkg.com/**", async (route) => {
    const url = route.request().url();
    served.push(url);
    await held;
    const css = url.endsWith(".css");
    return route.fulfill({
      status: 200,
      contentType: css ? "text/css" : "text/javascript",
      headers: { "Access-Control-Allow-Origin": "*" },
      body: css
        ? "body { display: none; }"
        : "window.React = window.ReactDOM = window.GraphiQL = { tampered: true };",
    });
  });
  await tampered.goto(base + "/", { waitUntil: "domcontentloaded" });
  await tampered.waitForFunction(() => !document.getElementById("loading").hidden, null, {
    timeout: 3000,
  });
  check(!(await tampered.isVisible("#console")), "the console stays hidden while GraphiQL loads");
  release();
  await tampered.waitForSelector("body[data-ready=console]", { timeout: 6000 });
  check(served.some((u) => /@\d+\.\d+\.\d+\//.test(u)), "exact versions asked for: " + served.join(", "));
  check(await tampered.evaluate(() => window.React === undefined), "the altered script did not run");
  check(await tampered.isVisible("#console"), "the built-in console opened instead");
  check(!(await tampered.isVisible("#graphiql")), "no GraphiQL");
  await tampered.close();
  console.log("ok");
  await browser.close();
} catch (error) {
  const shot = outDir + "/failure.png";
  try {
    await page.screenshot({ path: shot });
    console.error(`screenshot: ${shot}`);
  } catch (_) {
    /* the page is gone */
  }
  console.error(error && error.stack ? error.stack : String(error));
  await browser.close();
  process.exit(1);
}
