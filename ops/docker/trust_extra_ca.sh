#!/usr/bin/env bash
# Build-time trust store for Maven: the JDK's own CAs plus every certificate in EXTRA_DIR/*.crt
# (several PEM blocks per file allowed). Writes a PKCS#12 store (password changeit) to OUT.
set -euo pipefail
extra_dir="$1"
out="$2"
java_home="${JAVA_HOME:-$(dirname "$(dirname "$(readlink -f "$(command -v java)")")")}"
cacerts="$java_home/lib/security/cacerts"
[ -f "$cacerts" ] || cacerts=/etc/ssl/certs/java/cacerts
keytool -importkeystore -noprompt -srckeystore "$cacerts" -srcstorepass changeit \
  -destkeystore "$out" -deststoretype PKCS12 -deststorepass changeit >/dev/null 2>&1
count=0
for file in "$extra_dir"/*.crt; do
  [ -f "$file" ] || continue
  split_dir=$(mktemp -d)
  # One certificate per file: keytool imports only the first PEM block of a file.
  awk -v dir="$split_dir" '/-----BEGIN CERTIFICATE-----/ {n++} n {print > (dir "/" n ".pem")}' "$file"
  for cert in "$split_dir"/*.pem; do
    [ -f "$cert" ] || continue
    count=$((count + 1))
    keytool -importcert -noprompt -trustcacerts -alias "extra-ca-$count" -file "$cert" \
      -keystore "$out" -storepass changeit >/dev/null
  done
  rm -rf "$split_dir"
done
echo "build trust store: JDK CAs plus $count extra"
