// datasnap-client.js: fills dropdowns from a datasnap export (docs/FORMATS.md),
// online and offline. A dependency-free ES module for evergreen browsers:
//
//   <script type="module">
//     import { open } from "/web/datasnap-client.js";
//     const client = await open({ manifestUrl: "/manifest.json",
//                                 datasets: ["smoking_status_code"] });
//     client.addEventListener("error", (e) => console.warn(e.detail.key, e.detail.reason));
//     await client.fill(document.querySelector("select"), "smoking_status_code");
//   </script>
//
// What it guarantees (web/README.md has the details):
// - nothing is shown that has not been verified: a file's SHA-256 (when the
//   bytes are the published .gz) and its JSON's SHA-256 are checked against
//   the manifest before a byte of it is parsed, and options reached by a diff
//   must hash to the manifest's options_sha256;
// - every verified dataset and each manifest (with its ETag) is kept in
//   IndexedDB, so a page loaded with no network fills the same dropdowns;
// - an update takes the manifest's diff from the version held when there is
//   one, and the full snapshot when there is none or it fails;
// - a failure (network, HTTP status, a hash that does not match, a format it
//   does not know) keeps the last good version and dispatches an "error"
//   event whose detail names the dataset and the reason.

/**
 * One option of a list, as in a snapshot.
 * @typedef {{value: string, label: string, parent?: string, default?: boolean}} Option
 */

/**
 * What the client holds for one dataset (also the IndexedDB record).
 * @typedef {object} HeldDataset
 * @property {string} id          `<export base URL>|<key>`
 * @property {string} key
 * @property {string} name
 * @property {number} version
 * @property {string} options_sha256  SHA-256 of the options' canonical JSON
 * @property {Option[]} options   in the order to show
 * @property {string} verified_at ISO time of the check
 */

/**
 * detail of an "error" event.
 * @typedef {object} ErrorDetail
 * @property {string|null} key   the dataset, or null for a failure of no one dataset
 * @property {string} reason     what failed, and what the client kept
 * @property {string} [url]      the file that failed, when one did
 * @property {number|null} keptVersion  the version still shown, or null
 */

/**
 * detail of an "update" event: a dataset now shows other options.
 * @typedef {object} UpdateDetail
 * @property {string} key
 * @property {number} version
 * @property {number|null} previousVersion
 * @property {"cache"|"diff"|"snapshot"} via
 */

/**
 * Options of open().
 * @typedef {object} OpenOptions
 * @property {string} manifestUrl  `manifest.json` or `orgs/<org>/manifest.json`
 *   of an export (absolute, or relative to the page)
 * @property {string[]} [datasets]  keys to load now; fill() adds its own
 * @property {string} [dbName="datasnap"]  the IndexedDB database
 * @property {typeof fetch} [fetch]  replaces the global fetch (tests, auth headers)
 * @property {(detail: ErrorDetail) => void} [onError]  also called for each error event
 */

const FORMAT = 1;
const DB_VERSION = 1;

/**
 * Opens the client: reads what IndexedDB holds for `datasets`, then starts
 * bringing them up to date from the network (`client.ready` settles when
 * that is done; it never rejects: failures are "error" events).
 * @param {OpenOptions} options
 * @returns {Promise<DatasnapClient>}
 */
export async function open(options) {
  const client = new DatasnapClient(options);
  await client._start();
  return client;
}

export class DatasnapClient extends EventTarget {
  /** @param {OpenOptions} options */
  constructor(options) {
    super();
    if (!options || !options.manifestUrl) throw new TypeError("datasnap: open() needs { manifestUrl }");
    /** The manifest's absolute URL. */
    this.manifestUrl = new URL(options.manifestUrl, globalThis.location?.href).href;
    /** The export directory's URL: paths in manifests are relative to it. */
    this.baseUrl = exportBase(this.manifestUrl);
    this._fetch = options.fetch ?? globalThis.fetch.bind(globalThis);
    this._onError = options.onError;
    this._dbName = options.dbName ?? "datasnap";
    /** @type {Set<string>} */
    this._wanted = new Set(options.datasets ?? []);
    /** @type {Map<string, HeldDataset>} */
    this._held = new Map();
    /** @type {IDBDatabase|null} */
    this._db = null;
    /** Settles when the latest refresh is done. @type {Promise<void>} */
    this.ready = Promise.resolve();
  }

