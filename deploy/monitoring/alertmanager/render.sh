#!/bin/sh
# Renders the Alertmanager template ($1) into $2 from the environment: the compose service runs this before
# Alertmanager (the image has sh and sed, not Python). Defaults and rules equal deploy/local/monitoring.py's:
# the SMTP password comes from SMTP_PASSWORD_FILE, else from WEARSTREAM_SMTP_PASSWORD written to a 0600 file
# beside the output.
set -eu
escape() { printf '%s' "$1" | sed -e 's/[\\|&]/\\&/g'; }
password_file="${SMTP_PASSWORD_FILE:-}"
if [ -z "$password_file" ] && [ -n "${WEARSTREAM_SMTP_PASSWORD:-}" ]; then
  password_file="$(dirname "$2")/smtp_password"
  (umask 077 && printf '%s' "$WEARSTREAM_SMTP_PASSWORD" > "$password_file")
fi
case "$(printf '%s' "${WEARSTREAM_SMTP_STARTTLS:-false}" | tr 'A-Z' 'a-z')" in
  1|true|yes|on) starttls=true ;;
  *) starttls=false ;;
esac
sed \
  -e "s|\${WEARSTREAM_SMTP_HOST}|$(escape "${WEARSTREAM_SMTP_HOST:-127.0.0.1}")|g" \
  -e "s|\${WEARSTREAM_SMTP_PORT}|$(escape "${WEARSTREAM_SMTP_PORT:-25}")|g" \
  -e "s|\${WEARSTREAM_SMTP_FROM_ADDRESS}|$(escape "${WEARSTREAM_SMTP_FROM_ADDRESS:-wearstream@localhost}")|g" \
  -e "s|\${WEARSTREAM_SMTP_USERNAME}|$(escape "${WEARSTREAM_SMTP_USERNAME:-}")|g" \
  -e "s|\${WEARSTREAM_SMTP_STARTTLS}|$starttls|g" \
  -e "s|\${SMTP_PASSWORD_FILE}|$(escape "$password_file")|g" \
  -e "s|\${ALERT_EMAIL_TO}|$(escape "${ALERT_EMAIL_TO:-root@localhost}")|g" \
  "$1" > "$2"
