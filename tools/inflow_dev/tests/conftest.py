"""What `pytest tools/inflow_dev/tests` (make test) collects: every test here but those of stack/,
which need a running emulator and built binaries and are run by their scripts (test_local_stack.sh,
tenants.sh, browser.sh); and test_deploy.py only where SAM CLI is installed (make test runs it with
.venv-sam's python)."""

import importlib.util

collect_ignore = ["stack"]
if importlib.util.find_spec("samcli") is None:
    collect_ignore.append("test_deploy.py")