  async _start() {
    try {
      this._db = await openDatabase(this._dbName);
    } catch (e) {
      this._error(null, `IndexedDB unavailable (${message(e)}): lists will not be kept offline`);
    }
    await this._loadCached([...this._wanted]);
    this.ready = this.refresh();
  }

  /**
   * The verified options of a dataset, or undefined when none are held yet.
   * @param {string} key
   * @returns {Option[]|undefined}
   */
  options(key) {
    return this._held.get(key)?.options;
  }

  /**
   * The dataset as held (version, name, options), or undefined.
   * @param {string} key
   * @returns {HeldDataset|undefined}
   */
  dataset(key) {
    return this._held.get(key);
  }

  /**
   * Brings `keys` (default: every dataset asked for) up to date: the manifest
   * (revalidated with its ETag), then per dataset a diff or a snapshot.
   * Never rejects; failures are "error" events and keep the held version.
   * @param {string[]} [keys]
   * @returns {Promise<void>}
   */
  async refresh(keys = [...this._wanted]) {
    if (keys.length === 0) return;
    const manifests = new ManifestCache(this);
    let manifest;
    try {
      manifest = await manifests.get(this.manifestUrl);
    } catch (e) {
      for (const key of keys) this._error(key, `manifest ${this.manifestUrl}: ${message(e)}`, this.manifestUrl);
      return;
    }
    await Promise.all(keys.map((key) => this._refreshOne(key, manifest, manifests)
      .catch((e) => this._error(key, `unexpected manifest contents: ${message(e)}`))));
  }

  /** @param {string} key @param {any} manifest @param {ManifestCache} manifests */
  async _refreshOne(key, manifest, manifests) {
    let entry = manifest.datasets.find((d) => d.key === key);
    if (!entry && Array.isArray(manifest.global)) {
      // An organisation's manifest refers to the global lists (docs/FORMATS.md).
      const ref = manifest.global.find((g) => g.key === key);
      if (ref) {
        const url = new URL(ref.manifest, this.baseUrl).href;
        try {
          const global = await manifests.get(url);
          entry = global.datasets.find((d) => d.key === key);
        } catch (e) {
          this._error(key, `manifest ${url}: ${message(e)}`, url);
          return;
        }
      }
    }
    if (!entry) {
      this._error(key, `not in ${this.manifestUrl}: the export does not publish it (a misspelt key, or a removed dataset)`);
      return;
    }
    const held = this._held.get(key);
    if (held && held.version === entry.version && held.options_sha256 === entry.options_sha256) return;

    let options = null;
    let via = "snapshot";
    const diff = held && (entry.diffs ?? []).find((d) => d.from === held.version);
    if (diff) {
      try {
        options = await this._viaDiff(key, held, entry, diff);
        via = "diff";
      } catch (e) {
        this._error(key, `diff ${diff.from}-${diff.to}: ${message(e.cause ?? e)}; fetching the full snapshot instead`, e.url);
      }
    }
    if (!options) {
      try {
        options = await this._viaSnapshot(key, entry);
      } catch (e) {
        this._error(key, `snapshot of version ${entry.version}: ${message(e.cause ?? e)}`, e.url);
        return;
      }
    }
    /** @type {HeldDataset} */
    const record = {
      id: `${this.baseUrl}|${key}`,
      key,
      name: entry.name,
      version: entry.version,
      options_sha256: entry.options_sha256,
      options,
      verified_at: new Date().toISOString(),
    };
    await this._put("datasets", record);
    this._held.set(key, record);
    this._emitUpdate(key, record, held ? held.version : null, via);
  }

