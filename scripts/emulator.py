"""The local AWS emulator: moto's server, with DynamoDB calls serialized.

moto evaluates a condition expression and applies the write as separate Python steps, and
its server is threaded, so two concurrent conditional writes to one item can both pass their
condition. Real DynamoDB applies each conditional write atomically, and our rate limiter and
uniqueness claims rely on that. Serializing DynamoDB requests restores it; other services
(SQS long polls above all) stay concurrent.

It also answers GET /_inflow/sent-mail with the mail SES has sent (v1 and v2 API), as a JSON
list of {id, source, destinations, subject, body}. moto's own /moto-api/data.json has it too,
but it dumps every model of every service (megabytes with many test tables) and fails outright
once some DynamoDB items are in memory ("keys must be str ..., not DynamoType").

Usage: python emulator.py HOST PORT
"""

import json
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


SENT_MAIL_PATH = "/_inflow/sent-mail"


def sent_mail(app):
    def wrapped(environ, start_response):
        if environ.get("PATH_INFO") != SENT_MAIL_PATH:
            return app(environ, start_response)
        from moto.ses.models import ses_backends

        messages = []
        for account_id in list(ses_backends.keys()):
            for region, backend in list(ses_backends[account_id].items()):
                for m in list(backend.sent_messages):
                    messages.append({
                        "id": getattr(m, "id", None),
                        "region": region,
                        "source": getattr(m, "source", None),
                        "destinations": getattr(m, "destinations", None),
                        "subject": getattr(m, "subject", None),
                        "body": getattr(m, "body", getattr(m, "raw_data", None)),
                    })
        body = json.dumps(messages, default=str).encode()
        start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
        return [body]

    return wrapped


def main():
    host, port = sys.argv[1], int(sys.argv[2])
    app = DomainDispatcherApplication(create_backend_app)
    app = sent_mail(serialize_dynamodb(app))
    run_simple(host, port, app, threaded=True, request_handler=MotoRequestHandler)


if __name__ == "__main__":
    main()
