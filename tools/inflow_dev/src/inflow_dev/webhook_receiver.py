"""A webhook receiver for the smoke test: answers 200 to every POST and appends each delivery
(its headers and body) to a JSON-lines file, for the test to verify with a Standard Webhooks
library afterwards.

    .venv/bin/python -m inflow_dev.webhook_receiver PORT FILE
"""

import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def main():
    port, path = int(sys.argv[1]), sys.argv[2]

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("content-length") or 0))
            with open(path, "a") as f:
                f.write(json.dumps({"headers": {k.lower(): v for k, v in self.headers.items()},
                                    "body": body.decode("utf-8", "replace")}) + "\n")
            self.send_response(200)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()


if __name__ == "__main__":
    main()
