# Sourced by the scripts in scripts/: finds a JDK 22+ and the project root.
# shellcheck shell=bash

UFFD4J_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)

# Prints the feature version (22, 25, ...) of the JDK in directory $1, or nothing.
jdk_feature_version() {
  local home=$1 v
  [[ -x $home/bin/java && -x $home/bin/javac ]] || return 0
  if [[ -f $home/release ]]; then
    v=$(sed -n 's/^JAVA_VERSION="\([0-9]*\).*/\1/p' "$home/release")
  fi
  if [[ -z $v ]]; then
    v=$("$home/bin/java" -XshowSettings:properties -version 2>&1 |
        sed -n 's/^ *java.specification.version = \([0-9]*\).*/\1/p')
  fi
  echo "$v"
}

# Sets and exports JAVA_HOME to a JDK 22 or newer: $JAVA_HOME when it is new enough, else the
# newest one found in the usual places. Exits with what to install when there is none.
require_jdk22() {
  local candidates=() seen=() best="" best_v=0 dir v
  if [[ -n ${JAVA_HOME:-} ]]; then
    v=$(jdk_feature_version "$JAVA_HOME")
    if [[ -n $v && $v -ge 22 ]]; then export JAVA_HOME; return 0; fi
    seen+=("JAVA_HOME=$JAVA_HOME (${v:-not a JDK})")
  fi
  for dir in /usr/lib/jvm/* /usr/java/* /opt/java/* /opt/jdk* /usr/local/jdk* \
             "$HOME"/.sdkman/candidates/java/* "$HOME"/.jdks/*; do
    [[ -d $dir ]] && candidates+=("$dir")
  done
  if command -v javac >/dev/null 2>&1; then
    candidates+=("$(dirname "$(dirname "$(readlink -f "$(command -v javac)")")")")
  fi
  for dir in "${candidates[@]}"; do
    v=$(jdk_feature_version "$dir")
    [[ -n $v ]] || continue
    seen+=("$dir ($v)")
    if (( v >= 22 && v > best_v )); then best=$dir; best_v=$v; fi
  done
  if [[ -z $best ]]; then
    echo "uffd4j needs a JDK 22 or newer and found none (looked at: ${seen[*]:-nothing})." >&2
    echo "Install one (Debian/Ubuntu: 'apt-get install openjdk-25-jdk' or Temurin's 'temurin-25-jdk') or set JAVA_HOME to it." >&2
    exit 1
  fi
  export JAVA_HOME=$best
}

# The Maven fetched when the machine has none new enough: pinned, and checked against the SHA-512
# that Maven Central publishes beside it.
UFFD4J_MAVEN_VERSION=3.9.11
UFFD4J_MAVEN_SHA512=bcfe4fe305c962ace56ac7b5fc7a08b87d5abd8b7e89027ab251069faebee516b0ded8961445d6d91ec1985dfe30f8153268843c89aa392733d1a3ec956c9978

# Sets UFFD4J_MVN to a Maven 3.8 or newer: $MVN or the mvn on PATH when new enough, else Maven
# $UFFD4J_MAVEN_VERSION from Maven Central, downloaded once into ~/.m2/uffd4j-maven and checked.
require_maven() {
  [[ -n ${UFFD4J_MVN:-} ]] && return 0
  local mvn=${MVN:-mvn} v
  if command -v "$mvn" >/dev/null 2>&1; then
    v=$(PATH="$JAVA_HOME/bin:$PATH" "$mvn" -B -v 2>/dev/null | sed -e 's/\x1b\[[0-9;]*m//g' -n -e 's/^Apache Maven \([0-9]*\)\.\([0-9]*\).*/\1 \2/p')
    if [[ -n $v ]] && read -r major minor <<<"$v" && (( major > 3 || (major == 3 && minor >= 8) )); then
      UFFD4J_MVN=$(command -v "$mvn"); return 0
    fi
  fi
  local home=${MAVEN_USER_HOME:-$HOME/.m2}/uffd4j-maven/apache-maven-$UFFD4J_MAVEN_VERSION
  if [[ ! -x $home/bin/mvn ]]; then
    local url=https://repo.maven.apache.org/maven2/org/apache/maven/apache-maven/$UFFD4J_MAVEN_VERSION/apache-maven-$UFFD4J_MAVEN_VERSION-bin.tar.gz
    local tmp
    tmp=$(mktemp -d)
    echo "uffd4j: no Maven 3.8+ here (${v:+found ${v/ /.}, }looked for '$mvn'); fetching Maven $UFFD4J_MAVEN_VERSION from Maven Central" >&2
    if command -v curl >/dev/null 2>&1; then
      curl -fsSL -o "$tmp/maven.tar.gz" "$url" || { rm -rf "$tmp"; echo "could not download $url: install Maven 3.8+ (apt-get install maven) or set MVN" >&2; exit 1; }
    elif command -v wget >/dev/null 2>&1; then
      wget -q -O "$tmp/maven.tar.gz" "$url" || { rm -rf "$tmp"; echo "could not download $url: install Maven 3.8+ (apt-get install maven) or set MVN" >&2; exit 1; }
    else
      rm -rf "$tmp"; echo "uffd4j needs Maven 3.8+ (apt-get install maven), or curl or wget to fetch it" >&2; exit 1
    fi
    if ! echo "$UFFD4J_MAVEN_SHA512  $tmp/maven.tar.gz" | sha512sum -c --status; then
      rm -rf "$tmp"; echo "the downloaded Maven does not match its pinned SHA-512: not using it" >&2; exit 1
    fi
    mkdir -p "$(dirname "$home")"
    tar -xzf "$tmp/maven.tar.gz" -C "$tmp" && rm -rf "$home" && mv "$tmp/apache-maven-$UFFD4J_MAVEN_VERSION" "$home"
    rm -rf "$tmp"
  fi
  UFFD4J_MVN=$home/bin/mvn
}

