#!/usr/bin/env bash
# make test: no crate in the workspace's build graph that we have decided against.
#   ring        a second crypto stack beside aws-lc-rs, which the SDK's TLS already brings
#               (reqwest 0.12's rustls-tls and jsonwebtoken's rust_crypto brought it back once)
#   rsa         RUSTSEC-2023-0071 (Marvin attack), no fixed release; came with jsonwebtoken's
#               rust_crypto backend although only HS256 is used
#   openssl-sys a third TLS/crypto stack, and a system library the Lambda image need not have
# `cargo tree -i` over every target and every dependency kind (normal, build, dev), so a test-only or
# another platform's dependency counts too. Cargo.lock may still list these crates (weak optional
# features are resolved there), which is why the lock file is not what is checked.
#
# scripts/check-deps.sh [CRATE...]: those crates instead of the list above (the self-test below
# names one the workspace does use, to show that a hit fails).
set -euo pipefail
cd "$(dirname "$0")/.."

if (($#)); then crates=("$@"); else crates=(ring rsa openssl-sys); fi

found=0
for crate in "${crates[@]}"; do
  # "nothing to print" (in the lock file, not built) and "did not match any packages" (not even
  # there) both mean absent; any other failure of cargo tree is a failure of this check.
  if out=$(cargo tree --workspace --target all --edges normal,build,dev -i "$crate" 2>&1); then
    if ! grep -q 'nothing to print' <<<"$out"; then
      echo "$crate is in the build graph:"
      echo "$out"
      found=1
    else
      echo "$crate: absent"
    fi
  elif grep -q 'did not match any packages' <<<"$out"; then
    echo "$crate: absent"
  else
    echo "cargo tree -i $crate failed:"
    echo "$out"
    found=1
  fi
done
exit "$found"
