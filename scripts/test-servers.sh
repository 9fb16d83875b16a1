#!/usr/bin/env bash
# Makes sure the real servers the integration tests drive are installed: Postfix (smtpd, smtp-sink,
# smtp-source), aiosmtpd, swaks and openssl. Installs the missing ones with apt when run as root;
# otherwise names them and fails, so no integration test is silently skipped.
set -euo pipefail
need=()
command -v postfix >/dev/null 2>&1 || PATH="$PATH:/usr/sbin" command -v postfix >/dev/null 2>&1 || need+=(postfix)
PATH="$PATH:/usr/sbin" command -v smtp-sink >/dev/null 2>&1 || need+=(postfix)
command -v swaks >/dev/null 2>&1 || need+=(swaks)
command -v openssl >/dev/null 2>&1 || need+=(openssl)
/usr/bin/python3 -c 'import aiosmtpd' >/dev/null 2>&1 || need+=(python3-aiosmtpd)
[ ${#need[@]} -eq 0 ] && exit 0
# shellcheck disable=SC2207
need=($(printf '%s\n' "${need[@]}" | sort -u))
if [ "$(id -u)" != 0 ]; then
  echo "The integration tests need: ${need[*]} (Debian packages). Install them with:" >&2
  echo "  echo 'postfix postfix/main_mailer_type select No configuration' | sudo debconf-set-selections" >&2
  echo "  sudo DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ${need[*]}" >&2
  exit 1
fi
echo "installing test servers: ${need[*]}"
echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
