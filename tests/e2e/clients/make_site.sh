#!/bin/sh
# The site the real clients e2e test serves (test_real_clients.cpp), in $1:
# a page, a PEP 503 simple index with one wheel (pip), and a bare git
# repository served over git's dumb HTTP protocol (git ls-remote).
set -eu
site=$1
mkdir -p "$site/simple/example"
echo '<html><body>hello from the test world</body></html>' > "$site/index.html"
/usr/bin/python3 - "$site/simple/example" <<'PY'
import sys, zipfile
out = sys.argv[1] + "/example-1.0-py3-none-any.whl"
with zipfile.ZipFile(out, "w") as z:
    z.writestr("example/__init__.py", "")
    z.writestr("example-1.0.dist-info/METADATA", "Metadata-Version: 2.1\nName: example\nVersion: 1.0\n")
    z.writestr("example-1.0.dist-info/WHEEL", "Wheel-Version: 1.0\nGenerator: agentd-e2e\nRoot-Is-Purelib: true\nTag: py3-none-any\n")
    z.writestr("example-1.0.dist-info/RECORD", "")
PY
cat > "$site/simple/example/index.html" <<'HTML'
<!DOCTYPE html><html><body><a href="example-1.0-py3-none-any.whl">example-1.0-py3-none-any.whl</a></body></html>
HTML
work=$(mktemp -d)
git -c init.defaultBranch=main init -q "$work"
echo hello > "$work/README"
git -C "$work" add README
git -C "$work" -c user.name=e2e -c user.email=e2e@example.test commit -q -m "the first commit"
git clone -q --bare "$work" "$site/repo.git"
git -C "$site/repo.git" update-server-info
rm -rf "$work"
