// Drives the gateway's playground in a real headless Chromium (Debian's), with every address
// but the loopback one unreachable for the browser, as on a machine without internet access.
// Run by tests/api/browser.rs, which starts the gateway with the demo data:
//
//   GATEWAY_URL=http://127.0.0.1:PORT TOKEN=... CONTACT_ID=... OUT_DIR=/tmp/x node console.mjs
//
// It opens `/` (auto mode: GraphiQL's CDN is unreachable, so the built-in console must open
// within a few seconds), runs a query with the demo token and sees its result, starts a
// subscription, makes a change through the API and sees the event arrive; nothing the page
// loads is refused by its Content-Security-Policy. Then the demo sign-in (the gateway listens
// on loopback): one click on Ana signs in, `me` answers as her, a refused access token is
// renewed with refreshSession and the query runs again, an access token about to expire is
// renewed on time, `/?console=builtin` opens the console without asking the CDN, sign-out ends
// the session on the server, and Ben (whose password an admin changed) gets the server's
// refusal shown. GraphiQL's CDN answering with altered code is refused (Subresource Integrity)
// and the console opens instead. On failure it writes failure.png to OUT_DIR; SCREENSHOT (a
// path) saves the console signed in as Ana with a result.

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

  // 5. The demo sign-in: the gateway listens on loopback and has the demo organization, so the
  // console offers its staff users; one click signs in with the real signIn mutation and puts
  // the access token in the Headers pane, which wins over the Token field (the owner's).
  await page.waitForSelector('#demo-users button[data-email="ana@demo.test"]', { timeout: 5000 });
  const offered = await page.$$eval("#demo-list button", (buttons) => buttons.map((b) => b.dataset.email));
  check(
    offered.join(" ") === "owner@demo.test admin@demo.test ana@demo.test ben@demo.test",
    "the demo users offered: " + offered.join(" ")
  );
  await page.click('#demo-users button[data-email="ana@demo.test"]');
  await page.waitForSelector("#session:not([hidden])", { timeout: 5000 });
  const who = await page.textContent("#session");
  check(/Ana Member/.test(who) && /ana@demo\.test/.test(who) && /MEMBER/.test(who), "signed in as: " + who);
  const sentHeaders = JSON.parse(await page.inputValue("#headers"));
  check(/^Bearer ey/.test(sentHeaders.Authorization || ""), "the token is in Headers: " + JSON.stringify(sentHeaders));
  const tokenGreyed = () => page.$eval("#token", (input) => input.classList.contains("overridden"));
  check(await tokenGreyed(), "the Token field is shown as not sent");
  const asAna = async () => {
    await page.fill("#document", "{ me { email role } }\n");
    await page.fill("#variables", "");
    await page.click("#run");
    await page.waitForFunction(
      () => /ana@demo\.test[\s\S]*MEMBER|MEMBER[\s\S]*ana@demo\.test/.test(document.getElementById("response").textContent),
      null,
      { timeout: 5000 }
    );
  };
  await asAna();
  if (process.env.SCREENSHOT) {
    await page.screenshot({ path: process.env.SCREENSHOT });
  }
  const stored = () => page.evaluate(() => JSON.parse(localStorage.getItem("threadline.session")));
  const first = await stored();
  check(first && first.user.email === "ana@demo.test", "the session is kept: " + JSON.stringify(first));

  // 6. An access token the server refuses (as an expired one would be) is renewed with
  // refreshSession once and the query runs again. The reload uses `/?console=builtin`, which
  // opens the built-in console in auto mode without asking the CDN.
  await page.evaluate(() => {
    const session = JSON.parse(localStorage.getItem("threadline.session"));
    session.accessToken = "not-a-valid-token";
    localStorage.setItem("threadline.session", JSON.stringify(session));
    localStorage.setItem("threadline.headers", JSON.stringify(JSON.stringify({ Authorization: "Bearer not-a-valid-token" })));
  });
  blocked.length = 0;
  const reopened = Date.now();
  await page.goto(base + "/?console=builtin");
  await page.waitForSelector("body[data-ready=console]", { timeout: 6000 });
  check(Date.now() - reopened < 1500, "?console=builtin does not wait for GraphiQL");
  check(!blocked.some((u) => u.includes("unpkg.com")), "?console=builtin asked the CDN: " + blocked.join(", "));
  await page.waitForSelector("#session:not([hidden])", { timeout: 5000 });
  await asAna();
  const renewed = await stored();
  check(renewed.refreshToken !== first.refreshToken, "the session was renewed after UNAUTHENTICATED");
  check(renewed.accessToken !== "not-a-valid-token", "a new access token");
  check((await page.inputValue("#headers")).includes(renewed.accessToken), "the new token is in Headers");

  // 7. Renewal before expiry: an access token about to expire is renewed on time, unasked.
  await page.evaluate(() => {
    const session = JSON.parse(localStorage.getItem("threadline.session"));
    session.expiresAt = new Date(Date.now() + 1500).toISOString();
    localStorage.setItem("threadline.session", JSON.stringify(session));
  });
  await page.reload();
  await page.waitForSelector("body[data-ready=console]", { timeout: 6000 });
  await page.waitForFunction(
    (previous) => JSON.parse(localStorage.getItem("threadline.session")).refreshToken !== previous,
    renewed.refreshToken,
    { timeout: 5000 }
  );
  const onTime = await stored();
  check(Date.parse(onTime.expiresAt) - Date.now() > 60000, "a fresh access token: " + onTime.expiresAt);
  await asAna();

  // 8. Sign-out: the signOut mutation ends the session on the server (its refresh token no
  // longer works) and the token leaves Headers.
  await page.click("#signout");
  await page.waitForSelector("#session", { state: "hidden", timeout: 5000 });
  check(!(await page.inputValue("#headers")).includes("Authorization"), "the token left Headers");
  check(!(await tokenGreyed()), "the Token field is sent again");
  check((await stored()) === null, "the session is forgotten");
  const afterSignOut = await fetch(base + "/graphql", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({
      query: "mutation ($t: String!) { refreshSession(refreshToken: $t) { accessToken } }",
      variables: { t: onTime.refreshToken },
    }),
  }).then((r) => r.json());
  check(
    afterSignOut.errors && afterSignOut.errors[0].extensions.code === "UNAUTHENTICATED",
    "the signed-out session still refreshes: " + JSON.stringify(afterSignOut)
  );

  // 9. Ben's password was changed by an admin: the picker cannot know, and the console shows
  // the server's refusal instead of hiding it.
  await page.click('#demo-users button[data-email="ben@demo.test"]');
  await page.waitForFunction(
    () => /failed: .*UNAUTHENTICATED/.test(document.getElementById("signin-message").textContent),
    null,
    { timeout: 5000 }
  );
  check(await page.isVisible("#signin-message"), "the refusal is shown");
  check(!(await page.isVisible("#session")), "nobody is signed in");
  check(consoleErrors.length === 0, "script errors: " + consoleErrors.join("; "));

  // 10. Auto mode trusts the CDN with nothing: GraphiQL's files are pinned with their hashes
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
