#!/usr/bin/env python3
"""The configurations shown in docs/operations.md and tandem.conf(5) load.

Each complete example (one with a [node] section) is taken from the text,
its key placeholders replaced by keys from `tandemd --generate-keys`, and
checked with `tandemd --check-config`. Usage: test_doc_configs.py TANDEMD
"""
import os
import re
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def examples():
    with open(os.path.join(ROOT, "docs", "operations.md")) as f:
        for block in re.findall(r"```ini\n(.*?)```", f.read(), re.S):
            if "[node]" in block:
                yield "docs/operations.md", block
    with open(os.path.join(ROOT, "packaging", "man", "tandem.conf.5")) as f:
        page = f.read()
    m = re.search(r"\.SH EXAMPLE\n\.nf\n(.*?)\n\.fi", page, re.S)
    if m:
        yield "packaging/man/tandem.conf.5", m.group(1).replace("\\-", "-")


def key_pair(tandemd):
    out = subprocess.run([tandemd, "--generate-keys"], capture_output=True, text=True,
                         check=True).stdout
    return dict(re.findall(r"^(public-key|secret-key) = (\S+)$", out, re.M))


def main():
    tandemd = sys.argv[1]
    failures = checked = 0
    with tempfile.TemporaryDirectory() as work:
        for source, text in examples():
            own, peer = key_pair(tandemd), key_pair(tandemd)
            key_file = os.path.join(work, "node.key")
            with open(key_file, "w") as f:
                f.write(own["secret-key"] + "\n")
            os.chmod(key_file, 0o600)
            text = re.sub(r"<fw-a's public key>", own["public-key"], text)
            text = re.sub(r"<fw-b's public key>", peer["public-key"], text)
            text = text.replace("/etc/tandem/node.key", key_file)
            conf = os.path.join(work, "example.conf")
            with open(conf, "w") as f:
                f.write(text)
            r = subprocess.run([tandemd, "--check-config", conf], capture_output=True, text=True)
            checked += 1
            if r.returncode == 0:
                print(f"ok    the example in {source} loads")
            else:
                failures += 1
                print(f"FAIL  the example in {source} does not load:\n{r.stdout}{r.stderr}")
    if checked < 2:
        print(f"FAIL  found {checked} examples, expected one in each of the two documents")
        failures += 1
    print(f"doc-configs: {checked - failures} passed, {failures} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
