# shellcheck shell=bash
# Real services for end-to-end scripts, on 127.0.0.1 only. Source this file:
#
#   source e2e/lib/services.sh
#   addr=$(start_registry "$tmp/registry" --tls --htpasswd alice:secret)
#   trap 'stop_registry "$tmp/registry"; stop_nginx_cache "$tmp/cache"' EXIT
#   cache=$(start_nginx_cache "$tmp/cache")
#   bazel build --remote_cache="http://$cache" //...
#
# Functions (each prints only its result on stdout; messages go to stderr;
# each returns non-zero with a reason on failure):
#
#   start_registry DIR [--tls] [--htpasswd USER:PASS]
#       Starts Debian's docker-registry (distribution 2.8) in the background,
#       waits until /v2/ answers and prints HOST:PORT. DIR keeps everything:
#         registry.pid   registry.addr  registry.url  registry.log
#         registry.yml   storage/       ca.pem (--tls)  htpasswd (--htpasswd)
#       Started again on the same DIR it reuses the port, storage, HTTP
#       secret and certificates, so "registry down, then back" can be tested.
#   stop_registry DIR
#       SIGTERM, then SIGKILL after 10s; waits until the process is gone.
#       Does nothing (and succeeds) when it is not running.
#   start_nginx_cache DIR
#       Starts nginx as a Bazel HTTP remote cache (GET/PUT under DIR/cache),
#       checks that a PUT and a GET work, and prints HOST:PORT. Also writes
#       nginx.addr, nginx.url, nginx.pid, nginx.conf and logs/.
#   stop_nginx_cache DIR
#       Stops that nginx (master and workers).
#
# Needs: docker-registry, nginx, curl, openssl (--tls), and go: the registry's
# configuration and htpasswd file are written by tools/internal/registryconf,
# the same code the Go tests' registry uses. Install: $SERVICES_INSTALL_HINT

SERVICES_INSTALL_HINT="apt-get update && apt-get install -y docker-registry nginx curl openssl"
_SVC_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)

_svc_err() { echo "services.sh: $*" >&2; }

# _svc_require PROGRAM: fails with an install hint when PROGRAM is missing.
_svc_require() {
	if ! command -v "$1" >/dev/null 2>&1; then
		_svc_err "$1 is not installed; install with: $SERVICES_INSTALL_HINT"
		return 1
	fi
}

