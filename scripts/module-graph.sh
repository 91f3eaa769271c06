#!/usr/bin/env bash
# Prints which top-level modules of src/ use which (an edge "a -> b" when code in `a`
# names `crate::b`), then checks that the graph has no cycle (tsort reports any loop).
# usage: scripts/module-graph.sh
set -euo pipefail
cd "$(dirname "$0")/../src"
modules=$(ls | sed -n 's/\.rs$//p; /\./!p' | grep -vx 'main\|lib' | sort -u)
edges=$(for m in $modules; do
  files=$( [ -d "$m" ] && find "$m" -name '*.rs' || echo "$m.rs")
  # Code only: a doc link is not a dependency.
  # shellcheck disable=SC2086
  cat $files | grep -v '^ *//' | grep -o 'crate::[a-z_]*' | sed 's/crate:://' | sort -u |
    while read -r n; do
      [ "$n" != "$m" ] && grep -qx "$n" <<<"$modules" && echo "$m $n"
    done || true
done)
echo "$edges" | awk '{ print $1 " -> " $2 }'
if tsort <<<"$edges" >/dev/null 2>/tmp/module-graph.$$; then
  echo "no cycle among the top-level modules"
else
  echo "cycles (modules of each loop):"
  awk '/input contains a loop/ { if (l) print "  " l; l = ""; next }
       { sub(/^tsort: /, ""); l = l (l ? " " : "") $0 }
       END { if (l) print "  " l }' /tmp/module-graph.$$
  rm -f /tmp/module-graph.$$; exit 1
fi
rm -f /tmp/module-graph.$$
