#!/usr/bin/env bash
# `npm run test:fresh-machine`: from a fresh Debian machine to a full test run. Installs and starts
# what the tests need when it is missing (PostgreSQL 15, redis-server, redis-tools, prometheus,
# docker-compose, bsdutils, a Docker engine), then runs `npm ci` and `npm test`. Whatever is
# already there is used as it is. `.ci/run` runs this same command.
#
#   npm run test:fresh-machine                   set up, then npm ci && npm test
#   npm run test:fresh-machine -- --setup-only   set up only (then `npm ci && npm test` by hand)
#
# Installing needs root: run it as root, or as a user who may use sudo.
set -euo pipefail
cd "$(dirname "$0")/.."

setup_only=false
for argument in "$@"; do
  case "$argument" in
    --setup-only) setup_only=true ;;
    *)
      echo "Unknown argument: $argument (the only one is --setup-only)." >&2
      exit 1
      ;;
  esac
done

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

if ! node -e 'const [a, b] = process.versions.node.split(".").map(Number);
  process.exit(a > 20 || (a === 20 && b >= 19) ? 0 : 1)' 2>/dev/null; then
  echo "Node.js >= 20.19 is needed (found: $(node --version 2>/dev/null || echo none))." >&2
  exit 1
fi

# The warehouse tests create (and drop) their own databases on a PostgreSQL at 127.0.0.1:5432 as
# user postgres with trust auth (TEMPS_TEST_POSTGRES_URL names another), and run private clusters
# with PostgreSQL 15's initdb. Use the server that answers; otherwise install Debian's and give it
# a cluster with local trust auth (the package's default cluster asks for passwords).
if [ ! -x /usr/lib/postgresql/15/bin/initdb ]; then
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -qq --no-install-recommends postgresql-15
  # The cluster the package just created is ours: replace it with one the tests can use.
  as_root pg_dropcluster --stop 15 main || true
fi
if ! pg_isready -q -h 127.0.0.1 -p 5432; then
  pg_lsclusters -h | grep -q '^15 main ' ||
    as_root pg_createcluster 15 main -p 5432 -- --auth-host=trust --auth-local=trust
  as_root pg_ctlcluster 15 main start
  for _ in $(seq 1 30); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 1; done
  pg_isready -h 127.0.0.1 -p 5432
fi

# redis-server for the private test Redis servers, redis-tools for redis-cli and redis-benchmark
# (the benchmarks' references), prometheus for the dashboard queries, docker-compose for the
# compose file's validation, bsdutils for `script` (the progress bar on a terminal).
missing=()
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
command -v redis-benchmark >/dev/null 2>&1 || missing+=(redis-tools)
command -v prometheus >/dev/null 2>&1 || missing+=(prometheus)
command -v docker-compose >/dev/null 2>&1 || missing+=(docker-compose)
command -v script >/dev/null 2>&1 || missing+=(bsdutils)
if [ ${#missing[@]} -gt 0 ]; then
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# The compose suite needs a Docker engine: use the one that answers, else start a local one with
# local-docker.sh (LOCAL_DOCKER_SH names it; stopped again at the end, also on failure), else, on
# a machine run by systemd, Debian's docker.io. A missing engine then fails the suite, never skips it.
export TEMPS_REQUIRE_DOCKER=1
engine_answers() { docker version --format '{{.Server.Version}}' >/dev/null 2>&1; }
if ! command -v docker >/dev/null 2>&1 || ! engine_answers; then
  local_docker=""
  for candidate in "${LOCAL_DOCKER_SH:-}" ../shared/tools/local-docker.sh /work/shared/tools/local-docker.sh; do
    if [ -n "$candidate" ] && [ -x "$candidate" ]; then local_docker=$(realpath "$candidate"); break; fi
  done
  if [ -n "$local_docker" ]; then
    eval "$("$local_docker" env)"
    if ! engine_answers; then
      if [ "$setup_only" = true ]; then
        echo "Starting a Docker engine that stays up: $local_docker env / $local_docker stop."
      else
        trap '"$local_docker" stop || true' EXIT
      fi
    fi
    "$local_docker" up
  elif [ -d /run/systemd/system ]; then
    command -v docker >/dev/null 2>&1 || {
      as_root apt-get update -qq
      as_root env DEBIAN_FRONTEND=noninteractive \
        apt-get install -y -qq --no-install-recommends docker.io
    }
    as_root systemctl start docker
    if ! engine_answers; then
      echo "Docker is installed but does not answer this user: run as root, or add the user to" \
        "the docker group (sudo usermod -aG docker \"\$USER\", then log in again)." >&2
      exit 1
    fi
  else
    echo "No Docker engine answers and no local-docker.sh to start one (set LOCAL_DOCKER_SH)." >&2
    exit 1
  fi
fi

if [ "$setup_only" = true ]; then
  echo "Set up: PostgreSQL at 127.0.0.1:5432, redis-server, prometheus, docker-compose, Docker engine."
  exit 0
fi
npm ci --no-audit --no-fund
npm test
