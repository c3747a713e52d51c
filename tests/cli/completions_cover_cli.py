#!/usr/bin/env python3
"""The shell completions offer every agentctl subcommand and option.

Walks `agentctl [PATH] --help` (CLI11's help: "Options:" and "Subcommands:")
and checks, for each subcommand path, that the bash completion's
`case "$path"` arm for it names every option, that its parent's arm names
the subcommand, and that the zsh completion mentions each subcommand and
option. Usage: completions_cover_cli.py AGENTCTL BASH_FILE ZSH_FILE
"""
import re
import subprocess
import sys

agentctl, bash_file, zsh_file = sys.argv[1:4]
bash = open(bash_file).read()
zsh = open(zsh_file).read()
# Global options and what every subcommand has: not repeated per arm.
GLOBAL = {"-h", "--help", "--socket", "--version"}


def help_of(path):
    out = subprocess.run([agentctl, *path, "--help"], capture_output=True, text=True, check=True).stdout
    options, subcommands, section = set(), [], None
    for line in out.splitlines():
        if line.startswith("Options:"):
            section = "options"
        elif line.startswith("Subcommands:"):
            section = "subcommands"
        elif section == "options" and re.match(r"^  -", line):
            # "  -o,--output TEXT:{table,json}  ...": the names, then a type.
            for word in line.strip().split(" ")[0].split(","):
                if word.startswith("-"):
                    options.add(word)
        elif section == "subcommands" and line.startswith("  "):
            subcommands.append(line.split()[0])
    return options - GLOBAL, subcommands


# The arms of bash's `case "$path" in ... esac`: pattern -> text.
block = bash[bash.index('case "$path" in'):]
block = block[: block.index("\n  esac")]
# An arm starts at a pattern indented by four spaces and runs to the next
# (an arm may hold a case of its own).
arms = {}
start = re.compile(r'^ {4}((?:"[^"]*"|[\w-]+)(?:\s*\|\s*(?:"[^"]*"|[\w-]+))*)\)(.*)$')
patterns = None
for line in block.splitlines()[1:]:
    m = start.match(line)
    if m:
        patterns = [p.strip('"') for p in re.split(r"\s*\|\s*", m.group(1))]
        for p in patterns:
            arms[p] = m.group(2) + "\n"
    elif patterns:
        for p in patterns:
            arms[p] += line + "\n"

problems = []


def walk(path):
    options, subcommands = help_of(path)
    key = " ".join(path)
    arm = arms.get(key)
    if arm is None:
        problems.append(f"bash: no case arm for \"{key}\"")
        arm = ""
    for o in sorted(options):
        if not re.search(r"(?<![\w-])" + re.escape(o) + r"(?![\w-])", arm):
            problems.append(f"bash: \"{key}\" does not offer {o}")
        if o not in zsh:
            problems.append(f"zsh: {o} (of \"{key}\") is not offered")
    for sub in subcommands:
        if not re.search(r"(?<![\w-])" + re.escape(sub) + r"(?![\w-])", arm):
            problems.append(f"bash: \"{key}\" does not offer the subcommand {sub}")
        if not re.search(r"(?<![\w-])" + re.escape(sub) + r"\\:", zsh) and not re.search(
                r"^\s*" + re.escape(sub) + r"[ )|]", zsh, re.M):
            problems.append(f"zsh: the subcommand {key + ' ' if key else ''}{sub} is not offered")
        walk(path + [sub])


walk([])
for p in problems:
    print(p)
print(f"{len(problems)} problems" if problems else "every subcommand and option is completed")
sys.exit(1 if problems else 0)
