#!/usr/bin/env bash
# A single-node Kubernetes on this machine, for the kubernetes runtime's tests:
#
#   ci/kube.sh build   build the five Kubernetes binaries (once per version, cached outside
#                      the repo) and the node's pause image
#   ci/kube.sh up      build, then start etcd, a containerd of its own, kube-apiserver,
#                      kube-controller-manager, kube-scheduler, kubelet and kube-proxy, and
#                      wait (bounded) until a pod can run; prints the env file to source
#   ci/kube.sh down    stop it all and undo every change to the host, then compare the
#                      host's rules, links, routes, mounts and cgroups with the snapshot
#                      `up` took: any difference fails, listed
#   ci/kube.sh status  says whether the cluster is up
#
# The facts behind each setting are in docs/kubernetes.md. It needs root (the node's
# network and containerd), Debian's containerd, runc and containernetworking-plugins
# (installed here when missing), and the etcd `make build` puts in bin/. Everything lives
# under $FAULTLINE_KUBE_DIR (default /tmp/faultline-kube); the cluster's node address is
# 10.244.77.1 on a bridge of its own, and no traffic leaves the machine.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
VERSION=v1.33.13
CACHE=${FAULTLINE_KUBE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/faultline/kubernetes/$VERSION}
D=${FAULTLINE_KUBE_DIR:-/tmp/faultline-kube}
BRIDGE=flkube0
NODE_IP=10.244.77.1
POD_CIDR=10.244.77.0/24
SERVICE_CIDR=10.96.0.0/16
API_PORT=16443
ETCD_PORT=12379
NODE=faultline-node
PAUSE_IMAGE=registry.k8s.io/pause:3.10
KUBE_BINS="kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy"
# Paths the kubelet, CNI and containerd use whatever they are told: removed at down when
# up found them absent.
HOST_PATHS="/var/lib/kubelet /var/log/containers /var/log/pods /var/lib/cni /run/containerd/runc/k8s.io /tmp/hostpath-provisioner /var/run/netns"
BOUND=${FAULTLINE_KUBE_UP_TIMEOUT:-120}

log() { echo "kube: $*" >&2; }
die() { echo "kube: $*" >&2; exit 1; }

build() {
  mkdir -p "$CACHE"
  local missing="" b
  for b in $KUBE_BINS; do [ -x "$CACHE/$b" ] || missing="$missing $b"; done
  if [ -n "$missing" ]; then
    log "building$missing $VERSION into $CACHE (about 6 minutes on 2 cores with an empty Go build cache, seconds after)"
    local began=$SECONDS pkgs=""
    for b in $missing; do pkgs="$pkgs k8s.io/kubernetes/cmd/$b"; done
    local tmp
    tmp=$(mktemp -d "$CACHE/build.XXXXXX")
    # shellcheck disable=SC2086 # one word per package
    # At the lowest CPU priority: make test runs it beside suites whose bounds need the CPU.
    (cd ci/kube/build && CGO_ENABLED=0 nice -n 19 go build -tags tools -trimpath \
      -ldflags "-s -w -X k8s.io/component-base/version.gitVersion=$VERSION -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=33" \
      -o "$tmp/" $pkgs)
    for b in $missing; do mv "$tmp/$b" "$CACHE/$b"; done
    rmdir "$tmp"
    log "built in $((SECONDS - began)) s"
  fi
  mkdir -p "$CACHE/node"
  CGO_ENABLED=0 go build -trimpath -o "$CACHE/node/pause" ./ci/kube/pause
  go run ./ci/kube/mkimage -name "$PAUSE_IMAGE" -binary "$CACHE/node/pause" -path /pause -o "$CACHE/node/pause.tar"
}

packages() {
  local want=""
  command -v containerd >/dev/null 2>&1 || want="$want containerd"
  command -v runc >/dev/null 2>&1 || want="$want runc"
  [ -x /usr/lib/cni/bridge ] || want="$want containernetworking-plugins"
  command -v nft >/dev/null 2>&1 || want="$want nftables"
  command -v conntrack >/dev/null 2>&1 || want="$want conntrack"
  command -v openssl >/dev/null 2>&1 || want="$want openssl"
  if [ -n "$want" ]; then
    log "installing$want (waiting for any other apt-get to finish)"
    # shellcheck disable=SC2086 # one word per package
    DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 update -qq && DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq $want >/dev/null
  fi
}

