"""tools/install into a temporary prefix: the binary, the man page that
help2man makes from --help (ENVIRONMENT, EXIT STATUS, every command), and
the bash completion, which is checked against the CLI's own help: every
command and alias, and every option of every command, is offered; dataset
keys after KEY commands and --dataset; directories after --out.

Usage: install_test.py INSTALL DATASNAP
"""
import os
import re
import subprocess
import sys

from ops_support import Failures, temp_dir


def main():
    install, datasnap = sys.argv[1:3]
    t = Failures()
    work = temp_dir()
    prefix = os.path.join(work, "prefix")
    r = subprocess.run([install, prefix, datasnap], text=True,
                       capture_output=True, timeout=120)
    t.check(r.returncode == 0, f"tools/install: {r.returncode} {r.stderr}")
    binary = os.path.join(prefix, "bin", "datasnap")
    man = os.path.join(prefix, "share", "man", "man1", "datasnap.1.gz")
    completion = os.path.join(prefix, "share", "bash-completion",
                              "completions", "datasnap")
    for path in (binary, man, completion):
        t.check(os.path.isfile(path), f"installed {path}")
    t.check(os.access(binary, os.X_OK), "the binary is executable")

    help_text = subprocess.run([binary, "--help"], text=True,
                               capture_output=True).stdout
    commands = {}  # name -> aliases
    in_subcommands = False
    for line in help_text.splitlines():
        if line.startswith("Subcommands:"):
            in_subcommands = True
            continue
        if in_subcommands:
            m = re.match(r"^  ([a-z][a-z0-9_,-]*(?:, [a-z][a-z0-9_-]*)*)(?:  |$)", line)
            if not m:
                if not line.strip():
                    break
                continue
            names = m.group(1).split(", ")
            commands[names[0]] = names[1:]
    t.check(len(commands) >= 17 and "refresh" in commands and
            "completion" in commands, f"commands from --help: {commands}")

    rendered = subprocess.run(
        ["man", "-l", man], text=True, capture_output=True,
        env={"PATH": "/usr/bin:/bin", "MANWIDTH": "100", "MAN_KEEP_FORMATTING": ""}
    ).stdout
    rendered = re.sub(r".\x08", "", rendered)
    for section in ("NAME", "SYNOPSIS", "OPTIONS", "EXIT STATUS",
                    "ENVIRONMENT"):
        t.check(re.search(rf"^{section}$", rendered, re.M) is not None,
                f"the man page has {section}")
    for word in ["EXTERNAL_DATASET_API_KEY_FILE", "EX_TEMPFAIL", "NO_COLOR",
                 "DATASNAP_STORE"] + list(commands):
        t.check(word in rendered, f"the man page mentions {word}")
    t.check("Exit status:" not in rendered,
            "the exit statuses are a section, not text of ENVIRONMENT")

    # A store with the NHS Data Dictionary datasets, for key completion.
    store = os.path.join(work, "s.lmdb")
    subprocess.run([binary, "--store", store, "seed-nhs-dd"], check=True,
                   capture_output=True)
    os.makedirs(os.path.join(work, "exportdir"))

    def complete(*words):
        """What the completion offers after `datasnap WORDS...` (the last
        word is the one being completed)."""
        line = " ".join(["datasnap", *words])
        script = (f'source "{completion}"\n'
                  f'COMP_WORDS=(datasnap {" ".join(map(quote, words))})\n'
                  f'COMP_CWORD={len(words)}\nCOMP_LINE={quote(line)}\n'
                  f'_datasnap\nprintf "%s\\n" "${{COMPREPLY[@]}}"\n')
        r = subprocess.run(["bash", "--norc", "-c", script], text=True,
                           capture_output=True, cwd=work,
                           env={"PATH": os.path.dirname(binary) + ":/usr/bin:/bin"})
        t.check(r.returncode == 0, f"completion of {words}: {r.stderr}")
        return set(filter(None, r.stdout.splitlines()))

    offered = complete("")
    for name, aliases in commands.items():
        for n in [name, *aliases]:
            t.check(n in offered, f"`datasnap <TAB>` offers {n}")
    t.check(complete("ref") == {"refresh"}, "a prefix narrows to refresh")
    t.check({"--store", "--wait-for-writer", "--help"} <= complete("--"),
            "global options before the command")

    for name in commands:
        sub_help = subprocess.run([binary, name, "--help"], text=True,
                                  capture_output=True).stdout
        options = set(re.findall(r"^  (?:-\w, ?)?(--[a-z][a-z-]*)", sub_help,
                                 re.M))
        t.check(options, f"{name} --help lists options")
        got = complete(name, "--")
        missing = options - got
        t.check(not missing, f"`datasnap {name} --<TAB>` offers {sorted(options)}"
                f"; missing {sorted(missing)}")
        t.check("--store" in got, f"{name}: global options after the command")

    keys = complete("--store", store, "show", "smok")
    t.check(keys == {"smoking_status_code"}, f"show KEY completes keys: {keys}")
    keys = complete("--store", store, "refresh", "--dataset", "ethnic")
    t.check("ethnic_category" in keys, f"--dataset completes keys: {keys}")
    t.check(complete("refresh", "--out", "expo") == {"exportdir"},
            "--out completes directories")
    t.finish()


def quote(word):
    return "'" + word.replace("'", "'\\''") + "'"


if __name__ == "__main__":
    main()
