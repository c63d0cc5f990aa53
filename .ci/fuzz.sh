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
  corpus="${pkg#./}/testdata/fuzz/$name"
  before="$(ls "$corpus" 2>/dev/null | sort || true)"
  log="$(mktemp)"
  if go test "$pkg" -run '^$' -fuzz "^${name}\$" -fuzztime "$FUZZTIME" -parallel 2 2>&1 | tee "$log"; then
    rm -f "$log"; continue
  fi
  after="$(ls "$corpus" 2>/dev/null | sort || true)"
  # Go 1.26's fuzzing coordinator can report its own -fuzztime deadline as a
  # failure ("context deadline exceeded") when a loaded machine delays a worker
  # at the end of the window. That failure writes no input. Anything else, or
  # a written input, is a finding.
  if [[ "$before" == "$after" ]] && grep -q '^    context deadline exceeded$' "$log" &&
     ! grep -q -e 'Failing input written' -e '^panic:' -e '--- FAIL: .*/' "$log"; then
    echo "fuzz: $name: the fuzzing coordinator's own deadline, no failing input; replaying the corpus"
    go test "$pkg" -run "^${name}\$" -count 1
    rm -f "$log"; continue
  fi
  rm -f "$log"
  echo "fuzz: $name found a failing input (see above and $corpus)" >&2
  exit 1
done
