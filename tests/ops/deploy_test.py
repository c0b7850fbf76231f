"""The recipes in deploy/, exercised as far as this machine allows:

- deploy/github-actions/nightly.yml parses (python3-yaml); it restores the
  store before refreshing and keeps it (cache and artifact) even when the
  refresh failed, uploads the export, and fails the run on exit 1 or a
  failed check; every datasnap command it runs is run here, for real,
  against the fake upstream (so each command and option exists);
- the systemd units pass `systemd-analyze verify` (with the installed man
  page for Documentation=), and their ExecStart, with the paths moved into
  a temporary directory and the credential file made, runs and reads the
  API key through EXTERNAL_DATASET_API_KEY_FILE;
- every cron line of deploy/cron/crontab, and the original tool's lines
  with datasnap's aliases, run the same way.

Usage: deploy_test.py DATASNAP FAKE_UPSTREAM INSTALL MIRROR_FILE DEPLOY_FILE...
"""
import os
import re
import shlex
import shutil
import subprocess
import sys

import yaml

from ops_support import Failures, Upstream, describe, temp_dir


def main():
    datasnap, fake_upstream, install, mirror_file = map(os.path.abspath, sys.argv[1:5])
    files = {os.path.relpath(p, start="deploy") if p.startswith("deploy/")
             else p.split("deploy/", 1)[1]: p for p in sys.argv[5:]}
    mirror_root = os.path.dirname(os.path.dirname(os.path.abspath(mirror_file)))
    t = Failures()
    work = temp_dir()
    upstream = Upstream(fake_upstream, mirror_root, work)
    upstream_env = {"NHS_DD_BASE_URL": upstream.url + "/nhs_dd",
                    "EXTERNAL_DATASET_API_URL": upstream.url + "/rcpch",
                    "PATH": "/usr/bin:/bin", "USER": "tester"}

    def run_line(argv, env, cwd, what, ok=(0,)):
        r = subprocess.run(argv, env={**upstream_env, **env}, cwd=cwd,
                           text=True, capture_output=True, timeout=300)
        t.check(r.returncode in ok, f"{what}: {shlex.join(argv)}: " +
                describe(r))
        return r

    try:
        # --- GitHub Actions ---------------------------------------------
        with open(files["github-actions/nightly.yml"]) as f:
            wf = yaml.safe_load(f)
        # YAML 1.1 reads the key `on` as True.
        on = wf.get("on", wf.get(True))
        t.check(on and on["schedule"][0]["cron"] and "workflow_dispatch" in on,
                "scheduled nightly, and by hand")
        t.check(wf["concurrency"]["cancel-in-progress"] is False,
                "one run at a time, none cancelled mid-write")
        job = wf["jobs"]["refresh"]
        steps = job["steps"]
        names = [s.get("uses", "").split("@")[0] or s.get("name") for s in steps]

        def index(pred, what):
            for i, s in enumerate(steps):
                if pred(s):
                    return i
            t.check(False, f"the workflow has a step that {what}")
            return -1

        restore = index(lambda s: s.get("uses", "").startswith("actions/cache/restore@"), "restores the cache")
        refresh = index(lambda s: " refresh " in s.get("run", ""), "refreshes")
        upload = index(lambda s: s.get("uses", "").startswith("actions/upload-artifact@")
                       and "var/export" in s["with"]["path"], "uploads the export")
        save = index(lambda s: s.get("uses", "").startswith("actions/cache/save@"), "saves the cache")
        keep = index(lambda s: s.get("uses", "").startswith("actions/upload-artifact@")
                     and s["with"]["path"] == "var/datasnap.lmdb", "keeps the store as an artifact")
        t.check(-1 < restore < refresh < upload and refresh < save and
                refresh < keep, f"restore, refresh, then upload and keep: {names}")
        if save > -1 and restore > -1:
            r, s = steps[restore]["with"], steps[save]["with"]
            t.check(r["path"] == s["path"] == "var/datasnap.lmdb",
                    "the cache restores and saves the store file")
            t.check(s["key"].startswith(r["restore-keys"]),
                    "the saved key is found by the next run's restore-keys")
            t.check("always()" in steps[save].get("if", ""),
                    "the store is kept even when a step failed")
        t.check("always()" in steps[keep].get("if", ""), "artifact kept always")
        t.check(job["env"]["DATASNAP_STORE"].endswith("/var/datasnap.lmdb"),
                "DATASNAP_STORE is the cached file")
        last = steps[-1]
        t.check("exit 1" in last["run"] and "steps.refresh.outputs.status" in last["if"]
                and "steps.check.outputs.status" in last["if"],
                "the run fails after keeping the store when refresh or the check failed")

        ws = os.path.join(work, "actions")
        os.makedirs(ws)
        wf_env = {"DATASNAP_STORE": job["env"]["DATASNAP_STORE"].replace(
            "${{ github.workspace }}", ws), "GITHUB_OUTPUT": os.path.join(ws, "out")}
        commands = 0
        publish_seen = False
        for step in steps:
            for line in step.get("run", "").splitlines():
                if "bazel-bin/tools/datasnap" not in line:
                    continue
                if " upload " in line:
                    # Needs an S3 server: //tests/ops:upload_test runs upload
                    # against one. Here: optional, and after the export.
                    t.check("vars.DATASNAP_UPLOAD_TO" in step.get("if", "") and
                            "--from var/export" in line,
                            "the publish step is optional and uploads the export")
                    publish_seen = True
                    continue
                cmd = line.strip().split(" || ")[0]
                argv = shlex.split(cmd)
                argv[0] = datasnap
                os.makedirs(os.path.join(ws, "var"), exist_ok=True)
                run_line(argv, wf_env, ws, f"workflow step '{step['name']}'")
                commands += 1
        t.check(commands >= 2, "the workflow's datasnap commands ran")
        t.check(publish_seen, "the workflow has a publish step")
        t.check(os.path.isfile(os.path.join(ws, "var/export/manifest.json")) and
                os.path.isfile(os.path.join(ws, "var/refresh-report.json")),
                "the workflow's refresh wrote the export and the report it uploads")

        # --- systemd ------------------------------------------------------
        service = open(files["systemd/datasnap-refresh.service"]).read()
        timer = open(files["systemd/datasnap-refresh.timer"]).read()
        for needed in ("StateDirectory=datasnap",
                       "Environment=DATASNAP_STORE=/var/lib/datasnap/datasnap.lmdb",
                       "LoadCredential=rcpch-api-key:",
                       "Environment=EXTERNAL_DATASET_API_KEY_FILE=%d/rcpch-api-key"):
            t.check(needed in service, f"the service has {needed}")
        t.check("Persistent=yes" in timer and "OnCalendar=" in timer, "timer")
        prefix = os.path.join(work, "prefix")
        subprocess.run([install, prefix, datasnap], check=True,
                       capture_output=True, timeout=120)
        if shutil.which("systemd-analyze"):
            units = os.path.join(work, "units")
            os.makedirs(units)
            with open(os.path.join(units, "datasnap-refresh.service"), "w") as f:
                f.write(service.replace("/usr/local/bin/datasnap",
                                        os.path.join(prefix, "bin/datasnap")))
            with open(os.path.join(units, "datasnap-refresh.timer"), "w") as f:
                f.write(timer)
            r = subprocess.run(
                ["systemd-analyze", "verify",
                 os.path.join(units, "datasnap-refresh.service"),
                 os.path.join(units, "datasnap-refresh.timer")],
                text=True, capture_output=True, timeout=60,
                env={"PATH": "/usr/bin:/bin",
                     "MANPATH": os.path.join(prefix, "share/man")})
            t.check(r.returncode == 0 and not r.stderr.strip(),
                    "systemd-analyze verify: " + describe(r))
        else:
            print("systemd-analyze not found: unit verification skipped")

        state = os.path.join(work, "var-lib-datasnap")
        creds = os.path.join(work, "credentials")
        os.makedirs(state)
        os.makedirs(creds)
        with open(os.path.join(creds, "rcpch-api-key"), "w") as f:
            f.write("test-key\n")
        unit_env = {}
        for m in re.finditer(r"^Environment=([A-Z_]+)=(.*)$", service, re.M):
            unit_env[m.group(1)] = (m.group(2).replace("%d", creds)
                                    .replace("/var/lib/datasnap", state))
        exec_start = re.search(r"^ExecStart=(.*)$", service, re.M).group(1)
        argv = shlex.split(exec_start.replace("/var/lib/datasnap", state))
        t.check(argv[0] == "/usr/local/bin/datasnap", "ExecStart runs the installed binary")
        argv[0] = os.path.join(prefix, "bin/datasnap")
        run_line(argv, unit_env, state, "systemd ExecStart")
        t.check(os.path.isfile(os.path.join(state, "datasnap.lmdb")) and
                os.path.isfile(os.path.join(state, "export/manifest.json")),
                "the service writes its store and export in its StateDirectory")
        os.remove(os.path.join(creds, "rcpch-api-key"))
        r = run_line(argv, unit_env, state, "a missing credential", ok=(2,))
        t.check("EXTERNAL_DATASET_API_KEY_FILE" in r.stderr,
                "a missing credential is named")

        # --- cron ---------------------------------------------------------
        crontab = open(files["cron/crontab"]).read()
        cron_state = os.path.join(work, "cron")
        os.makedirs(cron_state)
        with open(os.path.join(cron_state, "key"), "w") as f:
            f.write("test-key\n")
        cron_env = {}
        lines = []
        for line in crontab.splitlines():
            m = re.match(r"^([A-Z_]+)=(.*)$", line)
            if m:
                cron_env[m.group(1)] = (m.group(2).replace("/var/lib/datasnap", cron_state)
                                        .replace("/etc/datasnap/rcpch-api-key",
                                                 os.path.join(cron_state, "key")))
            m = re.match(r"^(?:#   )?([0-9*,/-]+ +){5}(?:datasnap +)?(.*)$", line)
            if m and "datasnap" in m.group(2) and "manage.py" not in m.group(2):
                lines.append(m.group(2))
        # The installed lines first: the aliases need a seeded store, which
        # refresh makes (the crontab says so).
        lines.sort(key=lambda l: "_datasets" in l)
        t.check(len(lines) == 4, f"cron lines: {lines}")
        t.check(any("scrape_nhs_dd_datasets" in l for l in lines) and
                any("sync_external_datasets" in l for l in lines),
                "the original tool's command names")
        for line in lines:
            line = line.replace("/var/lib/datasnap", cron_state)
            line = re.sub(r"\s*>>?\s*\S+", "", line)          # redirections
            line = re.sub(r"^cd \S+ && ", "", line)
            argv = shlex.split(line)
            t.check(argv[0] == "datasnap", f"cron runs datasnap: {line}")
            argv[0] = os.path.join(prefix, "bin/datasnap")
            run_line(argv, {**cron_env, "PATH": "/usr/bin:/bin"}, cron_state,
                     "cron line")
    finally:
        upstream.close()
    t.finish()


if __name__ == "__main__":
    main()