# _svc_port_busy PORT: true when something accepts connections on it.
_svc_port_busy() {
	(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# _svc_pick_port: prints a port below the kernel's ephemeral range (so that
# outgoing connections never hold it) that nothing listens on. The caller
# still retries if it is taken before the server binds it.
_svc_pick_port() {
	local low=32768 port i
	if [[ -r /proc/sys/net/ipv4/ip_local_port_range ]]; then
		read -r low _ </proc/sys/net/ipv4/ip_local_port_range
	fi
	((low > 11000)) || low=32768
	for ((i = 0; i < 50; i++)); do
		port=$((10000 + (RANDOM * 32768 + RANDOM) % (low - 10000)))
		if ! _svc_port_busy "$port"; then
			echo "$port"
			return 0
		fi
	done
	_svc_err "no free port found below $low"
	return 1
}

# _svc_alive PID: true while PID runs (a zombie counts as gone).
_svc_alive() {
	local state
	[[ -r "/proc/$1/stat" ]] || return 1
	state=$(sed -E 's/^[0-9]+ \(.*\) ([A-Za-z]).*/\1/' "/proc/$1/stat" 2>/dev/null) || return 1
	[[ -n "$state" && "$state" != Z && "$state" != X ]]
}

# _svc_cmdline_has PID TEXT: true when PID's command line contains TEXT.
_svc_cmdline_has() {
	[[ -r "/proc/$1/cmdline" ]] && tr '\0' ' ' 2>/dev/null <"/proc/$1/cmdline" | grep -qF -- "$2"
}

# _svc_children PID: the pids whose parent is PID, space-separated.
_svc_children() {
	local stat line ppid
	for stat in /proc/[0-9]*/stat; do
		read -r line 2>/dev/null <"$stat" || continue
		line=${line##*) } # after "PID (COMM) ": STATE PPID ...
		read -r _ ppid _ <<<"$line"
		if [[ "$ppid" == "$1" ]]; then
			stat=${stat#/proc/}
			printf '%s ' "${stat%/stat}"
		fi
	done
}

# _svc_kill_wait [--grace SECONDS] PID...: SIGTERM, wait up to SECONDS
# (default 10), then SIGKILL and wait. A SIGKILL after the default grace is
# worth a message; a shorter grace means the caller expects it.
_svc_kill_wait() {
	local grace=10 pid i alive
	if [[ $1 == --grace ]]; then
		grace=$2
		shift 2
	fi
	kill -TERM "$@" 2>/dev/null
	for ((i = 0; i < grace * 20; i++)); do
		alive=0
		for pid in "$@"; do
			_svc_alive "$pid" && alive=1
		done
		((alive)) || return 0
		sleep 0.05
	done
	((grace < 10)) || _svc_err "pids $* still running ${grace}s after SIGTERM; sending SIGKILL"
	kill -KILL "$@" 2>/dev/null
	for ((i = 0; i < 100; i++)); do
		alive=0
		for pid in "$@"; do
			_svc_alive "$pid" && alive=1
		done
		((alive)) || return 0
		sleep 0.05
	done
	_svc_err "pids $* survived SIGKILL"
	return 1
}

# _svc_tail FILE: the end of a log, indented, for error messages.
_svc_tail() {
	if [[ -f "$1" ]]; then
		tail -n 20 "$1" | sed 's/^/    /' >&2
	fi
}

# _svc_make_certs DIR: a test CA and a server certificate for
# 127.0.0.1/localhost (kept if they exist, so clients keep trusting them).
_svc_make_certs() {
	local dir=$1
	[[ -s "$dir/ca.pem" && -s "$dir/server.pem" && -s "$dir/server-key.pem" ]] && return 0
	_svc_require openssl || return 1
	local ext="$dir/server-ext.cnf"
	printf '%s\n' "basicConstraints=critical,CA:FALSE" "keyUsage=critical,digitalSignature" \
		"extendedKeyUsage=serverAuth" "subjectAltName=IP:127.0.0.1,IP:::1,DNS:localhost" >"$ext"
	if ! {
		openssl req -x509 -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
			-keyout "$dir/ca-key.pem" -out "$dir/ca.pem" -days 7 -subj "/CN=rules_repro e2e CA" \
			-addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" &&
			openssl req -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
				-keyout "$dir/server-key.pem" -out "$dir/server.csr" -subj "/CN=localhost" &&
			openssl x509 -req -in "$dir/server.csr" -CA "$dir/ca.pem" -CAkey "$dir/ca-key.pem" \
				-set_serial "0x$(openssl rand -hex 16)" -days 7 -extfile "$ext" -out "$dir/server.pem"
	} >"$dir/openssl.log" 2>&1; then
		_svc_err "creating test certificates failed:"
		_svc_tail "$dir/openssl.log"
		return 1
	fi
	chmod 600 "$dir/ca-key.pem" "$dir/server-key.pem"
}

# _svc_build_registryconf DIR: builds tools/internal/registryconf's command
# into DIR/bin (Go's build cache makes a rebuild cheap).
_svc_build_registryconf() {
	_svc_require go || return 1
	mkdir -p "$1/bin" || return 1
	if ! (cd "$_SVC_ROOT" && go build -o "$1/bin/registryconf" ./tools/internal/registryconf/cmd/registryconf) >"$1/registryconf.build.log" 2>&1; then
		_svc_err "building registryconf failed:"
		_svc_tail "$1/registryconf.build.log"
		return 1
	fi
}

# start_registry DIR [--tls] [--htpasswd USER:PASS]
start_registry() {
	local dir="" tls=0 cred="" arg
	while (($#)); do
		arg=$1
		shift
		case "$arg" in
		--tls) tls=1 ;;
		--htpasswd)
			if [[ $# -eq 0 || "$1" != *:* ]]; then
				_svc_err "start_registry: --htpasswd needs USER:PASS"
				return 2
			fi
			cred=$1
			shift
			;;
		--htpasswd=*) cred=${arg#--htpasswd=} ;;
		-*)
			_svc_err "start_registry: unknown option $arg (usage: start_registry DIR [--tls] [--htpasswd USER:PASS])"
			return 2
			;;
		*)
			if [[ -n "$dir" ]]; then
				_svc_err "start_registry: one DIR only (got $dir and $arg)"
				return 2
			fi
			dir=$arg
			;;
		esac
	done
	if [[ -z "$dir" ]]; then
		_svc_err "usage: start_registry DIR [--tls] [--htpasswd USER:PASS]"
		return 2
	fi
	_svc_require docker-registry || return 1
	_svc_require curl || return 1
	mkdir -p "$dir/storage" || return 1
	dir=$(cd "$dir" && pwd) || return 1
	if [[ -f "$dir/registry.pid" ]] && _svc_alive "$(cat "$dir/registry.pid")"; then
		_svc_err "start_registry: already running in $dir (pid $(cat "$dir/registry.pid")); stop_registry first"
		return 1
	fi

	local scheme=http curl_tls=() conf_args=()
	if ((tls)); then
		_svc_make_certs "$dir" || return 1
		scheme=https
		curl_tls=(--cacert "$dir/ca.pem")
	fi
	if [[ -n "$cred" ]]; then
		# The password goes through a file, not the command line.
		(umask 077 && printf '%s' "${cred#*:}" >"$dir/htpasswd.pass") || return 1
		conf_args+=(-htpasswd "$dir/htpasswd" -user "${cred%%:*}" -password-file "$dir/htpasswd.pass")
	fi
	if ((tls)); then
		conf_args+=(-tls-cert "$dir/server.pem" -tls-key "$dir/server-key.pem")
	fi
	_svc_build_registryconf "$dir" || return 1
	[[ -s "$dir/registry.secret" ]] || head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$dir/registry.secret"

	# Reuse the port of an earlier start in this DIR; else pick one.
	local port="" reuse=0 attempt pid code
	if [[ -s "$dir/registry.addr" ]]; then
		port=$(sed 's/.*://' "$dir/registry.addr")
		reuse=1
	fi
	for ((attempt = 0; attempt < 5; attempt++)); do
		if ((!reuse)); then
			port=$(_svc_pick_port) || return 1
		elif _svc_port_busy "$port"; then
			_svc_err "start_registry: port $port of the earlier start in $dir is taken by another process"
			return 1
		fi
		if ! "$dir/bin/registryconf" -out "$dir/registry.yml" -addr "127.0.0.1:$port" \
			-storage "$dir/storage" -secret "$(cat "$dir/registry.secret")" -delete \
			-service e2e-registry "${conf_args[@]}" 2>"$dir/registryconf.err"; then
			_svc_err "writing the registry configuration failed: $(cat "$dir/registryconf.err")"
			return 1
		fi
		echo "=== services.sh: docker-registry serve $dir/registry.yml at $(date -u +%FT%TZ)" >>"$dir/registry.log"
		# env -u: REGISTRY_* variables would override the configuration.
		local unset_env=() v
		for v in $(compgen -e); do
			[[ "$v" == REGISTRY_* ]] && unset_env+=(-u "$v")
		done
		env "${unset_env[@]}" docker-registry serve "$dir/registry.yml" </dev/null >>"$dir/registry.log" 2>&1 &
		pid=$!
		echo "$pid" >"$dir/registry.pid"
		local i
		for ((i = 0; i < 400; i++)); do
			if ! _svc_alive "$pid"; then
				break
			fi
			code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "${curl_tls[@]}" "$scheme://127.0.0.1:$port/v2/") || code=000
			if [[ "$code" == 200 || "$code" == 401 ]]; then
				rm -f "$dir/htpasswd.pass"
				echo "127.0.0.1:$port" >"$dir/registry.addr"
				echo "$scheme://127.0.0.1:$port" >"$dir/registry.url"
				echo "127.0.0.1:$port"
				return 0
			fi
			sleep 0.05
		done
		if _svc_alive "$pid"; then
			_svc_kill_wait "$pid"
			_svc_err "docker-registry did not answer $scheme://127.0.0.1:$port/v2/ within 20s (last status $code); log $dir/registry.log ends with:"
			_svc_tail "$dir/registry.log"
			rm -f "$dir/registry.pid"
			return 1
		fi
		rm -f "$dir/registry.pid"
		if ((!reuse)) && tail -n 5 "$dir/registry.log" | grep -q 'address already in use'; then
			continue # lost the race for the port: pick another
		fi
		_svc_err "docker-registry exited during start; log $dir/registry.log ends with:"
		_svc_tail "$dir/registry.log"
		return 1
	done
	_svc_err "start_registry: no port found after $attempt attempts"
	return 1
}

# stop_registry DIR
stop_registry() {
	local dir=${1:?usage: stop_registry DIR} pid
	[[ -f "$dir/registry.pid" ]] || return 0
	pid=$(cat "$dir/registry.pid")
	if _svc_alive "$pid" && _svc_cmdline_has "$pid" "$dir/registry.yml"; then
		_svc_kill_wait "$pid" || return 1
	elif _svc_alive "$pid"; then
		_svc_err "stop_registry: pid $pid is not the docker-registry of $dir; leaving it alone"
	fi
	rm -f "$dir/registry.pid"
}

# start_nginx_cache DIR
start_nginx_cache() {
	local dir=${1:?usage: start_nginx_cache DIR}
	local nginx
	nginx=$(command -v nginx || { [[ -x /usr/sbin/nginx ]] && echo /usr/sbin/nginx; }) || true
	if [[ -z "$nginx" ]]; then
		_svc_err "nginx is not installed; install with: $SERVICES_INSTALL_HINT"
		return 1
	fi
	_svc_require curl || return 1
	mkdir -p "$dir/cache" "$dir/tmp" "$dir/logs" || return 1
	dir=$(cd "$dir" && pwd) || return 1
	if [[ -f "$dir/nginx.pid" ]] && _svc_alive "$(cat "$dir/nginx.pid")"; then
		_svc_err "start_nginx_cache: already running in $dir (pid $(cat "$dir/nginx.pid")); stop_nginx_cache first"
		return 1
	fi
	local user_line="" port attempt
	# As root, workers would run as nobody and could not write the cache.
	((EUID == 0)) && user_line="user root;"
	for ((attempt = 0; attempt < 5; attempt++)); do
		port=$(_svc_pick_port) || return 1
		cat >"$dir/nginx.conf" <<EOF
# Generated by e2e/lib/services.sh: a Bazel HTTP remote cache.
daemon on;
worker_processes 1;
pid "$dir/nginx.pid";
error_log "$dir/logs/error.log" info;
$user_line
events {
    worker_connections 256;
}
http {
    access_log "$dir/logs/access.log";
    client_body_temp_path "$dir/tmp/client_body";
    proxy_temp_path "$dir/tmp/proxy";
    fastcgi_temp_path "$dir/tmp/fastcgi";
    uwsgi_temp_path "$dir/tmp/uwsgi";
    scgi_temp_path "$dir/tmp/scgi";
    default_type application/octet-stream;
    sendfile on;
    server {
        listen 127.0.0.1:$port;
        server_name localhost;
        root "$dir/cache";
        client_max_body_size 0;
        location / {
            dav_methods PUT;
            create_full_put_path on;
            dav_access user:rw group:rw all:r;
        }
    }
}
EOF
		# With "daemon on" nginx returns once it has bound the port (or
		# failed to), with the master's pid in nginx.pid.
		if "$nginx" -p "$dir" -c "$dir/nginx.conf" -e "$dir/logs/startup.log" >"$dir/logs/startup.out" 2>&1; then
			break
		fi
		if grep -q 'Address already in use' "$dir/logs/startup.out"; then
			continue
		fi
		_svc_err "nginx failed to start:"
		_svc_tail "$dir/logs/startup.out"
		return 1
	done
	if ((attempt == 5)); then
		_svc_err "start_nginx_cache: no port found after 5 attempts"
		return 1
	fi
	local url="http://127.0.0.1:$port" probe code i
	probe="probe-$$-$RANDOM"
	for ((i = 0; i < 100; i++)); do
		code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 -X PUT --data-binary "$probe" "$url/.services-probe/$probe") || code=000
		[[ "$code" == 000 ]] || break
		sleep 0.05
	done
	if [[ "$code" != 201 && "$code" != 204 ]] || [[ "$(curl -s --max-time 2 "$url/.services-probe/$probe")" != "$probe" ]]; then
		_svc_err "nginx cache at $url does not store files (PUT answered $code); $dir/logs/error.log ends with:"
		_svc_tail "$dir/logs/error.log"
		stop_nginx_cache "$dir"
		return 1
	fi
	rm -rf "$dir/cache/.services-probe"
	echo "127.0.0.1:$port" >"$dir/nginx.addr"
	echo "$url" >"$dir/nginx.url"
	echo "127.0.0.1:$port"
}

# stop_nginx_cache DIR
stop_nginx_cache() {
	local dir=${1:?usage: stop_nginx_cache DIR} pid workers
	[[ -f "$dir/nginx.pid" ]] || return 0
	pid=$(cat "$dir/nginx.pid")
	if ! _svc_alive "$pid"; then
		rm -f "$dir/nginx.pid"
		return 0
	fi
	if ! _svc_cmdline_has "$pid" "$dir/nginx.conf"; then
		_svc_err "stop_nginx_cache: pid $pid is not the nginx of $dir; leaving it alone"
		return 1
	fi
	# The master stops its workers on SIGTERM; wait for them too.
	workers=$(_svc_children "$pid")
	# shellcheck disable=SC2086 # word splitting of the worker pids is intended
	_svc_kill_wait "$pid" $workers || return 1
	rm -f "$dir/nginx.pid"
}
