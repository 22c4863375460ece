"""A TLS front for the local emulator, for `make bench` only: it measures what a function's
first request pays for a TLS handshake (AWS endpoints are HTTPS; the emulator is plain HTTP).

Usage: python tls_proxy.py PORT UPSTREAM_PORT CERT KEY   (loopback only)
"""

import socket
import ssl
import sys
import threading


def pipe(src, dst):
    try:
        while data := src.recv(65536):
            dst.sendall(data)
    except OSError:
        pass
    finally:
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def serve(conn, context, upstream_port):
    try:
        tls = context.wrap_socket(conn, server_side=True)
        upstream = socket.create_connection(("127.0.0.1", upstream_port))
    except (OSError, ssl.SSLError):
        conn.close()
        return
    threading.Thread(target=pipe, args=(tls, upstream), daemon=True).start()
    pipe(upstream, tls)


def main():
    port, upstream_port, cert, key = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server = socket.create_server(("127.0.0.1", port))
    while True:
        conn, _ = server.accept()
        threading.Thread(target=serve, args=(conn, context, upstream_port), daemon=True).start()


if __name__ == "__main__":
    main()
