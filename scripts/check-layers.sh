#!/usr/bin/env bash
# Fails when a file includes a folder above its own layer:
#   emu <- {virtio, stack} <- sim <- {host, teach} <- {api, cli}
# (docs/ARCHITECTURE.md). stack/ never sees virtio/: the guest stack knows
# its driver only through an emu_port. The public headers include only each
# other and the C library.
set -euo pipefail
cd "$(dirname "$0")/.."
declare -A allowed=(
  [emu]="emu"
  [virtio]="emu virtio"
  [stack]="emu stack"
  [sim]="emu virtio stack sim"
  [host]="emu virtio stack sim host"
  [teach]="emu virtio stack sim teach"
  [api]="emu virtio stack sim api vnetsim"
  [cli]="emu virtio stack sim host teach api cli vnetsim"
  [include/vnetsim]="vnetsim"
)
bad=0
for layer in "${!allowed[@]}"; do
  for f in "$layer"/*.[ch]; do
    [ -e "$f" ] || continue
    while IFS= read -r inc; do
      folder=${inc%%/*}
      case " ${allowed[$layer]} " in
        *" $folder "*) ;;
        *) echo "$f includes \"$inc\": $layer/ may include only ${allowed[$layer]}"; bad=1 ;;
      esac
    done < <(sed -n -e 's/^#include "\([a-z_]*\/[^"]*\)".*/\1/p' \
      -e 's/^#include <\(vnetsim\/[^>]*\)>.*/\1/p' "$f")
  done
done
if [ $bad = 0 ]; then echo "== layers: every include points down"; fi
exit $bad
