#!/bin/sh
# Create a private CA and a server certificate for the jisf Mosquitto TLS listener.
#
#   deploy/mosquitto/make-tls.sh OUT_DIR [DNS_NAME ...]
#
# Writes OUT_DIR/ca.crt, ca.key, server.crt, server.key (keys mode 600). The server
# certificate names every DNS_NAME given (default: localhost) and IP 127.0.0.1. Give
# clients ca.crt (jisf: --ca-file / JISF_CA_FILE); keep ca.key offline. With a
# corporate CA, skip this script and put that CA's files at the same paths.
set -eu
out=${1:?usage: make-tls.sh OUT_DIR [DNS_NAME ...]}
shift
[ $# -gt 0 ] || set -- localhost
mkdir -p "$out"
umask 077
san="IP:127.0.0.1"
for name in "$@"; do san="$san,DNS:$name"; done
days=${JISF_TLS_DAYS:-825}

openssl req -x509 -newkey rsa:2048 -nodes -sha256 -days "$days" \
    -subj "/CN=jisf private CA" -keyout "$out/ca.key" -out "$out/ca.crt" 2>/dev/null
openssl req -newkey rsa:2048 -nodes -sha256 -subj "/CN=$1" \
    -keyout "$out/server.key" -out "$out/server.csr" 2>/dev/null
printf 'subjectAltName=%s\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n' "$san" > "$out/server.ext"
openssl x509 -req -in "$out/server.csr" -CA "$out/ca.crt" -CAkey "$out/ca.key" -CAcreateserial \
    -days "$days" -sha256 -extfile "$out/server.ext" -out "$out/server.crt" 2>/dev/null
rm -f "$out/server.csr" "$out/server.ext" "$out/ca.srl"
chmod 644 "$out/ca.crt" "$out/server.crt"
echo "$out: ca.crt ca.key server.crt server.key for $san"
