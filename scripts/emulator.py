"""The local AWS emulator: moto's server, with DynamoDB calls serialized.

moto evaluates a condition expression and applies the write as separate Python steps, and
its server is threaded, so two concurrent conditional writes to one item can both pass their
condition. Real DynamoDB applies each conditional write atomically, and our rate limiter and
uniqueness claims rely on that. Serializing DynamoDB requests restores it; other services
(SQS long polls above all) stay concurrent.

Usage: python emulator.py HOST PORT
"""

import sys
import threading

from werkzeug.serving import run_simple

from moto.moto_server.threaded_moto_server import MotoRequestHandler  # noqa: F401 (same handler moto uses)
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

_dynamodb = threading.Lock()


def serialize_dynamodb(app):
    def wrapped(environ, start_response):
        target = environ.get("HTTP_X_AMZ_TARGET", "")
        if not target.startswith("DynamoDB_"):
            return app(environ, start_response)
        with _dynamodb:
            # Consume the whole response inside the lock: moto may build it lazily.
            return list(app(environ, start_response))

    return wrapped


def main():
    host, port = sys.argv[1], int(sys.argv[2])
    app = DomainDispatcherApplication(create_backend_app)
    run_simple(host, port, serialize_dynamodb(app), threaded=True, request_handler=MotoRequestHandler)


if __name__ == "__main__":
    main()