# Runs Maven (see require_maven) with the JDK found above, in batch mode, from the project root.
mvn_jdk22() {
  require_jdk22
  require_maven
  local opts=${MAVEN_OPTS:-}
  # Maven 3.8's bundled Guava uses sun.misc.Unsafe, which JDK 24+ warns about on every run
  (( $(jdk_feature_version "$JAVA_HOME") >= 24 )) && opts="$opts --sun-misc-unsafe-memory-access=allow"
  (cd "$UFFD4J_ROOT" && PATH="$JAVA_HOME/bin:$PATH" MAVEN_OPTS="$opts" "$UFFD4J_MVN" -B -ntp "$@")
}

# Runs a tool of src/demo (a main class compiled with the tests) with the library and its codec
# as named modules and the tool with its libraries on the class path: scripts/demo, scripts/pack.
run_tool() {
  local main=$1; shift
  local t="$UFFD4J_ROOT/target"
  # the build's output only if it fails (Maven 3.8 also writes stray terminal escape codes)
  local log
  log=$(mktemp)
  if ! mvn_jdk22 -q -DskipTests test-compile dependency:build-classpath \
    -Dmdep.outputFile=target/demo.classpath -DincludeScope=test >"$log" 2>&1; then
    cat "$log" >&2; rm -f "$log"; echo "the build failed (above)" >&2; exit 1
  fi
  rm -f "$log"
  local air
  air=$(tr ':' '\n' < "$t/demo.classpath" | grep '/aircompressor-v3-' | head -n1)
  # ALL-UNNAMED: the progress bars' terminal library (jline, on the class path) loads its native part
  exec "$JAVA_HOME/bin/java" --enable-native-access=io.github.uffd4j,aircompressor.v3,ALL-UNNAMED \
    --module-path "$t/classes:$air" --add-modules io.github.uffd4j,aircompressor.v3 \
    -cp "$t/test-classes:$(cat "$t/demo.classpath")" "$main" "$@"
}