# snapshot prints the host state the cluster may touch, with Docker's own changes (its
# containers come and go beside the tests) left out, so that up's and down's compare.
snapshot() {
  echo "## links"
  ip -o link show | awk -F': ' '{print $2}' | sed 's/@.*//' | grep -Ev '^(veth|br-|docker)' | sort
  echo "## addresses"
  ip -o addr show | awk '{print $2, $3, $4}' | grep -Ev '^(veth|br-|docker)' | sort
  echo "## routes"
  ip route show | grep -Ev 'dev (br-|docker)' | sort
  echo "## iptables"
  iptables -S 2>/dev/null | grep -Ev 'DOCKER|docker0|br-' | sort
  iptables -t nat -S 2>/dev/null | grep -Ev 'DOCKER|docker0|br-' | sort
  echo "## nftables"
  nft list tables 2>/dev/null | sort
  echo "## sysctls"
  echo "net.ipv4.conf.all.send_redirects=$(sysctl -n net.ipv4.conf.all.send_redirects)"
  echo "## mounts"
  findmnt -rn -o TARGET | grep -Ev '^/(var/lib/docker|run/docker)' | sort
  echo "## cgroups"
  find /sys/fs/cgroup -mindepth 1 -maxdepth 3 -type d 2>/dev/null | grep -Ev '/docker(/|$)' | sort
  echo "## paths"
  local p
  for p in $HOST_PATHS; do [ -e "$p" ] && echo "$p"; done
  return 0
}

certs() {
  local pki=$D/pki
  mkdir -p "$pki"
  key() { openssl ecparam -name prime256v1 -genkey -noout -out "$pki/$1.key" 2>/dev/null; }
  key ca
  openssl req -x509 -new -key "$pki/ca.key" -subj /CN=faultline-kube-ca -days 2 -out "$pki/ca.crt" 2>/dev/null
  sign() { # sign NAME SUBJECT [SANS]
    key "$1"
    openssl req -new -key "$pki/$1.key" -subj "$2" -out "$pki/$1.csr" 2>/dev/null
    local ext="$pki/$1.ext"
    { echo "basicConstraints=CA:FALSE"; echo "keyUsage=digitalSignature,keyEncipherment"
      echo "extendedKeyUsage=serverAuth,clientAuth"; [ -z "${3:-}" ] || echo "subjectAltName=$3"; } >"$ext"
    openssl x509 -req -in "$pki/$1.csr" -CA "$pki/ca.crt" -CAkey "$pki/ca.key" -CAcreateserial -days 2 -extfile "$ext" -out "$pki/$1.crt" 2>/dev/null
  }
  sign apiserver /CN=kube-apiserver "IP:$NODE_IP,IP:127.0.0.1,IP:10.96.0.1,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:localhost"
  sign admin "/O=system:masters/CN=faultline-admin"
  sign kubelet "/CN=$NODE" "IP:$NODE_IP,DNS:$NODE"
  key sa
  openssl ec -in "$pki/sa.key" -pubout -out "$pki/sa.pub" 2>/dev/null
  cat >"$D/kubeconfig" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: faultline
  cluster: {server: "https://$NODE_IP:$API_PORT", certificate-authority: "$pki/ca.crt"}
users:
- name: admin
  user: {client-certificate: "$pki/admin.crt", client-key: "$pki/admin.key"}
contexts:
- name: faultline
  context: {cluster: faultline, user: admin}
current-context: faultline
EOF
}

# start NAME COMMAND...: a daemon in a session of its own, logging to $D/logs/NAME.log
start() {
  local name=$1; shift
  setsid "$@" >"$D/logs/$name.log" 2>&1 </dev/null &
  echo $! >"$D/pids/$name"
}

