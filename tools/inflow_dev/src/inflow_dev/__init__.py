"""Inflow's local platform, one package: what `make dev` serves on this machine and what `make test`
checks beside cargo. Each module is one concept; run a module that has a command line as
`.venv/bin/python -m inflow_dev.<module>` (scripts/*.sh do):

- template      the only Python reader of template.yaml (routes, functions, CORS, throttles,
                parameters, event sources)
- gateway       the local API Gateway (an HTTP API, payload format 2.0) on 127.0.0.1:9000
- http1         HTTP/1.1 on the wire, which the front and the Lambda APIs share
- lambda_api    the function processes, the Lambda Runtime API they poll and the Invoke API
- sources       Lambda's event sources: the table's stream, the queues, the schedule
- emulator      moto, with the changes the local stack needs
- check_routes, check_links, validate_events    make test's checks of the documents
- invoke, webhook_receiver, schemathesis_hooks  helpers of make invoke, the smoke test, schemathesis
- cost, capacity, latency_model                 make bench's models and reports

ROOT is the repository (the package is installed editable from tools/inflow_dev, so it is found
from this file; failing that, from the current directory).
"""

from pathlib import Path


def _root():
    for base in (Path(__file__).resolve().parent, Path.cwd().resolve()):
        for folder in (base, *base.parents):
            if (folder / "template.yaml").is_file() and (folder / "Cargo.toml").is_file():
                return folder
    raise RuntimeError("inflow_dev: no repository (template.yaml and Cargo.toml) above "
                       f"{Path(__file__).resolve().parent} or the current directory")


ROOT = _root()
