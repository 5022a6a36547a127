#!/usr/bin/env bash
# Makes a test CA, a server certificate for 127.0.0.1 and localhost, and a client certificate,
# each valid for ten years, as PEM files in DIR (default: this script's directory):
#   ca.pem                      the CA certificate (salient.tls.client-ca, the client's --ca)
#   server.pem, server.key      salient.tls.certificate, salient.tls.private-key
#   client.pem, client.key      the client's --cert and --key for mutual TLS
# Keys are unencrypted PKCS#8. The CA's key is deleted: run the script again for new files.
# For tests and trials only; a real deployment gets its certificates from its own CA.
set -euo pipefail
dir="${1:-$(cd "$(dirname "$0")" && pwd)}"
mkdir -p "$dir"
cd "$dir"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
days=3650

openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$work/ca.key" 2>/dev/null
openssl req -x509 -new -key "$work/ca.key" -days "$days" -subj "/CN=Salient test CA" \
  -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
  -out ca.pem

# leaf NAME CN EXTENSIONS
leaf() {
  openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$1.key" 2>/dev/null
  openssl req -new -key "$1.key" -subj "/CN=$2" -out "$work/$1.csr"
  printf '%s\n' "$3" > "$work/$1.ext"
  openssl x509 -req -in "$work/$1.csr" -CA ca.pem -CAkey "$work/ca.key" -CAcreateserial -CAserial "$work/ca.srl" \
    -days "$days" -extfile "$work/$1.ext" -out "$1.pem" 2>/dev/null
}
leaf server localhost "basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth
subjectAltName=IP:127.0.0.1,DNS:localhost"
leaf client "Salient test client" "basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=clientAuth"
chmod 600 server.key client.key
echo "wrote ca.pem, server.pem, server.key, client.pem, client.key in $dir"
