"""`make test`'s dependency audit: pip-audit over the installed .venv, summarised plainly.

Never fails the build: it needs PyPI's vulnerability service, which may be unreachable, and a
newly published advisory must not break everyone's CI at once. It prints what it found, what
it could not check, and why, so a reader of the CI log knows which of the three happened.
Set SHELF_AUDIT_STRICT=1 to exit 1 when a vulnerability is found.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

TIMEOUT = int(os.environ.get("SHELF_AUDIT_TIMEOUT", "180"))


def main() -> int:
    audit = Path(sys.executable).with_name("pip-audit")
    if not audit.exists():
        print("audit: pip-audit is not installed in .venv (requirements-dev.txt); skipped")
        return 0
    try:
        done = subprocess.run(
            [str(audit), "--format", "json", "--progress-spinner", "off"],
            capture_output=True, text=True, timeout=TIMEOUT,
        )  # fmt: skip
    except subprocess.TimeoutExpired:
        print(f"audit: pip-audit did not finish in {TIMEOUT} s (network?); nothing was audited")
        return 0
    try:
        report = json.loads(done.stdout)
    except ValueError:
        tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
        print("audit: pip-audit could not run the audit (no answer from the vulnerability "
              "service?): " + " | ".join(tail))  # fmt: skip
        return 0
    deps = report.get("dependencies", [])
    skipped = [d for d in deps if d.get("skip_reason")]
    audited = [d for d in deps if not d.get("skip_reason")]
    found = [(d["name"], d["version"], v) for d in audited for v in d.get("vulns", [])]
    print(f"audit: {len(deps)} installed packages, {len(audited)} audited, "
          f"{len(skipped)} could not be audited, {len(found)} known vulnerabilities")  # fmt: skip
    for name, version, vuln in found:
        fixes = ", ".join(vuln.get("fix_versions") or []) or "no fixed version yet"
        print(f"audit:   {name} {version}: {vuln['id']} (fixed in {fixes})")
    if skipped and not audited:
        reason = skipped[0]["skip_reason"]
        print(
            f"audit: NOTHING WAS AUDITED: every package was skipped, e.g. {reason!r}. The "
            "vulnerability service is unreachable from here or does not know these packages."
        )
    elif skipped:
        print("audit: skipped: " + ", ".join(d["name"] for d in skipped[:20]))
    if found and os.environ.get("SHELF_AUDIT_STRICT") == "1":
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
