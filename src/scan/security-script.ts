/**
 * What a security scan runs on a booted image, as root, over SSH (fixed text fed to `sh -s`; no
 * recipe or image value is ever part of it): ask the image's own package manager which installed
 * packages have a newer version in the distribution's security suite. Nothing is upgraded, and
 * nothing of the image's own apt state is touched.
 *
 * Debian/Ubuntu: the image's apt sources (one-line `.list` and deb822 `.sources`) are copied with
 * only their `-security` (and old Debian `/updates`) suites kept, `apt-get update` reads those into
 * a private lists folder, and every installed package whose candidate from there is newer than the
 * installed version is printed. Amazon Linux / RHEL family: `dnf updateinfo list --security` (or
 * yum's), with AL2023's `--releasever=latest` (an AL2023 image is locked to its release otherwise
 * and would never see a fix), then the installed versions from rpm; src/scan/dnf-updateinfo.ts reads it.
 *
 * The output is framed by `bake-scan:` lines that src/scan/scan-output.ts reads.
 */

/** Exit status when the image's package manager is neither apt nor dnf/yum. */
export const SCAN_UNSUPPORTED = 90;
/** Exit status when the image's apt sources name no security suite. */
export const SCAN_NO_SECURITY_SOURCES = 91;

export const SECURITY_SCAN_SCRIPT = String.raw`
set -u
LC_ALL=C
export LC_ALL
work=$(mktemp -d /tmp/bake-scan.XXXXXXXX) || exit 1
trap 'rm -rf "$work"' EXIT
trap 'exit 130' INT TERM HUP

if command -v apt-get >/dev/null 2>&1 && command -v dpkg-query >/dev/null 2>&1; then
  echo 'bake-scan: manager apt'
  mkdir -p "$work/lists/partial" "$work/parts" "$work/cache/archives/partial"
  # One-line entries: keep deb lines whose suite is a security suite (options in [ ] may hold spaces).
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -f "$f" ] && cat "$f" && echo
  done | awk '
    /^[ \t]*(#|$)/ { next }
    $1 != "deb" { next }
    {
      i = 2
      if ($2 ~ /^\[/) { while (i <= NF && $i !~ /\]$/) i++; i++ }
      suite = $(i + 1)
      if (suite ~ /-security$/ || suite ~ /\/updates$/) print
    }' > "$work/sources.list"
  # deb822 paragraphs: keep Types deb and only the security suites; drop a paragraph left without one.
  n=0
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    n=$((n + 1))
    awk '
      BEGIN { RS = ""; ORS = "\n\n" }
      {
        out = ""; keep = 0; deb = 0; enabled = 1
        count = split($0, lines, "\n")
        for (k = 1; k <= count; k++) {
          line = lines[k]
          if (line ~ /^Suites:/) {
            m = split(substr(line, 8), suites, /[ \t]+/)
            kept = ""
            for (j = 1; j <= m; j++)
              if (suites[j] ~ /-security$/ || suites[j] ~ /\/updates$/) kept = kept " " suites[j]
            if (kept == "") continue
            keep = 1
            line = "Suites:" kept
          } else if (line ~ /^Types:/) {
            if (line ~ /[ \t]deb([ \t]|$)/) deb = 1
            line = "Types: deb"
          } else if (line ~ /^Enabled:[ \t]*(no|false)/) {
            enabled = 0
          }
          out = out line "\n"
        }
        if (keep && deb && enabled) printf "%s", out ORS
      }' "$f" > "$work/parts/$n.sources"
  done
  if ! grep -qs . "$work/sources.list" "$work/parts/"*.sources; then
    echo "bake-scan: no security suite in the image's apt sources"
    exit ${SCAN_NO_SECURITY_SOURCES}
  fi
  cat "$work/sources.list" "$work/parts/"*.sources 2>/dev/null | grep -v '^[ \t]*$' | sed 's/^/bake-scan: source /'
  set -- -o "Dir::Etc::SourceList=$work/sources.list" -o "Dir::Etc::SourceParts=$work/parts" \
    -o "Dir::State::Lists=$work/lists" -o "Dir::Cache=$work/cache" -o "Dir::Cache::pkgcache=" \
    -o "Dir::Cache::srcpkgcache=" -o APT::Get::List-Cleanup=0 -o Acquire::Languages=none -o APT::Sandbox::User=root
  if ! apt-get -q "$@" update > "$work/update.log" 2>&1; then
    sed 's/^/bake-scan: update /' "$work/update.log" | tail -n 20
    echo 'bake-scan: apt-get update of the security suites failed'
    exit 1
  fi
  # An index apt could not fetch is a suite not asked: the scan would say "nothing pending" without knowing.
  if grep -qE '^(E:|W: Failed to fetch|W: Some index files failed)' "$work/update.log"; then
    grep -E '^(W|E):' "$work/update.log" | sed 's/^/bake-scan: update /' | tail -n 20
    echo 'bake-scan: apt-get update could not read every security suite'
    exit 1
  fi
  grep -E '^(W|E):' "$work/update.log" | sed 's/^/bake-scan: warning /'
  dpkg-query -W -f '${'$'}{db:Status-Abbrev}\t${'$'}{binary:Package}\n' | awk -F '\t' '$1 ~ /^.i/ { print $2 }' > "$work/installed"
  echo 'bake-scan: pending'
  # apt-cache policy: Installed vs Candidate per package; the lists hold only the security suites.
  xargs apt-cache "$@" policy < "$work/installed" | awk '
    /^[^ ]/ { name = $1; sub(/:$/, "", name); installed = ""; next }
    /^  Installed:/ { installed = $2; next }
    /^  Candidate:/ {
      if (installed != "" && installed != "(none)" && $2 != "(none)" && $2 != installed)
        printf "%s\t%s\t%s\n", name, installed, $2
    }'
  echo 'bake-scan: end'
  exit 0
fi

for dnf in dnf yum; do
  if command -v "$dnf" >/dev/null 2>&1 && command -v rpm >/dev/null 2>&1; then
    echo "bake-scan: manager $dnf"
    set --
    if grep -qs 'Amazon Linux 2023' /etc/os-release; then set -- --releasever=latest; fi
    if ! "$dnf" -q -y "$@" --refresh updateinfo list --security > "$work/updateinfo" 2> "$work/updateinfo.err"; then
      sed 's/^/bake-scan: update /' "$work/updateinfo.err" | tail -n 20
      echo "bake-scan: $dnf updateinfo failed"
      exit 1
    fi
    echo 'bake-scan: updateinfo'
    cat "$work/updateinfo"
    echo 'bake-scan: installed'
    rpm -qa --qf '%{NAME}\t%{EPOCHNUM}:%{VERSION}-%{RELEASE}\t%{ARCH}\n'
    echo 'bake-scan: end'
    exit 0
  fi
done
echo 'bake-scan: neither apt nor dnf/yum in this image'
exit ${SCAN_UNSUPPORTED}
`;