  /** Options of entry's version from held's, or throws. */
  async _viaDiff(key, held, entry, diff) {
    const { doc: d } = await this._document(diff, `diff ${diff.from}-${diff.to}`);
    if (d.format !== FORMAT) throw new Error(`format ${d.format} is not ${FORMAT}`);
    if (d.key !== key || d.from !== held.version || d.to !== entry.version) {
      throw new Error(`it is ${d.key} ${d.from}-${d.to}, not ${key} ${held.version}-${entry.version}`);
    }
    if (d.from_sha256 !== held.options_sha256) throw new Error("it is not from the options held");
    const options = applyDiff(held.options, d);
    const sha = await optionsSha256(options);
    if (sha !== d.to_sha256 || sha !== entry.options_sha256) {
      throw new Error(`the result's SHA-256 ${sha} is not the manifest's options_sha256 ${entry.options_sha256}`);
    }
    return options;
  }

  /** The options of entry's snapshot, or throws. */
  async _viaSnapshot(key, entry) {
    const { doc: s } = await this._document(entry.snapshot, `snapshot ${entry.version}`);
    if (s.format !== FORMAT) throw new Error(`format ${s.format} is not ${FORMAT}`);
    if (s.key !== key || s.version !== entry.version) {
      throw new Error(`it is ${s.key} version ${s.version}, not ${key} version ${entry.version}`);
    }
    if (!Array.isArray(s.options) || (await optionsSha256(s.options)) !== entry.options_sha256) {
      throw new Error("its options do not hash to the manifest's options_sha256");
    }
    return s.options;
  }

  /**
   * Fetches a published document (a snapshot or a diff: json_sha256 and
   * files), checks the file's and the JSON's SHA-256, and parses it.
   * Errors carry the URL.
   */
  async _document(doc, what) {
    const file = (doc.files ?? []).find((f) => f.encoding === "gzip");
    if (!file) throw new Error(`the manifest lists no gzip file for the ${what}`);
    const url = new URL(file.path, this.baseUrl).href;
    try {
      try {
        return { doc: await this._verified(url, file, doc, "default"), url };
      } catch (e) {
        if (!(e instanceof VerificationError)) throw e;
        // The browser's cache may hold bad bytes for a year (the files are
        // immutable): ask the server once more, past the cache.
        return { doc: await this._verified(url, file, doc, "reload"), url };
      }
    } catch (e) {
      throw Object.assign(new Error(message(e), { cause: e }), { url });
    }
  }

  /** Fetches url and returns its parsed JSON once both hashes match. */
  async _verified(url, file, doc, cache) {
    const response = await this._fetch(url, { cache });
    if (!response.ok) throw new Error(`HTTP ${response.status} for ${url}`);
    let bytes = new Uint8Array(await response.arrayBuffer());
    if (bytes[0] === 0x1f && bytes[1] === 0x8b) {
      // The published .gz as it is: check the file, then decode it.
      if (bytes.length !== file.bytes || (await sha256Hex(bytes)) !== file.sha256) {
        throw new VerificationError(`${url} is not the file the manifest names (SHA-256 or size differ): corrupt or tampered`);
      }
      try {
        bytes = await gunzip(bytes);
      } catch (e) {
        throw new VerificationError(`${url} does not decompress (${message(e)}): corrupt`);
      }
    }
    // Otherwise the server sent Content-Encoding and the browser decoded it:
    // the JSON's hash is the check.
    if (bytes.length !== doc.json_bytes || (await sha256Hex(bytes)) !== doc.json_sha256) {
      throw new VerificationError(`${url} does not decode to the JSON the manifest names (json_sha256 differs): corrupt or tampered`);
    }
    return JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
  }

