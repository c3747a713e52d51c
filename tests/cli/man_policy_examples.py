#!/usr/bin/env python3
"""The examples of agentd-policy(5) are policy agentctl accepts.

Each YAML block of the page (between ``` lines) goes where it belongs: a
tenant's file as it is, a preset into presets/, a `sandbox:` or an
`approvals:` section into a rule or a file of its own; then
`agentctl policy validate --strict` must accept the whole dir.
Usage: man_policy_examples.py AGENTCTL PAGE.scd PRESETS_DIR
"""
import pathlib
import re
import shutil
import subprocess
import sys
import tempfile

agentctl, page, presets = sys.argv[1:4]
blocks = re.findall(r"^```\n(.*?)^```", open(page).read(), re.S | re.M)
with tempfile.TemporaryDirectory() as tmp:
    root = pathlib.Path(tmp)
    shutil.copytree(presets, root / "presets")
    used = 0
    for i, block in enumerate(blocks):
        if re.match(r"apiVersion: agentd/v1\s*(#.*)?\ntenant:", block):
            text = block
        elif re.match(r"apiVersion: agentd/v1\s*(#.*)?\npreset:", block):
            (root / "presets" / f"example{i}.yaml").write_text(re.sub(r"^preset: .*$", f"preset: example{i}", block, flags=re.M))
            used += 1
            continue
        elif block.startswith("sandbox:"):
            text = f'apiVersion: agentd/v1\ntenant: t{i}\nrules:\n  - agents: "t{i}/*/*"\n' + "".join(
                "    " + line + "\n" for line in block.splitlines())
        elif block.startswith("approvals:"):
            text = f"apiVersion: agentd/v1\ntenant: t{i}\n" + block
        else:
            print(f"block {i} is none of what this check knows:\n{block}")
            sys.exit(1)
        tenant = re.search(r"^tenant:\s+(\S+)", text, re.M).group(1)
        (root / f"{tenant}.yaml").write_text(text)
        used += 1
    result = subprocess.run([agentctl, "policy", "validate", "--strict", str(root)], capture_output=True, text=True)
    print(result.stdout + result.stderr, end="")
    print(f"{used} examples checked")
    sys.exit(result.returncode)
