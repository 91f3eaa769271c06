#!/usr/bin/env bash
# Prints the dependency graph of the top-level modules of src/ and the cycles in it.
#
# An edge `a -> b` means some file of module `a` names `crate::b` (in a `use` or inline),
# outside comments and tests (the `#[cfg(test)]` part at the end of a file, files named
# tests.rs).
# A cycle is a group of modules that each reach the others through such edges.
#
# Usage: scripts/module-cycles.sh [src-dir]     (exit status 1 when there is a cycle)
set -euo pipefail

src="${1:-$(dirname "$0")/../src}"
cd "$src"

modules=()
for entry in *; do
    case "$entry" in
        lib.rs | main.rs) ;;
        *.rs) modules+=("${entry%.rs}") ;;
        *) [ -d "$entry" ] && modules+=("$entry") ;;
    esac
done

# Source of a module without its tests.
code_of() {
    local files
    if [ -d "$1" ]; then
        files=$(find "$1" -name '*.rs' ! -name tests.rs | sort)
    else
        files="$1.rs"
    fi
    for f in $files; do
        awk '/^#\[cfg\(test\)\]/ { exit } !/^[[:space:]]*\/\// { print }' "$f"
    done
}

edges=$(
    for m in "${modules[@]}"; do
        code_of "$m" | grep -oE 'crate::[a-z_]+' | sed 's/^crate:://' | sort -u |
            while read -r target; do
                if [ "$target" != "$m" ] && printf '%s\n' "${modules[@]}" | grep -qx "$target"; then
                    echo "$m $target"
                fi
            done
    done
)

echo "# edges (module -> modules it uses)"
echo "$edges" | awk '{ out[$1] = out[$1] " " $2 } END { for (m in out) print m " ->" out[m] }' | sort

echo "# cycles"
echo "$edges" | awk '
    { reach[$1, $2] = 1; nodes[$1] = 1; nodes[$2] = 1 }
    END {
        for (k in nodes) for (i in nodes) if (reach[i, k]) for (j in nodes) if (reach[k, j]) reach[i, j] = 1
        found = 0
        for (i in nodes) {
            if (done[i]) continue
            group = i; size = 1
            for (j in nodes) if (j != i && reach[i, j] && reach[j, i]) { group = group " " j; done[j] = 1; size++ }
            if (size > 1) { print group; found = 1 }
        }
        if (!found) print "none"
        exit found
    }' | { while read -r line; do
        # One line per cycle, its modules sorted.
        echo "$line" | tr ' ' '\n' | sort | tr '\n' ' ' | sed 's/ $/\n/'
    done; } | sort
# (pipefail: the script exits with awk's status, 1 when it found a cycle.)
