"""Make the test-local helper module (llm_scripted_helpers) importable from these tests."""

import sys
from pathlib import Path

_HERE = str(Path(__file__).parent)
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)
