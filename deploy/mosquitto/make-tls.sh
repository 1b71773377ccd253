#!/bin/sh
# Create a private CA and a server certificate for the jisf Mosquitto TLS listener.
#
#   deploy/mosquitto/make-tls.sh OUT_DIR [DNS_NAME ...]
#   deploy/mosquitto/make-tls.sh --client OUT_DIR ACCOUNT
#
# Writes OUT_DIR/ca.crt, ca.key, server.crt, server.key (keys mode 600). The server
# certificate names every DNS_NAME given (default: localhost) and IP 127.0.0.1. Give
# clients ca.crt (jisf: --ca-file / JISF_CA_FILE); keep ca.key offline. With a
# corporate CA, skip this script and put that CA's files at the same paths.
#
# --client: a client certificate for mutual TLS (require_certificate true), signed by
# OUT_DIR/ca.key: OUT_DIR/ACCOUNT.crt and ACCOUNT.key, common name ACCOUNT. Give the
# client both (jisf: --cert-file / --key-file); it still logs in with its password.
set -eu
days=${JISF_TLS_DAYS:-825}
if [ "${1:-}" = "--client" ]; then
    out=${2:?usage: make-tls.sh --client OUT_DIR ACCOUNT}
    name=${3:?usage: make-tls.sh --client OUT_DIR ACCOUNT}
    umask 077
    openssl req -newkey rsa:2048 -nodes -sha256 -subj "/CN=$name" \
        -keyout "$out/$name.key" -out "$out/$name.csr" 2>/dev/null
    printf 'extendedKeyUsage=clientAuth\nbasicConstraints=CA:FALSE\n' > "$out/$name.ext"
    openssl x509 -req -in "$out/$name.csr" -CA "$out/ca.crt" -CAkey "$out/ca.key" -CAcreateserial \
        -days "$days" -sha256 -extfile "$out/$name.ext" -out "$out/$name.crt" 2>/dev/null
    rm -f "$out/$name.csr" "$out/$name.ext" "$out/ca.srl"
    chmod 644 "$out/$name.crt"
    echo "$out: $name.crt $name.key (client certificate of $name)"
    exit 0
fi
out=${1:?usage: make-tls.sh OUT_DIR [DNS_NAME ...]}
shift
[ $# -gt 0 ] || set -- localhost
mkdir -p "$out"
umask 077
san="IP:127.0.0.1"
for name in "$@"; do san="$san,DNS:$name"; done

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
