# Sourced by the ensure-*.sh scripts: apt_install NAME HINT PACKAGE [apt-get options...]
# installs a Debian package with apt-get, as root or through passwordless
# sudo. Where it cannot, it prints HINT (what to do instead) or the command
# to run as root, and exits 1.
apt_install() {
	local name=$1 hint=$2 pkg=$3
	shift 3
	echo "$name is not installed: installing Debian's $pkg package with apt-get..." >&2
	if ! command -v apt-get >/dev/null 2>&1; then
		echo "error: apt-get is not available here. $hint" >&2
		exit 1
	fi
	local sudo=()
	if [ "$(id -u)" -ne 0 ]; then
		if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
			sudo=(sudo -n)
		else
			echo "error: installing $name needs root. Run: sudo apt-get update && sudo apt-get install -y $pkg" >&2
			exit 1
		fi
	fi
	export DEBIAN_FRONTEND=noninteractive
	"${sudo[@]}" apt-get update -qq >&2
	"${sudo[@]}" apt-get install -y -qq "$@" "$pkg" >&2
}
