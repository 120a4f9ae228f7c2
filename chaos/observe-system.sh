#!/usr/bin/env bash
# observe-system.sh - snapshot chaoslab on Kubernetes into a timestamped file, to compare before,
# during and after an experiment.
#
# Usage: chaos/observe-system.sh [NAMESPACE] [OUTPUT_DIR]
#   NAMESPACE   default: $CHAOSLAB_NAMESPACE, else chaoslab
#   OUTPUT_DIR  default: the current directory
#   LOG_SINCE   environment: how far back to read logs (default 10m)
#
# Captures: pods (-o wide), restarts, NetworkPolicies (is the partition on?), recent warning
# events, the retry / circuit-breaker / fallback log lines of both services, the client's
# /api/resilience and /api/diagnostics/backend, and the key metrics. The service image has no
# shell and no curl, so HTTP endpoints are read through the API server's service proxy
# (kubectl get --raw .../services/client-service:http/proxy/...). Needs only kubectl.
set -euo pipefail

usage() {
  sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'
}

die() {
  echo "observe-system.sh: $*" >&2
  exit 1
}

case "${1:-}" in
  -h | --help)
    usage
    exit 0
    ;;
esac
if [ "$#" -gt 2 ]; then
  usage >&2
  exit 2
fi

NS="${1:-${CHAOSLAB_NAMESPACE:-chaoslab}}"
OUT_DIR="${2:-.}"
LOG_SINCE="${LOG_SINCE:-10m}"
LOG_PATTERN="Retry 'backendRetry' - Attempt #|CircuitBreaker 'backendCB' changed state|Fallback response due to error|level=(WARN|ERROR)|\"level\":\"(WARN|ERROR)\""
METRIC_PATTERN='^(resilience4j_circuitbreaker_state|resilience4j_circuitbreaker_not_permitted_calls_total|resilience4j_retry_calls_total|resilience4j_circuitbreaker_calls_seconds_count|client_fallback_responses_total|[a-z_]*http[a-z_]*_total)'

command -v kubectl >/dev/null 2>&1 || die "kubectl not found in PATH: install it (https://kubernetes.io/docs/tasks/tools/)"

context="$(kubectl config current-context 2>/dev/null || true)"
if ! kubectl get --raw=/readyz --request-timeout=5s >/dev/null 2>&1; then
  die "no Kubernetes cluster reachable (kubectl context: '${context:-none}'). Start one (kind create cluster --name chaoslab), or point KUBECONFIG / kubectl config use-context at it."
fi
kubectl get namespace "$NS" >/dev/null 2>&1 ||
  die "namespace '$NS' not found in context '$context': deploy first (kubectl apply -k deploy/k8s) or pass the namespace as the first argument."
[ -d "$OUT_DIR" ] || die "output directory '$OUT_DIR' does not exist"

stamp="$(date -u +%Y%m%dT%H%M%SZ)"
out="$OUT_DIR/observation-$NS-$stamp.txt"

section() {
  printf '\n===== %s =====\n' "$*"
}

# proxy_get PATH: GET a client-service endpoint through the API server's service proxy.
proxy_get() {
  kubectl get --raw "/api/v1/namespaces/$NS/services/client-service:http/proxy$1" --request-timeout=20s 2>&1 ||
    echo "(unavailable: GET $1 through the service proxy failed)"
}

# count_msg TEXT LINES: how many of LINES have a log message that starts with TEXT.
count_msg() {
  local text="$1" lines="$2"
  grep -cF -e "msg=\"$text" -e "\"msg\":\"$text" <<<"$lines" || true
}

# service_logs APP: the pattern lines of one service's pods, and how many there are of each kind.
service_logs() {
  local app="$1" lines
  lines="$(kubectl logs -n "$NS" -l "app=$app" --since="$LOG_SINCE" --tail=-1 --prefix --timestamps 2>&1 |
    grep -E "$LOG_PATTERN" || true)"
  # Count by the record's message only (msg="..." in text, "msg":"..." in JSON lines): a fallback's
  # or a retry's error text may itself say "CircuitBreaker 'backendCB' is OPEN ...", which is not a
  # transition.
  printf 'retry attempts: %s   breaker transitions: %s   fallbacks: %s\n' \
    "$(count_msg "Retry 'backendRetry' - Attempt #" "$lines")" \
    "$(count_msg "CircuitBreaker 'backendCB' changed state: " "$lines")" \
    "$(count_msg 'Fallback response due to error: ' "$lines")"
  if [ -n "$lines" ]; then
    echo "$lines"
  else
    echo "(no retry, breaker, fallback, warning or error lines in the last $LOG_SINCE)"
  fi
}

{
  echo "chaoslab observation"
  echo "time (UTC):  $stamp"
  echo "context:     $context"
  echo "namespace:   $NS"
  echo "log window:  $LOG_SINCE"

  section "pods (-o wide)"
  kubectl get pods -n "$NS" -o wide

  section "restarts"
  kubectl get pods -n "$NS" \
    -o custom-columns='POD:.metadata.name,PHASE:.status.phase,READY:.status.containerStatuses[*].ready,RESTARTS:.status.containerStatuses[*].restartCount,LAST-TERMINATION:.status.containerStatuses[*].lastState.terminated.reason'

  section "network policies (chaoslab-partition present = partition on)"
  kubectl get networkpolicy -n "$NS" -o wide 2>&1

  section "warning events (most recent last)"
  kubectl get events -n "$NS" --field-selector type=Warning --sort-by=.lastTimestamp 2>&1 | tail -n 20

  section "client-service log: retries, breaker transitions, fallbacks"
  service_logs client-service

  section "backend-service log: warnings and errors"
  service_logs backend-service

  section "load generator (a line every 10s: requests, backend, fallback, errors, breaker)"
  kubectl logs -n "$NS" -l app=chaoslab-load --since="$LOG_SINCE" --tail=6 2>&1 || true

  section "client-service /api/resilience"
  proxy_get /api/resilience
  echo

  section "client-service /api/diagnostics/backend (fresh connection: reachable=false while partitioned)"
  proxy_get /api/diagnostics/backend
  echo

  section "client-service key metrics"
  proxy_get /metrics | grep -E "$METRIC_PATTERN" || echo "(no matching metrics)"
} >"$out"

echo "observation written to $out"
