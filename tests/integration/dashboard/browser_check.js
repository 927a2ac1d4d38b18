// Loads the dashboard in Debian's chromium (driven by playwright-core) and checks what a person
// would see: the named nodes, piece maps whose pieces name the node that supplied them, the
// services' health; then, without reloading, that a node started afterwards appears.
// usage: node browser_check.js URL SCREENSHOT.png FIRST_NODES(comma) LATER_NODE
// Prints "initial ok" once the first view is checked (the caller then starts LATER_NODE).
"use strict";
const fs = require("fs");
const os = require("os");
const path = require("path");
const { chromium } = require("playwright-core");

const [url, screenshot, firstNodes, laterNode] = process.argv.slice(2);
const TIMEOUT_MS = 90_000;

async function main() {
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), "sc-chromium-"));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.SC_CHROMIUM || "/usr/bin/chromium",
    headless: true,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
           "--disable-component-update", "--disable-sync", "--no-first-run"],
  });
  const page = context.pages()[0] || await context.newPage();
  page.setDefaultTimeout(TIMEOUT_MS);
  const errors = [];
  page.on("pageerror", e => errors.push(String(e)));
  try {
    await page.goto(url);
    await page.evaluate(() => { window.__scLoadedOnce = true; });
    for (const n of firstNodes.split(",")) {
      await page.waitForSelector(`#nodes code[data-node="${n}"]`);
    }
    // Piece maps: the leecher's pieces name the seeder that supplied them.
    const [seeder, leecher] = firstNodes.split(",");
    await page.waitForSelector(`.pieces[data-node="${leecher}"] i[data-source="${seeder}"]`);
    const titles = await page.$$eval(`.pieces[data-node="${leecher}"] i`, cells => cells.map(c => c.title));
    if (!titles.length || !titles.every(t => t.endsWith(`from ${seeder}`)))
      throw new Error(`leecher's piece map does not name ${seeder}: ${titles.slice(0, 5).join("; ")}`);
    const legend = await page.textContent(".legend");
    if (!legend.includes(`origin ${seeder}`)) throw new Error(`legend does not show the origin: ${legend}`);
    await page.waitForSelector('#services td:has-text("metastore") + td .ok');
    await page.waitForSelector('#services td:has-text("tracker") + td .ok');
    const before = await page.getAttribute("#summary", "data-generated-at");
    console.log("initial ok");

    // Updates without a reload: the node started now shows up, and the page is the same one.
    await page.waitForSelector(`#nodes code[data-node="${laterNode}"]`);
    const after = await page.getAttribute("#summary", "data-generated-at");
    if (after === before) throw new Error("overview timestamp did not advance");
    if (!(await page.evaluate(() => window.__scLoadedOnce === true))) throw new Error("the page was reloaded");
    if (errors.length) throw new Error("page errors: " + errors.join("; "));
    await page.screenshot({ path: screenshot, fullPage: true });
    console.log("browser check ok");
  } catch (e) {
    await page.screenshot({ path: screenshot, fullPage: true }).catch(() => {});
    throw e;
  } finally {
    await context.close();
    fs.rmSync(profile, { recursive: true, force: true });
  }
}

main().catch(e => {
  console.error("browser check failed:", e.message);
  process.exit(1);
});