  /**
   * Fills a <select> with a dataset's options, now if they are held, and
   * again whenever they change. An option with an empty value already in
   * the select (a "Choose…" placeholder) is kept; the selection is kept
   * when its value is still there.
   * @param {HTMLSelectElement} select
   * @param {string} key
   * @param {{hierarchy?: "indent"|"optgroup"|"flat"}} [options]
   *   how options with a parent in the list are shown: indented under it
   *   (default), or each top-level option with children as an <optgroup>
   *   holding it and them
   * @returns {Promise<boolean>} true once filled with data; false when the
   *   first refresh ended with nothing to show (offline on a first visit)
   */
  fill(select, key, { hierarchy = "indent" } = {}) {
    return this._bind(key, (held) => renderSelect(select, held, hierarchy), select);
  }

  /**
   * The searchable variant for long lists: makes `input` an <input list>
   * over a <datalist> of the labels (the parent's label, a health board for
   * a hospital, as each suggestion's secondary text), and keeps the chosen
   * option's code in `valueInput` (a hidden input: the form field that is
   * submitted) and in input.dataset.value. Text that matches no option
   * makes the input invalid (setCustomValidity).
   * @param {HTMLInputElement} input
   * @param {string} key
   * @param {{valueInput?: HTMLInputElement}} [options]
   * @returns {Promise<boolean>} as fill()
   */
  fillSearchable(input, key, { valueInput } = {}) {
    const list = document.createElement("datalist");
    list.id = `${input.id || key}-datasnap-options`;
    input.after(list);
    input.setAttribute("list", list.id);
    input.setAttribute("autocomplete", "off");
    /** @type {Map<string, string>} */
    let codes = new Map();
    const sync = () => {
      const code = codes.get(input.value);
      input.dataset.value = code ?? "";
      if (valueInput) valueInput.value = code ?? "";
      input.setCustomValidity(input.value === "" || code !== undefined ? "" : "Choose one of the list's options");
    };
    input.addEventListener("input", sync);
    input.addEventListener("change", sync);
    return this._bind(key, (held) => {
      codes = renderDatalist(list, held);
      sync();
    }, input);
  }

  /** Renders now (if held) and on every update of key; see fill(). */
  _bind(key, render, element) {
    const held = this._held.get(key);
    if (held) render(held);
    element.setAttribute("aria-busy", held ? "false" : "true");
    this.addEventListener("update", (e) => {
      if (e.detail.key !== key) return;
      render(this._held.get(key));
      element.setAttribute("aria-busy", "false");
    });
    if (held) return Promise.resolve(true);
    if (!this._wanted.has(key)) {
      this._wanted.add(key);
      this.ready = this.ready.then(async () => {
        await this._loadCached([key]);
        await this.refresh([key]);
      });
    }
    return new Promise((resolve) => {
      const onUpdate = (e) => {
        if (e.detail.key === key) resolve(true);
      };
      this.addEventListener("update", onUpdate);
      this.ready.then(() => {
        this.removeEventListener("update", onUpdate);
        resolve(this._held.has(key));
      });
    });
  }

  /** Closes the IndexedDB connection. */
  close() {
    this._db?.close();
    this._db = null;
  }

  /**
   * Shows what IndexedDB holds for keys. The records are not hashed again
   * here, and "nothing unverified is shown" still holds: _refreshOne is the
   * only writer of "datasets", and it writes a record only once every check
   * has passed (the file's and the JSON's SHA-256, the options' hash against
   * the manifest's options_sha256). Hashing again on each load would cost a
   * warm load time and guard against nothing more: a script of the same
   * origin that could rewrite a record could rewrite the manifests too.
   */
  async _loadCached(keys) {
    keys = keys.filter((key) => !this._held.has(key));
    const records = await this._getMany("datasets", keys.map((key) => `${this.baseUrl}|${key}`));
    keys.forEach((key, i) => {
      const record = records[i];
      if (record && Array.isArray(record.options)) {
        this._held.set(key, record);
        this._emitUpdate(key, record, null, "cache");
      }
    });
  }

  _emitUpdate(key, record, previousVersion, via) {
    /** @type {UpdateDetail} */
    const detail = { key, version: record.version, previousVersion, via };
    this.dispatchEvent(new CustomEvent("update", { detail }));
  }

