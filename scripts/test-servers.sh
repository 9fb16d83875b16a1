#!/usr/bin/env bash
# Makes sure the real programs the integration tests drive are installed: Postfix (smtpd, smtp-sink,
# smtp-source), aiosmtpd, swaks, openssl, Dovecot (submission, LMTP, SASL), Redis, Dante, Tinyproxy,
# Chromium, and the DKIM verifiers (dkimpy, Mail::DKIM, OpenDKIM). Installs the missing ones with apt when run as
# root; otherwise names them and fails, so no integration test is silently skipped.
set -euo pipefail
export PATH="$PATH:/usr/sbin:/sbin"
need=()
have() { command -v "$1" >/dev/null 2>&1; }
have postfix || need+=(postfix)
have smtp-sink || need+=(postfix)
have swaks || need+=(swaks)
have openssl || need+=(openssl)
/usr/bin/python3 -c 'import aiosmtpd' >/dev/null 2>&1 || need+=(python3-aiosmtpd)
have dovecot || need+=(dovecot-core)
[ -x /usr/lib/dovecot/submission ] || need+=(dovecot-submissiond)
[ -x /usr/lib/dovecot/lmtp ] || need+=(dovecot-lmtpd)
have redis-server || need+=(redis-server)
have danted || need+=(dante-server)
have tinyproxy || need+=(tinyproxy)
have chromium || need+=(chromium)
/usr/bin/python3 -c 'import dkim' >/dev/null 2>&1 || need+=(python3-dkim)
/usr/bin/python3 -c 'import icalendar' >/dev/null 2>&1 || need+=(python3-icalendar)
perl -MMail::DKIM -e 1 >/dev/null 2>&1 || need+=(libmail-dkim-perl)
have opendkim || need+=(opendkim)
[ ${#need[@]} -eq 0 ] && exit 0
# shellcheck disable=SC2207
need=($(printf '%s\n' "${need[@]}" | sort -u))
if [ "$(id -u)" != 0 ]; then
  echo "The integration tests need: ${need[*]} (Debian packages). Install them with:" >&2
  echo "  echo 'postfix postfix/main_mailer_type select No configuration' | sudo debconf-set-selections" >&2
  echo "  sudo DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ${need[*]}" >&2
  exit 1
fi
echo "installing test programs: ${need[*]}"
echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
export DEBIAN_FRONTEND=noninteractive
# The packages would start system services (Dovecot on 587, Redis, Dante, Tinyproxy, OpenDKIM): the tests run
# private instances only, so keep the system ones from starting while installing.
policy=/usr/sbin/policy-rc.d
made_policy=no
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' > "$policy" && chmod +x "$policy" && made_policy=yes
fi
trap '[ "$made_policy" = yes ] && rm -f "$policy"' EXIT
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
