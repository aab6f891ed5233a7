#!/usr/bin/env bash
# Writes the two CURVE key Secrets as YAML, for clusters managed without kustomize (kustomization.yaml makes
# the same Secrets with its secretGenerator). The coordinator's Secret holds only its secret key and the
# allow-list; the workers' holds only the coordinator's public key and one worker key pair.
# Usage: cluster/kubernetes/make-secret.sh KEYS_DIR [NAMESPACE] > secrets.yaml && kubectl apply -f secrets.yaml
#   KEYS_DIR from `modscope keys generate --out KEYS_DIR`. Nothing is sent to a cluster (--dry-run=client).
set -euo pipefail
keys=${1:?usage: make-secret.sh KEYS_DIR [NAMESPACE]}
namespace=${2:-modscope}
for f in coordinator.key allowed_workers coordinator.pub worker-1.key; do
  if [ ! -r "$keys/$f" ]; then
    echo "make-secret.sh: $keys/$f is missing; create the folder with: modscope keys generate --out $keys" >&2
    exit 2
  fi
done
kubectl create secret generic modscope-coordinator-keys --namespace "$namespace" \
  --from-file="$keys/coordinator.key" --from-file="$keys/allowed_workers" \
  --dry-run=client -o yaml
echo "---"
kubectl create secret generic modscope-worker-keys --namespace "$namespace" \
  --from-file="$keys/coordinator.pub" --from-file="$keys/worker-1.key" \
  --dry-run=client -o yaml
