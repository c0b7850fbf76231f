#!/usr/bin/python3
"""The original's algorithm, for comparison (docs/BENCHMARKS.md).

Follows CheckTick's sync_nhs_dd_datasets / sync_external_datasets as
docs/CHECKTICK.md describes them ("How the original fetched"): one synchronous `requests.get` per dataset, in sequence, no
conditional requests; BeautifulSoup with html.parser and the three
extraction strategies for NHS Data Dictionary pages; `response.json()` and
the dict transforms for RCPCH; one SQLite write (its own transaction) per
dataset. Not a port of CheckTick: no Django, no markdown catalogue (the
URLs come from seeds/*.json), no audit log.

  baseline.py refresh --db FILE      (NHS_DD_BASE_URL, EXTERNAL_DATASET_API_URL)
  baseline.py extract DIR [ITERATIONS]   extraction only, prints one JSON line
"""
import json
import os
import re
import sqlite3
import sys
import time
from pathlib import Path

import requests
from bs4 import BeautifulSoup

ROOT = Path(__file__).resolve().parents[2]
NHS_DD_ORIGIN = "https://www.datadictionary.nhs.uk"
USER_AGENT = ("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 "
              "(KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36")
CODE_RE = re.compile(r"^([A-Z0-9]+)")
DASH_PREFIX = r"^{}\s*[-\u2013\u2014]\s*"
LIST_RE = re.compile(r"^([A-Z0-9]+)\s*[-\u2013\u2014:]\s*(.+)$")


def stripped(tag):
    return "".join(tag.stripped_strings)


def extract_options(html_bytes):
    """Section 2.4: tables, then definition lists, then 'CODE - label' items."""
    soup = BeautifulSoup(html_bytes, "html.parser")
    options = {}
    for table in soup.find_all("table"):
        header_row = table.find("tr")
        if header_row is None:
            continue
        headers = [stripped(c).lower() for c in header_row.find_all(["th", "td"])]
        if len(headers) < 2:
            continue
        code_col = desc_col = None
        for i, h in enumerate(headers):
            if "code" in h or "value" in h:
                code_col = i
            if "description" in h or "name" in h or "meaning" in h:
                desc_col = i
        if code_col is None or desc_col is None:
            continue
        for row in table.find_all("tr")[1:]:
            cells = row.find_all(["td", "th"])
            if len(cells) <= max(code_col, desc_col):
                continue
            code = " ".join(stripped(cells[code_col]).split())
            desc = " ".join(stripped(cells[desc_col]).split())
            if code and desc:
                options[code] = desc
    if not options:
        for dl in soup.find_all("dl"):
            for dt, dd in zip(dl.find_all("dt"), dl.find_all("dd")):
                term, desc = stripped(dt), stripped(dd)
                m = CODE_RE.match(term)
                if m:
                    term = m.group(1)
                    desc = re.sub(DASH_PREFIX.format(re.escape(term)), "", desc)
                if term and desc:
                    options[term] = desc
    if not options:
        for lst in soup.find_all(["ul", "ol"]):
            for li in lst.find_all("li"):
                m = LIST_RE.match(stripped(li))
                if m:
                    options[m.group(1)] = m.group(2)
    if not options:
        raise ValueError("No valid options found on the page")
    return options


def transform_rcpch(entry, data):
    """Sections 3.1: the dict transforms, duplicates overwrite."""
    key, mapping = entry["key"], entry["mapping"]
    if not isinstance(data, list):
        raise ValueError(f"Expected list response for {key}, got {type(data).__name__}")
    options = {}
    for item in data:
        if not isinstance(item, dict) or mapping["code"] not in item:
            continue
        if "from_first_object" in mapping:  # paediatric diabetes units
            code, label = item[mapping["code"]], None
            for field in mapping["from_first_object"]["fields"]:
                obj = item.get(field)
                if isinstance(obj, dict):
                    if "name" in obj:
                        label = obj["name"]
                        code = obj.get("ods_code", code)
                    break
            options[code] = label or f"PDU {item[mapping['code']]}"
            continue
        if mapping["label"] not in item:
            continue
        options[item[mapping["code"]]] = item[mapping["label"]]
        children = mapping.get("children")
        if children:
            for child in item.get(children["field"]) or []:
                if isinstance(child, dict) and children["code"] in child:
                    options[child[children["code"]]] = "  " + child[children["label"]]
    if not options:
        raise ValueError(f"No valid options found in response for {key}")
    return options


def open_db(path):
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE IF NOT EXISTS dataset (key TEXT PRIMARY KEY, "
               "category TEXT, options TEXT, version INTEGER, last_synced TEXT)")
    db.commit()
    return db


def save(db, key, category, options):
    """One write per dataset, committed on its own (Django autocommit)."""
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    db.execute(
        "INSERT INTO dataset VALUES (?, ?, ?, 1, ?) ON CONFLICT(key) DO UPDATE "
        "SET options = excluded.options, version = version + 1, "
        "last_synced = excluded.last_synced",
        (key, category, json.dumps(options), now))
    db.commit()


def refresh(db_path):
    nhs_base = os.environ.get("NHS_DD_BASE_URL", NHS_DD_ORIGIN).rstrip("/")
    api_base = os.environ.get("EXTERNAL_DATASET_API_URL", "https://api.rcpch.ac.uk")
    db = open_db(db_path)
    errors = done = 0
    for entry in json.loads((ROOT / "seeds/nhs_dd.json").read_text())["datasets"]:
        url = entry["reference_url"].replace(NHS_DD_ORIGIN, nhs_base, 1)
        try:
            r = requests.get(url, headers={"User-Agent": USER_AGENT}, timeout=30)
            r.raise_for_status()
            save(db, entry["key"], "nhs_dd", extract_options(r.content))
            done += 1
        except Exception as e:  # the original prints and counts
            print(f"failed {entry['key']}: {e}", file=sys.stderr)
            errors += 1
    for entry in json.loads((ROOT / "seeds/rcpch.json").read_text())["datasets"]:
        try:
            r = requests.get(api_base + entry["endpoint"], timeout=30)
            r.raise_for_status()
            save(db, entry["key"], "rcpch", transform_rcpch(entry, r.json()))
            done += 1
        except Exception as e:
            print(f"failed {entry['key']}: {e}", file=sys.stderr)
            errors += 1
    print(json.dumps({"datasets": done, "errors": errors}))
    return 1 if errors else 0


def extract(directory, iterations):
    pages = [p.read_bytes() for p in sorted(Path(directory).glob("*.html"))]
    total = sum(len(p) for p in pages)
    start = time.perf_counter()
    for _ in range(iterations):
        options = failed = 0
        for page in pages:
            try:
                options += len(extract_options(page))
            except ValueError:
                failed += 1
    seconds = time.perf_counter() - start
    print(json.dumps({"pages": len(pages), "bytes": total, "iterations": iterations,
                      "seconds": round(seconds, 6),
                      "mb_per_s": round(total * iterations / seconds / 1e6, 3),
                      "options": options, "failed": failed}))
    return 0


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1:3] == ["refresh", "--db"]:
        sys.exit(refresh(sys.argv[3]))
    if len(sys.argv) in (3, 4) and sys.argv[1] == "extract":
        sys.exit(extract(sys.argv[2], int(sys.argv[3]) if len(sys.argv) == 4 else 3))
    sys.exit(__doc__)
