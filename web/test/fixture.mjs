// What the browser tests and the benchmark stand on: a store filled from the
// fixture mirrors (tests/fixtures/upstream, served by the fake upstream),
// exported with `datasnap export`, served by Debian's nginx with
// deploy/nginx/datasnap.conf, and Debian's Chromium driven by playwright-core.
//
// Environment (all optional):
//   DATASNAP                 the datasnap binary (default bazel-bin/tools/datasnap)
//   FAKE_UPSTREAM            the fake upstream server (default bazel-bin/tests/support/fake_upstream)
//   CHROMIUM                 the browser (default /usr/bin/chromium)
//   DATASNAP_TEST_SERVER     a shell command that serves the data instead of
//                            nginx (e.g. `datasnap serve`): it gets EXPORT_DIR
//                            and DATASNAP_STORE in its environment and must
//                            print its base URL (ending in /) as its first
//                            line on stdout. The page is still served by nginx
//                            (web/ at /web/), so the data server must answer
//                            CORS requests.
//   DATASNAP_TEST_SERVER_FROM  `export` (default: the server reads EXPORT_DIR)
//                            or `store` (it reads the store: the tests that
//                            damage files of the export are skipped)
//   DATASNAP_TEST_SERVER_NEGOTIATES  set: the data server answers <name>.json
//                            with a Content-Encoding, as nginx's gzip_static
import { spawn, execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import readline from "node:readline";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

export const webDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
export const repoDir = path.dirname(webDir);
const datasnapBin = process.env.DATASNAP ?? path.join(repoDir, "bazel-bin/tools/datasnap");
const upstreamBin = process.env.FAKE_UPSTREAM ?? path.join(repoDir, "bazel-bin/tests/support/fake_upstream");

/** Chromium as root in a container: no sandbox, nothing fetched on its own. */
export const chromiumArgs = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

/** A child process that prints a URL as its first line; resolves to { child, url }. */
function startPrintingUrl(command, args, options) {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ["ignore", "pipe", "pipe"], ...options });
    let stderr = "";
    child.stderr.on("data", (d) => { stderr += d; });
    const lines = readline.createInterface({ input: child.stdout });
    const timer = setTimeout(() => reject(new Error(`${command} printed no URL within 15 s: ${stderr}`)), 15000);
    lines.once("line", (line) => {
      clearTimeout(timer);
      resolve({ child, url: line.trim() });
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`${command} exited (${code}) before printing its URL: ${stderr}`));
    });
  });
}

function stop(child) {
  if (!child || child.exitCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once("exit", resolve);
    child.kill("SIGTERM");
  });
}

/**
 * A temporary world: a copy of the mirrors (the tests edit it to make new
 * versions), the fake upstream serving it, a store, an export and servers.
 */
