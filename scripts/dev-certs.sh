#!/usr/bin/env bash
# Throwaway certificates for the simulator's HTTPS pay API (mutual TLS), for development: never real secrets, never
# committed. The same set as test/support/test-ca.ts makes for the tests.
#   scripts/dev-certs.sh [dir]        (default: data/dev-certs, which git ignores)
# Then: SIMULATOR_TLS_DIR=<dir> (ca.pem, server.pem, server-key.pem) for the simulator, and
#       WECHAT_PAY_CERT_PEM=<dir>/client.pem WECHAT_PAY_KEY_PEM=<dir>/client-key.pem for the server.
set -euo pipefail
dir="${1:-data/dev-certs}"
mch_id="${WECHAT_MCH_ID:-1900000109}"
mkdir -p "$dir"
cd "$dir"
cat > openssl.cnf <<'CNF'
[req]
distinguished_name = dn
prompt = no
[dn]
CN = unused
[v3_ca]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
[server]
basicConstraints = CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = IP:127.0.0.1,DNS:localhost
[client]
basicConstraints = CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = clientAuth
CNF
ssl() { openssl "$@" 2>/dev/null; }
serial() { echo "0x$(openssl rand -hex 8)"; }
ssl req -x509 -config openssl.cnf -extensions v3_ca -newkey rsa:2048 -nodes -keyout ca-key.pem -out ca.pem \
  -days 365 -subj "/CN=WeChat Pay Simulator Dev CA"
signed() { # name cn ext
  ssl req -new -config openssl.cnf -newkey rsa:2048 -nodes -keyout "$1-key.pem" -out "$1.csr" -subj "/CN=$2"
  ssl x509 -req -in "$1.csr" -CA ca.pem -CAkey ca-key.pem -set_serial "$(serial)" -days 365 \
    -extfile openssl.cnf -extensions "$3" -out "$1.pem"
  rm -f "$1.csr"
}
signed server 127.0.0.1 server
# WeChat's API certificates name the merchant: CN is the mch_id.
signed client "$mch_id" client
chmod 600 ./*-key.pem
echo "Wrote $(pwd): ca.pem server.pem server-key.pem client.pem client-key.pem"