# within SECONDS WHAT COMMAND...: retry COMMAND until it succeeds, or fail naming WHAT
within() {
  local bound=$1 what=$2 began=$SECONDS; shift 2
  until "$@" >/dev/null 2>&1; do
    if [ $((SECONDS - began)) -ge "$bound" ]; then
      log "$what: not within $bound s; the logs in $D/logs say why:"
      tail -n 6 "$D"/logs/*.log >&2 || true
      return 1
    fi
    sleep 0.3
  done
}

kubectl_get() { curl -sf --cacert "$D/pki/ca.crt" --cert "$D/pki/admin.crt" --key "$D/pki/admin.key" "https://$NODE_IP:$API_PORT$1"; }

up() {
  # One cluster per machine (its ports and subnet are fixed): what a killed run left is
  # torn down first.
  if [ -d "$D" ]; then log "a cluster's leftovers are under $D: tearing them down first"; down || true; fi
  packages
  build
  local etcd=${FAULTLINE_ETCD:-$ROOT/bin/etcd}
  [ -x "$etcd" ] || die "no etcd at $etcd: run make build (it builds bin/etcd)"
  local began=$SECONDS
  mkdir -p "$D"/{logs,pids,state,cni/net.d,cni/ipam,containerd,kubelet}
  snapshot >"$D/state/before"
  for p in $HOST_PATHS; do [ -e "$p" ] || echo "$p" >>"$D/state/created-paths"; done
  trap 'log "up failed: tearing down"; down || true; exit 1' ERR

  # The node's network: a bridge the run owns, the service range routed to it, and one
  # FORWARD rule for pod-to-pod traffic (Docker's FORWARD policy is DROP).
  ip link add "$BRIDGE" type bridge
  ip addr add "$NODE_IP/24" dev "$BRIDGE"
  ip link set "$BRIDGE" up
  ip route add "$SERVICE_CIDR" dev "$BRIDGE"
  iptables -I FORWARD 1 -i "$BRIDGE" -o "$BRIDGE" -j ACCEPT
  echo 1 >"$D/state/forward-rule"
  # No ICMP redirects from the node (down restores the host's setting). A pod's connection
  # to a ClusterIP is routed back out the bridge it came in on, so the kernel sent the pod
  # a redirect for it, and redirects spend the per-host budget that ICMP errors share
  # (nstat IcmpOutRateLimitHost): the reject kube-proxy answers a Service with no ready
  # endpoint never reached the pod, whose connect hung for up to two minutes instead of
  # being refused at once, and Toxiproxy, which dials upstream inside its accept loop,
  # held the whole link meanwhile.
  sysctl -n net.ipv4.conf.all.send_redirects >"$D/state/send-redirects"
  sysctl -qw net.ipv4.conf.all.send_redirects=0 "net.ipv4.conf.$BRIDGE.send_redirects=0"

  cat >"$D/cni/net.d/10-faultline.conflist" <<EOF
{"cniVersion": "1.0.0", "name": "faultline", "plugins": [
  {"type": "bridge", "bridge": "$BRIDGE", "isGateway": true, "ipMasq": false, "hairpinMode": true,
   "ipam": {"type": "host-local", "ranges": [[{"subnet": "$POD_CIDR", "gateway": "$NODE_IP"}]], "routes": [{"dst": "0.0.0.0/0"}], "dataDir": "$D/cni/ipam"}}]}
EOF
  cat >"$D/containerd/config.toml" <<EOF
version = 2
root = "$D/containerd/root"
state = "$D/containerd/state"
[grpc]
  address = "$D/containerd.sock"
[ttrpc]
  address = "$D/containerd.sock.ttrpc"
[plugins."io.containerd.internal.v1.opt"]
  path = "$D/containerd/opt"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$PAUSE_IMAGE"
  restrict_oom_score_adj = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$D/cni/net.d"
  [plugins."io.containerd.grpc.v1.cri".containerd]
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        Root = "$D/runc"
EOF
  start containerd containerd --config "$D/containerd/config.toml"
  within 20 "containerd answers" ctr --address "$D/containerd.sock" version
  ctr --address "$D/containerd.sock" -n k8s.io images import "$CACHE/node/pause.tar" >/dev/null

  certs
  start etcd "$etcd" --name kube --data-dir "$D/etcd" --listen-client-urls "http://127.0.0.1:$ETCD_PORT" \
    --advertise-client-urls "http://127.0.0.1:$ETCD_PORT" --listen-peer-urls "http://127.0.0.1:$((ETCD_PORT + 1))" \
    --initial-advertise-peer-urls "http://127.0.0.1:$((ETCD_PORT + 1))" --initial-cluster "kube=http://127.0.0.1:$((ETCD_PORT + 1))" \
    --unsafe-no-fsync --log-level warn
  local pki=$D/pki
  start kube-apiserver "$CACHE/kube-apiserver" --etcd-servers "http://127.0.0.1:$ETCD_PORT" \
    --bind-address "$NODE_IP" --advertise-address "$NODE_IP" --secure-port "$API_PORT" \
    --service-cluster-ip-range "$SERVICE_CIDR" --authorization-mode RBAC --allow-privileged=true \
    --client-ca-file "$pki/ca.crt" --tls-cert-file "$pki/apiserver.crt" --tls-private-key-file "$pki/apiserver.key" \
    --kubelet-client-certificate "$pki/admin.crt" --kubelet-client-key "$pki/admin.key" \
    --kubelet-preferred-address-types InternalIP \
    --service-account-key-file "$pki/sa.pub" --service-account-signing-key-file "$pki/sa.key" \
    --service-account-issuer https://kubernetes.default.svc --profiling=false
  within 60 "kube-apiserver /readyz" kubectl_get /readyz
  start kube-controller-manager "$CACHE/kube-controller-manager" --kubeconfig "$D/kubeconfig" --leader-elect=false \
    --bind-address 127.0.0.1 --secure-port 10357 --service-account-private-key-file "$pki/sa.key" \
    --root-ca-file "$pki/ca.crt" --enable-hostpath-provisioner --profiling=false
  start kube-scheduler "$CACHE/kube-scheduler" --kubeconfig "$D/kubeconfig" --leader-elect=false \
    --bind-address 127.0.0.1 --secure-port 10359 --profiling=false
  cat >"$D/kubelet/config.yaml" <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: $NODE_IP
port: 10250
healthzBindAddress: 127.0.0.1
healthzPort: 10348
readOnlyPort: 0
cgroupDriver: cgroupfs
failSwapOn: false
failCgroupV1: false
makeIPTablesUtilChains: false
containerRuntimeEndpoint: unix://$D/containerd.sock
podLogsDir: $D/pod-logs
tlsCertFile: $pki/kubelet.crt
tlsPrivateKeyFile: $pki/kubelet.key
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: false}
  x509: {clientCAFile: $pki/ca.crt}
authorization: {mode: AlwaysAllow}
evictionHard: {memory.available: "100Mi", nodefs.available: "1%", imagefs.available: "1%"}
imageGCHighThresholdPercent: 100
serializeImagePulls: false
EOF
  start kubelet "$CACHE/kubelet" --config "$D/kubelet/config.yaml" --kubeconfig "$D/kubeconfig" \
    --root-dir "$D/kubelet/root" --cert-dir "$D/kubelet/pki" --hostname-override "$NODE" --node-ip "$NODE_IP"
  cat >"$D/kube-proxy.yaml" <<EOF
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
mode: nftables
clientConnection: {kubeconfig: $D/kubeconfig}
hostnameOverride: $NODE
clusterCIDR: $POD_CIDR
nodePortAddresses: ["$NODE_IP/32"]
bindAddress: 127.0.0.1
healthzBindAddress: 127.0.0.1:10356
metricsBindAddress: 127.0.0.1:10349
conntrack: {maxPerCore: 0, min: 0}
nftables: {minSyncPeriod: 0s, syncPeriod: 30s}
EOF
  start kube-proxy "$CACHE/kube-proxy" --config "$D/kube-proxy.yaml"
  within "$BOUND" "node $NODE Ready" node_ready
  within "$BOUND" "the default ServiceAccount (pods admitted)" kubectl_get /api/v1/namespaces/default/serviceaccounts/default
  kubectl_post /apis/storage.k8s.io/v1/storageclasses '{"apiVersion":"storage.k8s.io/v1","kind":"StorageClass","metadata":{"name":"hostpath","annotations":{"storageclass.kubernetes.io/is-default-class":"true"}},"provisioner":"kubernetes.io/host-path","reclaimPolicy":"Delete","volumeBindingMode":"Immediate"}' >/dev/null
  trap - ERR
  cat >"$D/env" <<EOF
export KUBECONFIG=$D/kubeconfig
export FAULTLINE_KUBE_IMPORT="ctr --address $D/containerd.sock -n k8s.io images import -"
EOF
  log "up in $((SECONDS - began)) s: source $D/env (KUBECONFIG, FAULTLINE_KUBE_IMPORT)"
  echo "$D/env"
}

kubectl_post() { curl -sf --cacert "$D/pki/ca.crt" --cert "$D/pki/admin.crt" --key "$D/pki/admin.key" -H 'Content-Type: application/json' -X POST --data "$2" "https://$NODE_IP:$API_PORT$1"; }

node_ready() { kubectl_get "/api/v1/nodes/$NODE" | tr -d ' \n' | grep -q '"type":"Ready","status":"True"'; }

# down_quiet stops everything and undoes the host changes; it never fails half-way.
down_quiet() {
  set +e
  local p name pid
  # The kubelet and the control plane first, so that nothing restarts a pod.
  for name in kubelet kube-proxy kube-scheduler kube-controller-manager kube-apiserver etcd; do
    p=$D/pids/$name
    [ -f "$p" ] && kill -KILL -- "-$(cat "$p")" 2>/dev/null
  done
  # Every pod's processes: the shims of our containerd (their -address names its socket).
  for pid in $(pgrep -f "containerd-shim-runc-v2 .*-address $D/containerd.sock" 2>/dev/null); do
    kill -KILL -- "-$pid" 2>/dev/null; kill -KILL "$pid" 2>/dev/null
  done
  p=$D/pids/containerd
  [ -f "$p" ] && kill -KILL -- "-$(cat "$p")" 2>/dev/null
  sleep 0.2
  for pid in $(pgrep -f "containerd-shim-runc-v2 .*-address $D/containerd.sock" 2>/dev/null); do kill -KILL "$pid" 2>/dev/null; done
  # Processes left in the pods' cgroups (a pod's children outlive their shim).
  local cg
  for cg in $(find /sys/fs/cgroup -type d -name 'kubepods*' 2>/dev/null); do
    find "$cg" -name cgroup.procs -exec cat {} + 2>/dev/null | xargs -r kill -KILL 2>/dev/null
  done
  sleep 0.2
  # Mounts under the run's directory and the host paths, deepest first.
  findmnt -rn -o TARGET | grep -E "^($D|/var/lib/kubelet|/run/netns|/var/run/netns|/run/containerd/runc/k8s.io)" | sort -r | while read -r m; do umount -l "$m" 2>/dev/null; done
  # kubepods cgroups, deepest first, in every hierarchy.
  find /sys/fs/cgroup -depth -type d -name '*' -path '*kubepods*' 2>/dev/null | while read -r c; do rmdir "$c" 2>/dev/null; done
  nft delete table ip kube-proxy 2>/dev/null
  nft delete table ip6 kube-proxy 2>/dev/null
  if [ -f "$D/state/forward-rule" ]; then iptables -D FORWARD -i "$BRIDGE" -o "$BRIDGE" -j ACCEPT 2>/dev/null; fi
  if [ -s "$D/state/send-redirects" ]; then sysctl -qw "net.ipv4.conf.all.send_redirects=$(cat "$D/state/send-redirects")"; fi
  ip route del "$SERVICE_CIDR" dev "$BRIDGE" 2>/dev/null
  for v in $(ip -o link show master "$BRIDGE" 2>/dev/null | awk -F': ' '{print $2}' | sed 's/@.*//'); do ip link del "$v" 2>/dev/null; done
  ip link del "$BRIDGE" 2>/dev/null
  if [ -f "$D/state/created-paths" ]; then
    while read -r p; do rm -rf "$p"; done <"$D/state/created-paths"
  fi
  set -e
}

