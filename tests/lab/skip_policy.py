"""What a test that cannot run on this machine returns.

On a developer's machine it is a skip (ctest's SKIP_RETURN_CODE 77, printed
loudly); where every test must run, a skip would hide a broken build or a
lab that could not start behind a green run, so it is a failure: in CI
(`CI=true`) and under scripts/test (`TANDEM_TEST_STRICT=1`). The package
test (packaging/tests/test_packages.sh) follows the same rule in shell.
"""
from __future__ import annotations

import os

SKIP = 77


def strict() -> bool:
    """True where a test that cannot run is a failure."""
    return (os.environ.get("TANDEM_TEST_STRICT") == "1"
            or os.environ.get("CI", "").lower() == "true")


def skip_exit(reason: object) -> int:
    """Prints why the test cannot run; returns its exit code (77, or 1 when strict)."""
    if strict():
        print(f"RESULT: FAIL (this test cannot run here, and under scripts/test or CI every "
              f"test must: {reason})")
        return 1
    print(f"SKIPPED: {reason} (a failure under scripts/test or CI)")
    return SKIP
