#!/usr/bin/env bash
# A throwaway CA and a certificate it signs for 127.0.0.1 and localhost, in DIR (kept if there):
# DIR/ca.pem, DIR/leaf.pem, DIR/leaf.key. For bench/tls_proxy.py, a TLS front for the emulator
# (make bench, and tests/it/tls.rs).
#   scripts/tls-cert.sh DIR
set -euo pipefail
dir=$1
mkdir -p "$dir"
[[ -f $dir/leaf.pem ]] && exit 0
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$dir/ca.key" -out "$dir/ca.pem" -days 3650 \
  -subj "/CN=Inflow test CA" 2>/dev/null
openssl req -newkey rsa:2048 -nodes -keyout "$dir/leaf.key" -out "$dir/leaf.csr" -subj "/CN=localhost" 2>/dev/null
printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' >"$dir/ext"
openssl x509 -req -in "$dir/leaf.csr" -CA "$dir/ca.pem" -CAkey "$dir/ca.key" -CAcreateserial \
  -out "$dir/leaf.pem" -days 3650 -extfile "$dir/ext" 2>/dev/null
