// The console in Chromium (scripts/check-console.sh starts the gateway and
// the mock and sets GATEWAY, ADMIN, CHROMIUM, SHOTS, PROFILE).
"use strict";
const { chromium } = require("playwright-core");

const { GATEWAY, ADMIN, CHROMIUM, SHOTS, PROFILE } = process.env;
const fail = (m) => { throw new Error(m); };

(async () => {
  const ctx = await chromium.launchPersistentContext(PROFILE, {
    executablePath: CHROMIUM,
    headless: true,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
      "--disable-component-update", "--disable-sync", "--no-first-run"],
    viewport: { width: 1200, height: 760 },
  });
  const page = ctx.pages()[0] || (await ctx.newPage());
  const outside = [];
  const violations = [];
  page.on("request", (r) => { if (!r.url().startsWith(GATEWAY)) outside.push(r.url()); });
  page.on("console", (m) => { if (/Content Security Policy/i.test(m.text())) violations.push(m.text()); });
  try {
    // Without the token: the login, nothing else.
    await page.goto(GATEWAY + "/console/");
    await page.waitForSelector("#login:not([hidden])");
    if (await page.isVisible("#tabs")) fail("the views show before logging in");
    if ((await page.locator("#pool-accounts .account").count()) > 0) fail("account data before logging in");
    await page.fill("#token", "wrong-token");
    await page.click("#login-form button");
    await page.waitForSelector("#login-error:text('wrong admin token')");

    // With it: the pool, both accounts with their windows.
    await page.fill("#token", ADMIN);
    await page.click("#login-form button");
    await page.waitForSelector("#tabs:not([hidden])");
    for (const a of ["work", "home"]) {
      await page.waitForSelector(`.account[data-account="${a}"] .bar .fill`, { timeout: 15000 });
    }
    const label = await page.textContent('.account[data-account="work"] .bar .label');
    if (!/% used/.test(label) || !/resets in/.test(label)) fail("no window on the work account: " + label);
    if (page.url().includes(ADMIN)) fail("the token is in the URL");
    const cookies = await ctx.cookies();
    const c = cookies.find((c) => c.name === "codex_pool_console");
    if (!c || !c.httpOnly || c.sameSite !== "Strict") fail("the session cookie is not HttpOnly/SameSite=Strict: " + JSON.stringify(c));
    if (c.value.includes(ADMIN)) fail("the cookie carries the token");
    await page.screenshot({ path: SHOTS + "/console-pool.png" });

    // Keys: create one, its secret shown once; use it.
    await page.click('nav button[data-view="keys"]');
    await page.fill("#key-name", "browser");
    await page.click("#key-form button");
    await page.waitForSelector("#key-secret:not([hidden])");
    const secret = (await page.textContent("#key-secret-value")).trim();
    if (!secret.startsWith("sk-pool-")) fail("no secret shown: " + secret);
    await page.waitForSelector('tr[data-key="browser"]');
    await page.click("#key-secret-close");
    if ((await page.content()).includes(secret)) fail("the secret stays in the page");
    const r = await fetch(GATEWAY + "/v1/chat/completions", {
      method: "POST",
      headers: { authorization: "Bearer " + secret, "content-type": "application/json" },
      body: JSON.stringify({ model: "gpt-5.4", messages: [{ role: "user", content: "from the browser check" }] }),
    });
    if (r.status !== 200) fail("the new key was refused: " + r.status);
    await page.waitForFunction(() => {
      const row = document.querySelector('tr[data-key="browser"]');
      return row && row.children[1].textContent.trim() === "1";
    }, null, { timeout: 15000 });
    await page.screenshot({ path: SHOTS + "/console-keys.png" });

    // Usage: its row appears.
    await page.click('nav button[data-view="usage"]');
    await page.waitForSelector('#usage-table tr[data-usage$="/browser"]', { timeout: 15000 });
    await page.waitForSelector("#usage-chart svg rect");
    await page.screenshot({ path: SHOTS + "/console-usage.png" });
    const csv = await page.evaluate(async () => (await fetch(document.getElementById("usage-csv").getAttribute("href"))).text());
    if (!csv.startsWith("day,key,model,requests") || !/\nbrowser|,browser,/.test(csv)) fail("the CSV export: " + csv);

    // Activity: the request, filterable by key.
    await page.click('nav button[data-view="activity"]');
    await page.fill("#f-key", "browser");
    await page.waitForFunction(() => {
      const rows = [...document.querySelectorAll("#activity-table tbody tr")];
      return rows.length === 1 && rows[0].children[2].textContent === "browser";
    }, null, { timeout: 15000 });
    await page.fill("#f-key", "");
    await page.screenshot({ path: SHOTS + "/console-activity.png" });

    // Accounts: a device-code login from the page adds one.
    await page.click('nav button[data-view="accounts"]');
    await page.fill("#device-name", "added");
    await page.click("#device-form button");
    await page.waitForSelector('[data-login="added"]', { timeout: 15000 });
    await page.waitForSelector('tr[data-account="added"]', { timeout: 30000 });
    await page.waitForSelector('[data-login="added"][data-state="done"]', { timeout: 30000 });
    await page.screenshot({ path: SHOTS + "/console-accounts.png" });

    // A change from a foreign origin is refused, even with the session.
    const session = (await ctx.cookies()).find((c) => c.name === "codex_pool_console");
    const foreign = await fetch(GATEWAY + "/console/api/keys", {
      method: "POST",
      headers: { cookie: session.name + "=" + session.value, origin: "http://evil.example", "content-type": "application/json" },
      body: JSON.stringify({ name: "foreign" }),
    });
    if (foreign.status !== 403) fail("a change from a foreign origin was answered " + foreign.status);

    if (outside.length) fail("the page fetched from outside: " + outside.join(", "));
    if (violations.length) fail("CSP violations: " + violations.join(" | "));
    console.log("console check: ok");
  } catch (e) {
    await page.screenshot({ path: PROFILE + "/../failure.png" }).catch(() => {});
    console.error("console check failed: " + e.message);
    process.exitCode = 1;
  } finally {
    await ctx.close();
  }
})();