down() {
  [ -d "$D" ] || { log "nothing under $D: no cluster to tear down"; return 0; }
  local began=$SECONDS
  down_quiet
  local status=0
  if [ -f "$D/state/before" ]; then
    snapshot >"$D/state/after"
    if ! diff -u "$D/state/before" "$D/state/after" >"$D/state/diff"; then
      log "the host is not as up found it (- before, + after):"
      grep '^[-+][^-+]' "$D/state/diff" >&2
      status=1
    fi
  fi
  [ "$status" = 0 ] && rm -rf "$D"
  log "down in $((SECONDS - began)) s"
  return $status
}

status() {
  if [ -f "$D/pids/kubelet" ] && node_ready; then echo "up: source $D/env"; else echo "down"; return 1; fi
}

# Root is needed for the node's bridge, containerd and kubelet: sudo where it asks for no
# password, else a clear refusal.
if [ "$(id -u)" != 0 ] && [ "${1:-}" != build ]; then
  if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    exec sudo -n --preserve-env=PATH,HOME,GOPATH,GOCACHE,GOMODCACHE,FAULTLINE_KUBE_DIR,FAULTLINE_KUBE_CACHE,FAULTLINE_ETCD bash "$0" "$@"
  fi
  die "$1 needs root (the node's bridge, containerd and kubelet), and sudo asks for a password: run it as root"
fi

case "${1:-}" in
  build) build ;;
  up) up ;;
  down) down ;;
  status) status ;;
  snapshot) snapshot ;;
  *) die "usage: ci/kube.sh build|up|down|status" ;;
esac
