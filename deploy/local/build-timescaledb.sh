#!/usr/bin/env bash
# Builds and installs TimescaleDB (Apache-2 edition) for the installed PostgreSQL server from Debian's
# `timescaledb` source package (trixie), without touching the system's apt source lists.
# Usage: build-timescaledb.sh PG_MAJOR WORK_DIR
# Safe to run twice: exits at once when the extension is already installed for PG_MAJOR.
set -euo pipefail
pg_major=${1:?postgresql major version, e.g. 15}
work_dir=${2:?a work directory for the source build}
pg_config=/usr/lib/postgresql/${pg_major}/bin/pg_config

export DEBIAN_FRONTEND=noninteractive
need_update=1
apt_install() {
  if [ "$need_update" = 1 ]; then apt-get update -qq; need_update=0; fi
  apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

if [ ! -x "$pg_config" ] || [ ! -x "/usr/lib/postgresql/${pg_major}/bin/postgres" ]; then
  echo "installing postgresql-${pg_major}"
  apt_install "postgresql-${pg_major}" "postgresql-client-${pg_major}"
fi

sharedir=$("$pg_config" --sharedir)
if ls "$sharedir"/extension/timescaledb.control >/dev/null 2>&1; then
  echo "timescaledb already installed for postgresql ${pg_major}"
  exit 0
fi

echo "building timescaledb (Apache-2 edition) for postgresql ${pg_major}"
apt_install "postgresql-server-dev-${pg_major}" build-essential cmake dpkg-dev libssl-dev libkrb5-dev \
  ca-certificates

mkdir -p "$work_dir/apt/lists/partial" "$work_dir/src"
cat >"$work_dir/apt/sources.list" <<'EOF'
deb-src http://deb.debian.org/debian trixie main
EOF
apt_opts=(-o "Dir::Etc::sourcelist=$work_dir/apt/sources.list" -o "Dir::Etc::sourceparts=-"
  -o "Dir::State::Lists=$work_dir/apt/lists" -o "APT::Get::List-Cleanup=0" -o "APT::Sandbox::User=root")
apt-get "${apt_opts[@]}" update -qq
cd "$work_dir/src"
rm -rf timescaledb-*/
apt-get "${apt_opts[@]}" source --download-only -qq timescaledb
dpkg-source --no-check -x ./timescaledb_*.dsc >/dev/null
cd "$(find . -maxdepth 1 -type d -name 'timescaledb-*' | head -n 1)"
PATH="/usr/lib/postgresql/${pg_major}/bin:$PATH" ./bootstrap -DAPACHE_ONLY=1 -DREGRESS_CHECKS=OFF \
  -DTAP_CHECKS=OFF -DWARNINGS_AS_ERRORS=OFF -DPG_CONFIG="$pg_config" >build.log 2>&1 \
  || { tail -n 40 build.log; exit 1; }
make -C build -j"$(nproc)" install >>build.log 2>&1 || { tail -n 40 build.log; exit 1; }
echo "timescaledb installed into $sharedir/extension"
