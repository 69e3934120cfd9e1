// Drives the gateway's playground in a real headless Chromium (Debian's), with every address
// but the loopback one unreachable for the browser, as on a machine without internet access.
// Run by tests/api/browser.rs, which starts the gateway with the demo data:
//
//   GATEWAY_URL=http://127.0.0.1:PORT TOKEN=... CONTACT_ID=... OUT_DIR=/tmp/x node console.mjs
//
// It opens `/` (auto mode: GraphiQL's CDN is unreachable, so the built-in console must open
// within a few seconds), runs a query with the demo token and sees its result, starts a
// subscription, makes a change through the API and sees the event arrive; nothing the page
// loads is refused by its Content-Security-Policy. With GraphiQL's CDN answered by a stand-in,
// GraphiQL alone fills the page. On failure it
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

  // 5. When GraphiQL does load (its CDN answered here by a stand-in: the browser has no
  // internet), GraphiQL alone fills the page: the built-in console is hidden, not left
  // underneath it.
  const withCdn = await browser.newPage({ viewport: { width: 1400, height: 800 } });
  await withCdn.route("https://unpkg.com/**", (route) => {
    const url = route.request().url();
    const body = url.endsWith(".css")
      ? ""
      : url.includes("/react@")
        ? "window.React = { createElement: () => null };"
        : url.includes("/react-dom@")
          ? "window.ReactDOM = { createRoot: (el) => ({ render: () => { el.textContent = 'GraphiQL stand-in'; } }) };"
          : "window.GraphiQL = function () {}; window.GraphiQL.createFetcher = () => null;";
    return route.fulfill({
      status: 200,
      contentType: url.endsWith(".css") ? "text/css" : "text/javascript",
      headers: { "Access-Control-Allow-Origin": "*" },
      body,
    });
  });
  await withCdn.goto(base + "/");
  await withCdn.waitForSelector("body[data-ready=graphiql]", { timeout: 6000 });
  check(await withCdn.isVisible("#graphiql"), "GraphiQL is shown");
  check(!(await withCdn.isVisible("#console")), "the built-in console is hidden under GraphiQL");
  await withCdn.close();
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
