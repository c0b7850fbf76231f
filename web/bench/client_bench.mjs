// Benchmark of the web client in headless Chromium (docs/BENCHMARKS.md,
// "Web client"): time from page start to filled dropdowns on the example
// page with 339 hospitals, cold (empty IndexedDB, lists from nginx) against
// warm (IndexedDB) offline and online, in one browser, runs alternating;
// then the bytes of a one-change update by diff against the full snapshot.
// Prints figures only; asserts nothing about time.
//
//   web/bench/run [--runs N]     (default 7)
import fs from "node:fs";
import path from "node:path";
import { World } from "../test/fixture.mjs";

const runs = Number(process.argv[process.argv.indexOf("--runs") + 1]) || 7;
const HOSPITALS = "rcpch/organisations/limited/index.json";
const TOTAL_HOSPITALS = 339;  // the live API's count in CheckTick's notes

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[s.length >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

const world = new World();
try {
  // The mirror's 37 hospitals and made-up ones up to 339, in the API's name
  // order. Made-up place names (seeded, from syllables) so that gzip finds no
  // more repetition than in real names.
  let seed = 12;
  const random = (n) => { seed = (seed * 1103515245 + 12345) % 2147483648; return seed % n; };
  const syllables = ["ash", "bor", "cal", "den", "ed", "fair", "gran", "hal", "ing", "kes", "lan", "mor", "nor", "ock",
                     "pen", "ri", "stow", "thorn", "ul", "ven", "wick", "yard", "ley", "ton", "ham", "by", "ford", "mouth"];
  const kinds = ["HOSPITAL", "GENERAL HOSPITAL", "COMMUNITY HOSPITAL", "DISTRICT GENERAL HOSPITAL", "ROYAL INFIRMARY",
                 "UNIVERSITY HOSPITAL", "CHILDREN'S HOSPITAL", "MEMORIAL HOSPITAL", "COTTAGE HOSPITAL"];
  const place = () => Array.from({ length: 2 + random(2) }, () => syllables[random(syllables.length)]).join("").toUpperCase();
  world.editMirror(HOSPITALS, (hospitals) => {
    for (let i = hospitals.length; i < TOTAL_HOSPITALS; i++) {
      const code = `R${"ABCDEFGHJKLMNPQRSTVWXYZ"[random(23)]}${"0123456789ABCDEFGHJKLMNPQRSTVWXYZ"[random(33)]}${String(random(100)).padStart(2, "0")}`;
      hospitals.push({ ods_code: `${code}${i}`, name: `${place()} ${kinds[random(kinds.length)]}` });
    }
    hospitals.sort((a, b) => a.name.localeCompare(b.name));
  });
  await world.start();
  world.refresh();
  await world.serve();
  const count = world.show("hospitals_england_wales").options.length;
  const browser = await world.launchBrowser();
  const url = world.exampleUrl();

  /** ms from navigation start to filled; pushes module start to filled (the client's share) to own. */
  const own = { cold: [], warmOffline: [], warmOnline: [], none: [] };
  /** ms from navigation start until the HTML was received (through the service worker when warm). */
  const html = { cold: [], warmOffline: [], warmOnline: [], none: [] };
  const filledMs = async (page, bucket = "none") => {
    await page.goto(url);
    await page.waitForSelector("body[data-filled]", { timeout: 30000 });
    const [ms, moduleMs, htmlMs] = await page.evaluate(() => [window.datasnapFilledMs, window.datasnapModuleMs,
      performance.getEntriesByType("navigation")[0].responseEnd]);
    html[bucket].push(htmlMs);
    await page.waitForSelector("body[data-ready]", { timeout: 30000 });
    own[bucket].push(ms - moduleMs);
    return ms;
  };

  const cold = [], warmOffline = [], warmOnline = [];
  for (let i = 0; i < runs; i++) {
    const context = await browser.newContext();  // empty IndexedDB, caches, service worker
    const page = await context.newPage();
    cold.push(await filledMs(page, "cold"));
    // Alternate which warm case goes first.
    const warm = [async () => { await context.setOffline(true); warmOffline.push(await filledMs(page, "warmOffline")); await context.setOffline(false); },
                  async () => warmOnline.push(await filledMs(page, "warmOnline"))];
    if (i % 2) warm.reverse();
    for (const step of warm) await step();
    await context.close();
  }

  // One hospital renamed: what the update costs a client holding the old version.
  const context = await browser.newContext();
  const page = await context.newPage();
  await filledMs(page);
  const before = world.accessLogLines().length;
  world.editMirror(HOSPITALS, (hospitals) => { hospitals[0].name += " (RENAMED)"; });
  world.refresh("--force", "--dataset", "hospitals_england_wales");
  await filledMs(page);
  const held = await page.evaluate(() => window.datasnapClient.dataset("hospitals_england_wales"));
  const entry = world.manifest().datasets.find((d) => d.key === "hospitals_england_wales");
  if (held.version !== entry.version || held.options_sha256 !== entry.options_sha256) throw new Error("the update did not verify");
  const served = world.accessLogLines().slice(before).filter((l) => !l.uri.startsWith("/web/"));
  const manifestBytes = served.filter((l) => l.uri === "/manifest.json").reduce((n, l) => n + l.bytes, 0);
  const diffBytes = served.filter((l) => l.uri.startsWith("/diffs/")).reduce((n, l) => n + l.bytes, 0);
  const snapshot = entry.snapshot.files.find((f) => f.encoding === "gzip");
  await context.close();

  const results = {
    hospitals: count, runs, cold_ms: cold, warm_offline_ms: warmOffline, warm_online_ms: warmOnline,
    module_to_filled_ms: { cold: own.cold, warm_offline: own.warmOffline, warm_online: own.warmOnline },
    html_received_ms: { cold: html.cold, warm_offline: html.warmOffline, warm_online: html.warmOnline },
    update: { requests: served.map((l) => `${l.uri} ${l.status} ${l.bytes}`), manifest_bytes: manifestBytes,
              diff_bytes: diffBytes, snapshot_gz_bytes: snapshot.bytes, snapshot_json_bytes: entry.snapshot.json_bytes },
  };
  const f = (x) => x.toFixed(1);
  console.log(`Example page (smoking_status_code, ${count} hospitals, welsh_lhbs); ${runs} runs, median (min-max) in ms:`);
  console.log(`  ${"".padEnd(40)} ${"navigation start to filled".padEnd(28)} ${"HTML received".padEnd(24)} module start to filled`);
  for (const [name, xs, ys, zs] of [["cold (network, empty IndexedDB)", cold, own.cold, html.cold],
                                    ["warm offline (IndexedDB)", warmOffline, own.warmOffline, html.warmOffline],
                                    ["warm online (IndexedDB, manifest 304)", warmOnline, own.warmOnline, html.warmOnline]]) {
    const cell = (v) => `${f(median(v))} (${f(Math.min(...v))}-${f(Math.max(...v))})`;
    console.log(`  ${name.padEnd(40)} ${cell(xs).padEnd(28)} ${cell(zs).padEnd(24)} ${cell(ys)}`);
  }
  console.log(`  cold / warm offline: ${(median(cold) / median(warmOffline)).toFixed(1)}x`);
  console.log(`One renamed hospital, bytes on the wire (nginx's body bytes): manifest ${manifestBytes} (gzip), diff ${diffBytes}; full snapshot ${snapshot.bytes} (.json.gz; ${entry.snapshot.json_bytes} as JSON)`);
  console.log(`  diff / snapshot: ${(100 * diffBytes / snapshot.bytes).toFixed(1)} %; (manifest + diff) / (manifest + snapshot): ${(100 * (manifestBytes + diffBytes) / (manifestBytes + snapshot.bytes)).toFixed(1)} %`);
  console.log(`  requests: ${results.update.requests.join(", ")}`);
  const out = path.join(world.dir, "..", "datasnap-web-bench.json");
  fs.writeFileSync(out, JSON.stringify(results, null, 2));
  console.log(`every run: ${out}`);
} finally {
  await world.close();
}
