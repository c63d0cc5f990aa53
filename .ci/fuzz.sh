#!/usr/bin/env bash
# Runs each Go fuzz target for a bounded time (FUZZTIME, default 20s), after
# its checked-in seed corpus (testdata/fuzz/<target>/, which go test also
# runs as plain tests). A failure leaves the crashing input under the
# package's testdata/fuzz/<target>/; check it in with the fix.
#
#     bash .ci/fuzz.sh                 # every target, 20 s each
#     FUZZTIME=10m bash .ci/fuzz.sh FuzzRequestBody
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
FUZZTIME="${FUZZTIME:-20s}"

# package target: every fuzz target of the repository.
TARGETS=(
  "./engine/api FuzzRequestBody"                      # the API's request bodies
  "./engine/api FuzzDecodeBody"                       # JSON body decoding and re-encoding
  "./engine/compute/simulated FuzzParseFixture"       # the simulated cloud's fixtures
  "./engine/script FuzzStoreRoundTrip"                # flow store values, Go to Lua and back
  "./engine/script FuzzFromLua"                       # Lua tables to the flow store
  "./conf FuzzParse"                                  # configuration files
  "./conf FuzzParseFlowValue"                         # recovery flow definitions
)

# Every target is listed: a new Fuzz function must be added above.
listed=" ${TARGETS[*]} "
for f in $(git grep -h -o '^func Fuzz[A-Za-z0-9_]*' -- '*_test.go' | sed 's/^func //' | sort -u); do
  [[ "$listed" == *" $f "* ]] || { echo "fuzz target $f is not listed in .ci/fuzz.sh" >&2; exit 1; }
done

only=("$@")
for t in "${TARGETS[@]}"; do
  read -r pkg name <<<"$t"
  if ((${#only[@]})) && [[ " ${only[*]} " != *" $name "* ]]; then continue; fi
  printf '==> %s %s (%s)\n' "$pkg" "$name" "$FUZZTIME"
  go test "$pkg" -run '^$' -fuzz "^${name}\$" -fuzztime "$FUZZTIME" -parallel 2
done
