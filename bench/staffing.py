"""`bench/staffing.py --json`: the staffing benchmark under the name issue 17 gives it (the code is in
bench/staffing_month.py; every flag is passed through).

Python puts `bench/` first on `sys.path` for each bench script, so this file is also what `import staffing`
finds from there (bench/e2e.py's daemon imports `staffing.live_risk`). Imported rather than run, it therefore
hands over to the project's `staffing` package.
"""

from __future__ import annotations

import importlib
import os
import sys

_HERE = os.path.dirname(os.path.abspath(__file__))

if __name__ == "__main__":
    import staffing_month  # bench/ is sys.path[0] here

    staffing_month.main()
else:
    # The import machinery keeps whatever sits in sys.modules under this name when the file has run.
    del sys.modules[__name__]
    _saved = sys.path[:]
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != _HERE]
    try:
        sys.modules[__name__] = importlib.import_module(__name__)
    finally:
        sys.path[:] = _saved
