// The web client in a real browser (Debian's Chromium, headless) against a
// real static server (Debian's nginx with deploy/nginx/datasnap.conf) and a
// real export of a store filled from the fixture mirrors. The steps build on
// one another (one browser context: its IndexedDB is the client's cache), so
// they run in order. web/test/run runs them; fixture.mjs says how to plug in
// another data server.
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import zlib from "node:zlib";
import { after, before, describe, it } from "node:test";
import { World, expectedOptions, loadExample, readExample, repoDir } from "./fixture.mjs";

const KEYS = ["smoking_status_code", "hospitals_england_wales", "welsh_lhbs"];
const BOARDS = "rcpch/local_health_boards/organisations/index.json";

/** Renames the first hospital of the first Welsh board in the mirror: a new welsh_lhbs version. */
function renameHospital(world, name) {
  world.editMirror(BOARDS, (boards) => {
    boards[0].organisations[0].name = name;
  });
  world.refresh("--force", "--dataset", "welsh_lhbs");
}

function artefactDir() {
  const dir = process.env.TEST_UNDECLARED_OUTPUTS_DIR ?? path.join(repoDir, "var/test-artifacts/web");
  fs.mkdirSync(dir, { recursive: true });
  return dir;
}

describe("datasnap-client.js in Chromium, served by nginx", { concurrency: false, timeout: 240000 }, () => {
  /** @type {World} */
  let world;
  let context;
  let page;
  /** Requests the page made to the data server since the last reset: { url, status, bytes }. */
  let requests = [];

  const dataRequests = () => requests.filter((r) => r.url.startsWith(world.dataBase) && !r.url.includes("/web/"));
  const pathOf = (r) => r.url.slice(world.dataBase.length).split("?")[0];

  async function expectShown(versions = {}) {
    const shown = await readExample(page);
    for (const key of KEYS) {
      const expected = expectedOptions(world, key, versions[key], { datalist: key === "hospitals_england_wales" });
      assert.deepEqual(shown[key], expected, `${key}: the page's options are the store's (values, labels, order)`);
    }
    return shown;
  }

  before(async () => {
    world = new World();
    await world.start();
    // An organisation's own list, so that orgs/acme/manifest.json exists.
    const wards = path.join(world.dir, "wards.csv");
    fs.writeFileSync(wards, "value,label\nW1,Ward One\nW2,Ward Two\nW3,Children's Ward\n");
    world.datasnap("import", "wards", "--name", "Wards", "--file", wards, "--org", "acme");
    world.refresh();
    await world.serve();
    const browser = await world.launchBrowser();
    context = await browser.newContext();
    page = await context.newPage();
    page.on("requestfinished", async (request) => {
      const response = await request.response();
      const sizes = await request.sizes().catch(() => ({ responseBodySize: 0 }));
      requests.push({ url: request.url(), status: response?.status() ?? 0, bytes: sizes.responseBodySize });
    });
    page.on("requestfailed", (request) => requests.push({ url: request.url(), status: 0, bytes: 0, failure: request.failure()?.errorText }));
  });

  after(async () => {
    await world?.close();
  });

  it("first load online: each dropdown holds exactly the store's options", async () => {
    await loadExample(page, world.exampleUrl());
    const shown = await expectShown();
    assert.deepEqual(shown.errors, []);
    assert.equal(shown.smoking_status_code.length, world.show("smoking_status_code").options.length);
    // welsh_lhbs' hospitals are indented under their health board.
    const indented = await page.$$eval("#board option[data-parent]", (os) => os.map((o) => o.textContent));
    assert.ok(indented.length > 0 && indented.every((t) => t.startsWith("\u00a0\u00a0")), "hospitals indented under their board");
    // The searchable list: typing a hospital's name picks its code.
    const hospital = world.show("hospitals_england_wales").options[3];
    await page.fill("#hospital", hospital.label);
    assert.equal(await page.inputValue("#hospital-code"), hospital.value);
    const paths = dataRequests().map(pathOf);
    assert.ok(paths.includes("manifest.json"));
    for (const key of KEYS) assert.ok(paths.some((p) => p.startsWith(`datasets/${key}/`)), `${key}'s snapshot fetched`);
  });

  it("offline reload: the dropdowns fill again from IndexedDB", async () => {
    await context.setOffline(true);
    requests = [];
    await loadExample(page, world.exampleUrl());
    const shown = await expectShown();
    assert.equal(await page.getAttribute("body", "data-filled"), "true");
    // The manifest could not be fetched: each dataset says so, and keeps its version.
    for (const key of KEYS) {
      assert.ok(shown.errors.some((e) => e.startsWith(`${key}: manifest`) && /keeping version \d+/.test(e)), `${key} error: ${shown.errors}`);
    }
    assert.ok(dataRequests().every((r) => r.status === 0), "nothing came from the network");
    await context.setOffline(false);
  });

  it("the screenshot of the example page shows filled dropdowns", async () => {
    requests = [];
    await loadExample(page, world.exampleUrl());
    await page.selectOption("#smoking", world.show("smoking_status_code").options[0].value);
    await page.selectOption("#board", world.show("welsh_lhbs").options[1].value);
    await page.fill("#hospital", world.show("hospitals_england_wales").options[0].label);
    const file = path.join(artefactDir(), "example-page.png");
    await page.screenshot({ path: file, fullPage: true });
    const png = fs.readFileSync(file);
    assert.equal(png.subarray(1, 4).toString(), "PNG");
    assert.ok(await page.$eval("#smoking", (s) => s.selectedOptions[0].textContent.length > 0));
    // An unchanged export: the manifest is revalidated (304), nothing else fetched.
    assert.deepEqual(dataRequests().map((r) => [pathOf(r), r.status]), [["manifest.json", 304]]);
  });

  it("a new version of one dataset: the manifest and its diff only, and the hash verifies", async () => {
    const before = world.manifest().datasets.find((d) => d.key === "welsh_lhbs");
    renameHospital(world, "MORRISTON HOSPITAL (RENAMED)");
    const entry = world.manifest().datasets.find((d) => d.key === "welsh_lhbs");
    assert.equal(entry.version, before.version + 1);
    const diff = entry.diffs.find((d) => d.from === before.version);
    const log = world.accessLogLines().length;
    requests = [];
    await loadExample(page, world.exampleUrl());
    await expectShown();
    const fetched = dataRequests().map((r) => [pathOf(r), r.status]);
    const diffFile = diff.files.find((f) => f.encoding === "gzip");
    assert.deepEqual(fetched, [["manifest.json", 200], [diffFile.path, 200]]);
    const held = await page.evaluate(() => window.datasnapClient.dataset("welsh_lhbs"));
    assert.equal(held.version, entry.version);
    assert.equal(held.options_sha256, entry.options_sha256);
    assert.equal(held.options_sha256, world.show("welsh_lhbs").options_sha256);
    // nginx's log agrees, and the diff is far smaller than the snapshot.
    if (world.dataBase === world.pageBase) {
      const served = world.accessLogLines().slice(log).filter((l) => !l.uri.startsWith("/web/"));
      assert.deepEqual(served.map((l) => l.uri), ["/manifest.json", `/${diffFile.path}`]);
      const snapshotBytes = entry.snapshot.files.find((f) => f.encoding === "gzip").bytes;
      assert.ok(served[1].bytes === diffFile.bytes && diffFile.bytes < snapshotBytes);
    }
  });

  it("a diff that adds, removes and reorders: applied by its order, the hash verifies", async () => {
    const before = world.manifest().datasets.find((d) => d.key === "welsh_lhbs");
    world.editMirror(BOARDS, (boards) => {
      boards[0].organisations.splice(1, 1);                                  // a hospital goes
      boards[1].organisations.unshift({ ods_code: "7A7ZZ", name: "A NEW HOSPITAL" });  // one comes
      [boards[2], boards[3]] = [boards[3], boards[2]];                        // two boards swap
    });
    world.refresh("--force", "--dataset", "welsh_lhbs");
    const entry = world.manifest().datasets.find((d) => d.key === "welsh_lhbs");
    const diff = entry.diffs.find((d) => d.from === before.version);
    assert.deepEqual(diff.summary, { added: 1, removed: 1, changed: 0, reordered: true });
    requests = [];
    await loadExample(page, world.exampleUrl());
    await expectShown();
    const diffFile = diff.files.find((f) => f.encoding === "gzip");
    assert.deepEqual(dataRequests().map((r) => [pathOf(r), r.status]), [["manifest.json", 200], [diffFile.path, 200]]);
    const held = await page.evaluate(() => window.datasnapClient.dataset("welsh_lhbs"));
    assert.equal(held.options_sha256, entry.options_sha256);
  });

  it("a deleted diff: an error names the dataset, and the full snapshot brings it up to date", async () => {
    const before = world.manifest().datasets.find((d) => d.key === "welsh_lhbs");
    renameHospital(world, "MORRISTON HOSPITAL (RENAMED AGAIN)");
    const entry = world.manifest().datasets.find((d) => d.key === "welsh_lhbs");
    const diff = entry.diffs.find((d) => d.from === before.version);
    if (world.servesExportFiles) {
      for (const f of diff.files) fs.rmSync(path.join(world.exportDir, f.path));
    }
    requests = [];
    await loadExample(page, world.exampleUrl());
    const shown = await expectShown();
    if (!world.servesExportFiles) return;
    assert.ok(shown.errors.some((e) => e.startsWith("welsh_lhbs: diff") && e.includes("HTTP 404")), shown.errors.join("\n"));
    const snapshot = entry.snapshot.files.find((f) => f.encoding === "gzip").path;
    assert.ok(dataRequests().some((r) => pathOf(r) === snapshot && r.status === 200));
  });

  it("a corrupt diff and a corrupt snapshot: the last good options stay, errors name the dataset", async (t) => {
    if (!world.servesExportFiles) return t.skip("the data server does not serve the export's files");
    const good = world.manifest().datasets.find((d) => d.key === "welsh_lhbs");
    renameHospital(world, "MORRISTON HOSPITAL (NEVER SHOWN)");
    const entry = world.manifest().datasets.find((d) => d.key === "welsh_lhbs");
    const flip = (relative) => {
      const file = path.join(world.exportDir, relative);
      const bytes = fs.readFileSync(file);
      bytes[bytes.length >> 1] ^= 0xff;  // same size, other bytes
      fs.writeFileSync(file, bytes);
    };
    const diff = entry.diffs.find((d) => d.from === good.version);
    for (const f of diff.files) flip(f.path);
    for (const f of entry.snapshot.files) flip(f.path);
    await loadExample(page, world.exampleUrl());
    const shown = await expectShown({ welsh_lhbs: good.version });
    const mine = shown.errors.filter((e) => e.startsWith("welsh_lhbs:"));
    assert.ok(mine.some((e) => e.includes("diff") && e.includes("corrupt or tampered")), mine.join("\n"));
    assert.ok(mine.some((e) => e.includes("snapshot") && e.includes("corrupt or tampered") && e.endsWith(`keeping version ${good.version}`)), mine.join("\n"));
    const held = await page.evaluate(() => window.datasnapClient.dataset("welsh_lhbs"));
    assert.equal(held.version, good.version);
    // Repair the export for the next steps (and check the client takes it then).
    fs.rmSync(world.exportDir, { recursive: true });
    world.refresh();
    await loadExample(page, world.exampleUrl());
    await expectShown();
  });

  it("a manifest naming a missing file: the last good options stay, an error names the dataset", async (t) => {
    if (!world.servesExportFiles) return t.skip("the data server does not serve the export's files");
    const manifestFile = path.join(world.exportDir, "manifest.json");
    const saved = fs.readFileSync(manifestFile);
    const savedGz = fs.readFileSync(`${manifestFile}.gz`);
    const manifest = JSON.parse(saved);
    const entry = manifest.datasets.find((d) => d.key === "smoking_status_code");
    const good = entry.version;
    entry.version += 1;
    entry.options_sha256 = entry.sha256 = "0".repeat(64);
    entry.diffs = [];
    for (const f of entry.snapshot.files) f.path = f.path.replace(/\/\d+\./, `/${entry.version}.`);
    const text = JSON.stringify(manifest);
    fs.writeFileSync(manifestFile, text);
    fs.writeFileSync(`${manifestFile}.gz`, zlib.gzipSync(text));
    try {
      await loadExample(page, world.exampleUrl());
      const shown = await expectShown();
      assert.ok(shown.errors.some((e) => e.startsWith("smoking_status_code: snapshot") && e.includes("HTTP 404") && e.endsWith(`keeping version ${good}`)), shown.errors.join("\n"));
      assert.ok(!shown.errors.some((e) => e.startsWith("welsh_lhbs") || e.startsWith("hospitals")), shown.errors.join("\n"));
    } finally {
      fs.writeFileSync(manifestFile, saved);
      fs.writeFileSync(`${manifestFile}.gz`, savedGz);
    }
  });

  it("a server that sends Content-Encoding: the decoded JSON is checked and taken", async (t) => {
    if (world.dataBase !== world.pageBase && !process.env.DATASNAP_TEST_SERVER_NEGOTIATES) {
      return t.skip("needs a server that answers <name>.json with Content-Encoding (nginx's gzip_static)");
    }
    await loadExample(page, world.exampleUrl());
    // Ask for <name>.json: nginx answers with the .gz bytes and Content-Encoding: gzip
    // (datasnap serve with gzip or zstd, as the browser accepts).
    const got = await page.evaluate(async (manifestUrl) => {
      const { open } = await import("/web/datasnap-client.js");
      const seen = [];
      const client = await open({
        manifestUrl,
        datasets: ["smoking_status_code", "hospitals_england_wales"],
        dbName: "datasnap-encoding-test",
        fetch: async (url, init) => {
          const response = await fetch(String(url).replace(/\.json\.gz$/, ".json"), init);
          seen.push(response.headers.get("Content-Encoding"));
          return response;
        },
      });
      const errors = [];
      client.addEventListener("error", (e) => errors.push(e.detail.reason));
      await client.ready;
      return { seen, errors, smoking: client.options("smoking_status_code"), hospitals: client.options("hospitals_england_wales") };
    }, world.dataBase + "manifest.json");
    assert.deepEqual(got.errors, []);
    assert.ok(got.seen.filter((e) => e === "gzip" || e === "zstd").length >= 2, `Content-Encoding seen: ${got.seen}`);
    assert.deepEqual(got.smoking, world.show("smoking_status_code").options);
    assert.deepEqual(got.hospitals, world.show("hospitals_england_wales").options);
  });

  it("an organisation's manifest: its own lists, and the global ones by reference", async () => {
    await loadExample(page, world.exampleUrl("orgs/acme/manifest.json"));
    const shown = await expectShown();
    assert.deepEqual(shown.errors, []);
    const wards = await page.evaluate(async (manifestUrl) => {
      const { open } = await import("/web/datasnap-client.js");
      const client = await open({ manifestUrl, datasets: ["wards"], dbName: "datasnap-org-test" });
      await client.ready;
      return client.options("wards");
    }, world.dataBase + "orgs/acme/manifest.json");
    assert.deepEqual(wards, world.show("wards").options);
  });

  it("the export's record for its next run is not served", async () => {
    // It names organisations; nginx's rules refuse hidden files, serve has none.
    assert.ok(fs.existsSync(path.join(world.exportDir, ".datasnap-export.json")));
    const response = await fetch(world.dataBase + ".datasnap-export.json");
    assert.equal(response.status, 404);
  });
});