export class World {
  constructor() {
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), "datasnap-web-"));
    this.mirror = path.join(this.dir, "upstream");
    this.store = path.join(this.dir, "store.lmdb");
    this.exportDir = path.join(this.dir, "export");
    this.nginxState = path.join(this.dir, "nginx");
    fs.cpSync(path.join(repoDir, "tests/fixtures/upstream"), this.mirror, { recursive: true });
  }

  /** Runs datasnap with the world's store and upstream; returns stdout. */
  datasnap(...args) {
    return execFileSync(datasnapBin, args, {
      env: {
        ...process.env,
        DATASNAP_STORE: this.store,
        NHS_DD_BASE_URL: `${this.upstreamUrl}/nhs_dd`,
        EXTERNAL_DATASET_API_URL: `${this.upstreamUrl}/rcpch`,
      },
      encoding: "utf8",
      stdio: ["ignore", "pipe", "pipe"],
      maxBuffer: 64 << 20,
    });
  }

  /** What `datasnap show KEY --json` prints: the options as the store has them. */
  show(key, version) {
    const args = ["show", key, "--json"];
    if (version !== undefined) args.push("--version", String(version));
    return JSON.parse(this.datasnap(...args));
  }

  async start() {
    ({ child: this.upstream, url: this.upstreamUrl } = await startPrintingUrl(
      upstreamBin, ["--root", this.mirror, "--port", "0"]));
    this.upstreamUrl = this.upstreamUrl.replace(/\/$/, "");
  }

  /** refresh --out: the nightly job (extra args: --force --dataset KEY). */
  refresh(...args) {
    return this.datasnap("refresh", "--out", this.exportDir, ...args);
  }

  /** Edits a JSON file of the mirror (path relative to upstream/). */
  editMirror(relative, edit) {
    const file = path.join(this.mirror, relative);
    const doc = JSON.parse(fs.readFileSync(file, "utf8"));
    fs.writeFileSync(file, JSON.stringify(edit(doc) ?? doc));
  }

  manifest() {
    return JSON.parse(fs.readFileSync(path.join(this.exportDir, "manifest.json"), "utf8"));
  }

  /** nginx serves the export at / and web/ at /web/; a plugged server the data. */
  async serve() {
    ({ child: this.nginx, url: this.pageBase } = await startPrintingUrl(
      path.join(repoDir, "deploy/nginx/serve"), [this.exportDir, "--state", this.nginxState]));
    this.accessLog = path.join(this.nginxState, "access.log");
    const command = process.env.DATASNAP_TEST_SERVER;
    if (command) {
      ({ child: this.dataServer, url: this.dataBase } = await startPrintingUrl("sh", ["-c", command], {
        env: { ...process.env, EXPORT_DIR: this.exportDir, DATASNAP_STORE: this.store },
      }));
      if (!this.dataBase.endsWith("/")) this.dataBase += "/";
    } else {
      this.dataBase = this.pageBase;
    }
    /** Whether damaging files of the export reaches the client. */
    this.servesExportFiles = !command || (process.env.DATASNAP_TEST_SERVER_FROM ?? "export") === "export";
  }

  /** The example page's URL, reading the data from manifestPath of the data server. */
  exampleUrl(manifestPath = "manifest.json") {
    return `${this.pageBase}web/example/?manifest=${encodeURIComponent(this.dataBase + manifestPath)}`;
  }

  /** Lines of nginx's access log: { method, uri, status, bytes, encoding }. */
  accessLogLines() {
    if (!fs.existsSync(this.accessLog)) return [];
    return fs.readFileSync(this.accessLog, "utf8").trim().split("\n").filter(Boolean).map((line) => {
      const [method, uri, status, bytes, encoding] = line.split(" ");
      return { method, uri, status: Number(status), bytes: Number(bytes), encoding };
    });
  }

  async launchBrowser() {
    this.browser = await chromium.launch({
      executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
      headless: true,
      args: chromiumArgs,
    });
    return this.browser;
  }

  async close() {
    await this.browser?.close().catch(() => {});
    await Promise.all([stop(this.dataServer), stop(this.nginx), stop(this.upstream)]);
    if (!process.env.DATASNAP_TEST_KEEP) fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

/**
 * What a page shows, for comparing with `datasnap show`: the select's and
 * datalist's options as { value, label } (a select's indentation removed),
 * and the error lines of the example page.
 */
export async function readExample(page) {
  return page.evaluate(() => {
    const select = (id) => [...document.getElementById(id).options]
      .filter((o) => o.value !== "")
      .map((o) => ({ value: o.value, label: o.textContent.replace(/^\u00a0+/, "") }));
    const list = document.getElementById(document.getElementById("hospital").getAttribute("list"));
    return {
      smoking_status_code: select("smoking"),
      welsh_lhbs: select("board"),
      hospitals_england_wales: list
        ? [...list.options].map((o) => ({ value: o.dataset.value, label: o.value }))
        : [],
      errors: [...document.querySelectorAll("#errors li")].map((li) => li.textContent),
    };
  });
}

/** The store's options as { value, label } (labels a datalist disambiguates get their code). */
export function expectedOptions(world, key, version, { datalist = false } = {}) {
  const options = world.show(key, version).options;
  const count = new Map();
  for (const o of options) count.set(o.label, (count.get(o.label) ?? 0) + 1);
  return options.map((o) => ({
    value: o.value,
    label: datalist && count.get(o.label) > 1 ? `${o.label} (${o.value})` : o.label,
  }));
}

/** Loads the example page and waits until its first refresh is over. */
export async function loadExample(page, url) {
  await page.goto(url);
  await page.waitForSelector("body[data-ready]", { timeout: 30000 });
}