  _error(key, reason, url) {
    const kept = key === null ? null : this._held.get(key)?.version ?? null;
    /** @type {ErrorDetail} */
    const detail = {
      key,
      reason: key === null ? reason : `${reason}; ${kept === null ? "nothing held yet" : `keeping version ${kept}`}`,
      keptVersion: kept,
    };
    if (url) detail.url = url;
    this.dispatchEvent(new CustomEvent("error", { detail }));
    this._onError?.(detail);
  }

  async _get(store, id) {
    return (await this._getMany(store, [id]))[0];
  }

  /** Records by id, in one transaction (undefined where none). */
  async _getMany(store, ids) {
    if (!this._db || ids.length === 0) return ids.map(() => undefined);
    try {
      const objects = this._db.transaction(store).objectStore(store);
      return await Promise.all(ids.map((id) => request(objects.get(id))));
    } catch (e) {
      this._error(null, `IndexedDB read of ${ids.join(", ")}: ${message(e)}`);
      return ids.map(() => undefined);
    }
  }

  async _put(store, record) {
    if (!this._db) return;
    try {
      const tx = this._db.transaction(store, "readwrite");
      tx.objectStore(store).put(record);
      await new Promise((resolve, reject) => {
        tx.oncomplete = resolve;
        tx.onerror = tx.onabort = () => reject(tx.error);
      });
    } catch (e) {
      this._error(record.key ?? null, `IndexedDB write: ${message(e)} (shown now, not kept offline)`);
    }
  }
}

/** A file that is not what its manifest says. */
class VerificationError extends Error {}

/** The manifests of one refresh: each fetched at most once, with its ETag. */
class ManifestCache {
  /** @param {DatasnapClient} client */
  constructor(client) {
    this.client = client;
    /** @type {Map<string, Promise<any>>} */
    this.pending = new Map();
  }

  get(url) {
    if (!this.pending.has(url)) this.pending.set(url, this.load(url));
    return this.pending.get(url);
  }

  async load(url) {
    const client = this.client;
    const cached = await client._get("manifests", url);
    const headers = cached?.etag ? { "If-None-Match": cached.etag } : {};
    // no-store: the page sends the validator itself and sees the 304.
    const response = await client._fetch(url, { cache: "no-store", headers });
    if (response.status === 304 && cached) {
      await response.arrayBuffer();  // empty: lets the connection be reused
      return cached.manifest;
    }
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    let manifest;
    try {
      manifest = JSON.parse(await response.text());
    } catch (e) {
      throw new Error(`not JSON (${message(e)})`);
    }
    if (manifest?.format !== FORMAT) {
      throw new Error(`format ${manifest?.format} is not ${FORMAT}: this client is too old for the export, not updating`);
    }
    if (!Array.isArray(manifest.datasets)) throw new Error("it has no datasets list");
    await client._put("manifests", { url, etag: response.headers.get("ETag"), manifest });
    return manifest;
  }
}

/**
 * Applies a diff to the options of its `from` version, as docs/FORMATS.md
 * ("Applying a diff") does: removed, changed and added by value, the order
 * from `order` or else from's order without the removed.
 * @param {Option[]} options
 * @param {any} diff
 * @returns {Option[]}
 */
export function applyDiff(options, diff) {
  const removed = new Set(diff.removed.map((o) => o.value));
  const after = new Map(diff.changed.map((c) => [c.value, c.after]));
  const byValue = new Map(diff.added.map((o) => [o.value, o]));
  for (const o of options) {
    if (after.has(o.value)) byValue.set(o.value, { value: o.value, ...after.get(o.value) });
    else if (!removed.has(o.value)) byValue.set(o.value, o);
  }
  const order = diff.order ?? options.filter((o) => !removed.has(o.value)).map((o) => o.value);
  return order.map((value) => {
    const o = byValue.get(value);
    if (!o) throw new Error(`its order names ${JSON.stringify(value)}, which no option has`);
    return o;
  });
}

