# Shared by the iocedge-* packages' maintainer scripts (inlined into each by build-deb.sh; not installed).
# Every path is under "${DPKG_ROOT:-}" so that `dpkg --root=DIR --force-script-chrootless` installs into a scratch root
# (Debian's DPKG_ROOT convention); on a real machine DPKG_ROOT is empty.
R="${DPKG_ROOT:-}"
IOCEDGE_USER=iocedge

# The system user and group iocedge (adduser --system; useradd --prefix for a scratch root), and membership of the
# given groups, each created as a system group when missing.
ensure_user() {
  if [ -z "$R" ]; then
    getent group "$IOCEDGE_USER" >/dev/null || addgroup --system "$IOCEDGE_USER"
    getent passwd "$IOCEDGE_USER" >/dev/null || adduser --system --ingroup "$IOCEDGE_USER" --no-create-home \
      --home /nonexistent --shell /usr/sbin/nologin --gecos "IocEdge services" "$IOCEDGE_USER"
    for g in "$@"; do
      getent group "$g" >/dev/null || addgroup --system "$g"
      adduser "$IOCEDGE_USER" "$g" >/dev/null
    done
  else
    grep -q "^$IOCEDGE_USER:" "$R/etc/group" 2>/dev/null || groupadd --prefix "$R" --system "$IOCEDGE_USER"
    grep -q "^$IOCEDGE_USER:" "$R/etc/passwd" 2>/dev/null || useradd --prefix "$R" --system --gid "$IOCEDGE_USER" \
      --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin --comment "IocEdge services" "$IOCEDGE_USER"
    for g in "$@"; do
      grep -q "^$g:" "$R/etc/group" || groupadd --prefix "$R" --system "$g"
      usermod --prefix "$R" --append --groups "$g" "$IOCEDGE_USER"
    done
  fi
}

# numeric id of the iocedge user/group inside the root (chown by name would look at this machine's /etc/passwd).
uid_of() { awk -F: -v u="$IOCEDGE_USER" '$1 == u { print $3 }' "$R/etc/passwd"; }
gid_of() { awk -F: -v u="$IOCEDGE_USER" '$1 == u { print $3 }' "$R/etc/group"; }

# A data directory owned by iocedge, mode 0750; kept on upgrade and remove, deleted only on purge.
ensure_data_dir() {
  mkdir -p "$R$1"
  chown "$(uid_of):$(gid_of)" "$R$1"
  chmod 0750 "$R$1"
}

# The configuration is readable by the service group only (it holds the MQTT password).
protect_config() {
  [ -f "$R$1" ] || return 0
  chown "root:$(gid_of)" "$R$1"
  chmod 0640 "$R$1"
}

systemd_running() { [ -z "$R" ] && [ -d /run/systemd/system ]; }