/**
 * SHA-256 (hex) of options' canonical JSON (a snapshot's sha256, the
 * manifest's options_sha256): compact, members in the order given, which
 * is JSON.stringify's output for the snapshot's objects.
 * @param {Option[]} options
 */
export async function optionsSha256(options) {
  return sha256Hex(new TextEncoder().encode(JSON.stringify(options)));
}

/** @param {Uint8Array} bytes */
async function sha256Hex(bytes) {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  return Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** @param {Uint8Array} bytes */
async function gunzip(bytes) {
  const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("gzip"));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

/** The export directory of a manifest URL (orgs/<org>/manifest.json is two below it). */
function exportBase(manifestUrl) {
  const url = new URL(".", manifestUrl);
  if (/\/orgs\/[a-z0-9][a-z0-9_-]*\/$/.test(url.pathname)) return new URL("../../", url).href;
  return url.href;
}

function openDatabase(name) {
  return new Promise((resolve, reject) => {
    const req = indexedDB.open(name, DB_VERSION);
    req.onupgradeneeded = () => {
      req.result.createObjectStore("manifests", { keyPath: "url" });
      req.result.createObjectStore("datasets", { keyPath: "id" });
    };
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
    req.onblocked = () => reject(new Error("blocked by another tab holding an older version"));
  });
}

function request(req) {
  return new Promise((resolve, reject) => {
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
}

function message(e) {
  return e instanceof Error ? e.message : String(e);
}

/** Depth of each option under parents that are in the list (cycles cut). */
function depths(options) {
  const parentOf = new Map(options.map((o) => [o.value, o.parent]));
  const depth = new Map();
  for (const o of options) {
    let d = 0;
    for (let p = o.parent; p !== undefined && parentOf.has(p) && d < options.length; p = parentOf.get(p)) d++;
    depth.set(o.value, d);
  }
  return depth;
}

/** @param {HTMLSelectElement} select @param {HeldDataset} held */
function renderSelect(select, held, hierarchy) {
  const chosen = select.value;
  for (const el of [...select.children]) {
    if (!(el instanceof HTMLOptionElement && el.value === "")) el.remove();
  }
  const depth = hierarchy === "flat" ? new Map() : depths(held.options);
  const fragment = document.createDocumentFragment();
  let group = null;
  for (const o of held.options) {
    const d = depth.get(o.value) ?? 0;
    const option = document.createElement("option");
    option.value = o.value;
    option.textContent = "\u00a0\u00a0".repeat(hierarchy === "optgroup" ? Math.max(0, d - 1) : d) + o.label;
    if (o.parent !== undefined) option.dataset.parent = o.parent;
    if (hierarchy === "optgroup") {
      const hasChildren = held.options.some((c) => c.parent === o.value);
      if (d === 0) {
        group = null;
        if (hasChildren) {
          group = document.createElement("optgroup");
          group.label = o.label;
          fragment.append(group);
        }
      }
      (d > 0 || hasChildren) && group ? group.append(option) : fragment.append(option);
    } else {
      fragment.append(option);
    }
  }
  select.append(fragment);
  select.value = chosen;
  if (select.value !== chosen) select.selectedIndex = 0;
  select.dataset.version = String(held.version);
}

/** @returns {Map<string, string>} shown text to code */
function renderDatalist(list, held) {
  const labelOf = new Map(held.options.map((o) => [o.value, o.label]));
  const seen = new Map();
  for (const o of held.options) seen.set(o.label, (seen.get(o.label) ?? 0) + 1);
  const codes = new Map();
  const fragment = document.createDocumentFragment();
  for (const o of held.options) {
    // A label two options share is told apart by its code.
    const text = seen.get(o.label) > 1 ? `${o.label} (${o.value})` : o.label;
    const option = document.createElement("option");
    option.value = text;
    if (o.parent !== undefined && labelOf.has(o.parent)) option.label = labelOf.get(o.parent);
    option.dataset.value = o.value;
    codes.set(text, o.value);
    fragment.append(option);
  }
  list.replaceChildren(fragment);
  list.dataset.version = String(held.version);
  return codes;
}
